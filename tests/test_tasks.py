"""Background work on Django's tasks API: the database backend and its workers
by default, tasks run at once in the tests unless a test asks for the queue."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from newsroom.tasks import TaskResultStatus, default_task_backend, task
from tests.process_helpers import ROOT, manage, project_environment, setting

TASK_TABLE = "django_tasks_database_dbtaskresult"


@task()
def add(a: int, b: int) -> int:
    return a + b


@task()
def note_run(path: str, number: int) -> None:
    """Append this run to a file: which task, in which worker process."""
    time.sleep(0.01)  # long enough for the two workers' claims to overlap
    with open(path, "a") as runs:
        runs.write(f"{number} {os.getpid()}\n")


def test_the_database_backend_is_the_default_and_immediate_can_be_chosen():
    assert setting("TASKS") == {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    immediate = setting("TASKS", NEWSROOM_TASKS_BACKEND="immediate")
    assert immediate["default"]["BACKEND"].endswith(".backends.immediate.ImmediateBackend")


def test_an_unknown_task_backend_stops_start_up_with_a_sentence():
    assert setting("TASKS", NEWSROOM_TASKS_BACKEND="celery") == (
        "django.core.exceptions.ImproperlyConfigured: NEWSROOM_TASKS_BACKEND must be one of "
        "database, immediate, not 'celery'."
    )


def test_in_tests_a_task_runs_where_it_is_enqueued():
    result = add.enqueue(2, 3)

    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5


# Committed for real: the worker checks its connection between tasks, and
# Django closes one it finds inside a transaction it did not start.
@pytest.mark.django_db(transaction=True)
@pytest.mark.database_tasks
def test_a_queued_task_waits_as_a_row_until_a_worker_runs_it():
    from django_tasks_db.models import DBTaskResult

    result = add.enqueue(20, 22)

    row = DBTaskResult.objects.get(pk=result.id)
    assert row.status == TaskResultStatus.READY
    assert row.task_path == "tests.test_tasks.add"

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    finally:  # the worker installs its own handlers for a graceful stop
        for sig, handler in handlers.items():
            signal.signal(sig, handler)

    finished = default_task_backend.get_result(result.id)
    assert finished.status == TaskResultStatus.SUCCESSFUL
    assert finished.return_value == 42


def run_two_workers(database_url: str) -> None:
    env = project_environment(DATABASE_URL=database_url)
    argv = [sys.executable, "manage.py", "run_worker", "--batch", "--no-startup-delay"]
    workers = [
        subprocess.Popen(
            [*argv, "--no-reload", "--worker-id", f"worker-{n}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in (1, 2)
    ]
    for worker in workers:
        output, _ = worker.communicate(timeout=180)
        assert worker.returncode == 0, output


def assert_each_ran_once(runs: Path, count: int) -> None:
    lines = runs.read_text().split()
    numbers = sorted(int(n) for n in lines[0::2])
    assert numbers == list(range(count))  # every task once, none twice


TASKS = 30


def test_two_workers_on_one_sqlite_file_run_each_task_exactly_once(sqlite_file, tmp_path):
    runs = tmp_path / "runs.txt"
    url = f"sqlite:///{sqlite_file}"
    enqueue = (
        "from tests.test_tasks import note_run\n"
        f"for n in range({TASKS}): note_run.enqueue({str(runs)!r}, n)"
    )
    result = manage("shell", "-c", enqueue, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr

    run_two_workers(url)

    assert_each_ran_once(runs, TASKS)
    with sqlite3.connect(sqlite_file) as db:
        statuses = db.execute(f"SELECT status, COUNT(*) FROM {TASK_TABLE} GROUP BY status")
        assert list(statuses) == [("SUCCESSFUL", TASKS)]


@pytest.mark.postgres
@pytest.mark.database_tasks
def test_two_workers_on_postgres_run_each_task_exactly_once(
    on_postgres, transactional_db, tmp_path
):
    from django_tasks_db.models import DBTaskResult

    runs = tmp_path / "runs.txt"
    for n in range(TASKS):
        note_run.enqueue(str(runs), n)
    db = on_postgres.settings_dict
    login = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    url = f"postgres://{login}@{db['HOST']}:{db['PORT']}/{db['NAME']}"

    run_two_workers(url)

    assert_each_ran_once(runs, TASKS)
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


@task()
def report_priority() -> int:
    """The CPU niceness of the process that runs this task."""
    return os.getpriority(os.PRIO_PROCESS, 0)


def test_run_worker_runs_tasks_behind_the_web_server_for_the_cpu(sqlite_file):
    url = f"sqlite:///{sqlite_file}"
    enqueue = "from tests.test_tasks import report_priority\nprint(report_priority.enqueue().id)"
    queued = manage("shell", "-c", enqueue, DATABASE_URL=url)
    assert queued.returncode == 0, queued.stderr
    own = os.getpriority(os.PRIO_PROCESS, 0)

    worker = subprocess.run(
        [sys.executable, "manage.py", "run_worker", "--batch", "--no-startup-delay", "--no-reload"],
        cwd=ROOT,
        env=project_environment(DATABASE_URL=url, NEWSROOM_WORKER_NICENESS="7"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert worker.returncode == 0, worker.stderr
    with sqlite3.connect(sqlite_file) as db:
        (value,) = db.execute(f"SELECT return_value FROM {TASK_TABLE}").fetchone()
    assert int(value) == min(own + 7, 19)


def test_a_worker_that_may_not_lower_its_priority_says_so_and_runs(monkeypatch):
    from newsroom.management.commands import run_worker

    def refused(step):
        raise PermissionError("Operation not permitted")

    monkeypatch.setattr(run_worker.os, "nice", refused)
    monkeypatch.setattr(run_worker, "AUTOGROUP", "/nonexistent/autogroup")

    assert run_worker.lower_cpu_priority(10) == [
        "could not lower the worker's CPU priority: Operation not permitted"
    ]
    assert run_worker.lower_cpu_priority(0) == []


def test_a_reloading_worker_lowers_its_priority_once_not_again_in_its_child(monkeypatch):
    from newsroom.management.commands import run_worker

    steps = []
    monkeypatch.setattr(run_worker, "lower_cpu_priority", lambda n: steps.append(n) or [])
    monkeypatch.setattr(run_worker.db_worker.Command, "handle", lambda self, *a, **o: None)
    monkeypatch.setenv(run_worker.LOWERED, "")  # put back as it was afterwards

    run_worker.Command().handle()  # the reloader's parent
    run_worker.Command().handle()  # its child, which inherits the environment

    assert steps == [10]
