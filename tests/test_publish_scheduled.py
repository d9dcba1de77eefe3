"""`manage.py publish_scheduled`: one pass, the loop, and exactly-once under concurrency."""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from stories.editorial import workflow
from stories.management.commands import publish_scheduled
from stories.models import AuditEntry, Issue, Story
from tests.factories import scheduled_issue

PROJECT = Path(__file__).resolve().parent.parent


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("publish_scheduled", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def publications(issue) -> int:
    return AuditEntry.objects.filter(issue=issue, action="published").count()


# -- one pass ----------------------------------------------------------------


@pytest.mark.django_db
def test_one_pass_records_due_issues_and_says_which():
    due = scheduled_issue(2, in_minutes=5, headline="Due now")
    later = scheduled_issue(1, in_minutes=60)
    with time_machine.travel(due.publish_at + timedelta(seconds=12), tick=False):
        out, _ = run()
    assert f"Published issue #{due.number} “Due now”" in out
    assert "(recorded 12 s later)" in out
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == Issue.Status.PUBLISHED
    assert due.published_at == due.publish_at + timedelta(seconds=12)
    assert set(due.stories.values_list("status", flat=True)) == {Story.Status.PUBLISHED}
    assert later.status == Issue.Status.SCHEDULED
    entry = AuditEntry.objects.get(issue=due, action="published")
    assert entry.actor is None and entry.from_status == "scheduled"
    assert AuditEntry.objects.filter(story__in=due.stories.all(), action="published").count() == 2


@pytest.mark.django_db
def test_a_pass_that_records_an_issue_clears_the_page_cache(django_capture_on_commit_callbacks):
    from stories.publishing.cache import content_generation

    due = scheduled_issue(1, in_minutes=5)
    before = content_generation()
    with time_machine.travel(due.publish_at + timedelta(seconds=3), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            run()
        assert content_generation() > before
        after_recording = content_generation()
        with django_capture_on_commit_callbacks(execute=True):
            run()  # nothing left to record
    assert content_generation() == after_recording


@pytest.mark.django_db
def test_a_second_pass_records_nothing_more():
    issue = scheduled_issue(1, in_minutes=5)
    with time_machine.travel(issue.publish_at + timedelta(minutes=1), tick=False):
        first, _ = run()
        second, _ = run()
        chatty, _ = run("-v", "2")
    assert f"#{issue.number}" in first
    assert second == ""  # quiet when nothing happened, so cron sends no mail
    assert chatty == "No scheduled issue was due.\n"
    assert publications(issue) == 1


@pytest.mark.django_db
def test_a_runner_that_read_a_due_issue_before_another_recorded_it_does_nothing():
    # SQLite has no row locks: two runners can both read the issue as scheduled.
    # The status-guarded UPDATE lets only the first one record it.
    issue = scheduled_issue(1, in_minutes=5)
    with time_machine.travel(issue.publish_at + timedelta(minutes=1), tick=False):
        stale = Issue.objects.get(pk=issue.pk)
        assert stale.status == Issue.Status.SCHEDULED
        assert workflow.publish_due_issues().published == [issue.number]
        with mock.patch.object(workflow, "_next_due_issue", side_effect=[stale, None]):
            late_runner = workflow.publish_due_issues()
    assert late_runner.published == []
    assert publications(issue) == 1
    assert AuditEntry.objects.filter(story__in=issue.stories.all(), action="published").count() == 1


# -- exactly once with concurrent runners (PostgreSQL) -----------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("editorial_groups")
def test_two_concurrent_runners_record_each_issue_exactly_once(on_postgres):
    issues = [scheduled_issue(1, in_minutes=5) for _ in range(6)]
    due = issues[-1].publish_at + timedelta(minutes=1)
    # Each runner holds its first issue until the other holds one too: they
    # overlap for certain, and only SKIP LOCKED lets the second one get past
    # the first one's lock (without it the barrier times out and fails).
    both_holding = threading.Barrier(2, timeout=10)
    real_mark_published = workflow._mark_published
    first_call = threading.local()

    def mark_published_in_step(*args, **kwargs):
        if not getattr(first_call, "done", False):
            first_call.done = True
            both_holding.wait()
        return real_mark_published(*args, **kwargs)

    results, errors = {}, []

    def runner(name):
        try:
            results[name] = workflow.publish_due_issues(now=due).published
        except Exception as error:  # reported below; a thread cannot fail the test
            errors.append(error)
        finally:
            connection.close()

    with mock.patch.object(workflow, "_mark_published", mark_published_in_step):
        threads = [threading.Thread(target=runner, args=(n,)) for n in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert not errors
    assert results["a"] and results["b"]  # both did real work
    assert not set(results["a"]) & set(results["b"])
    assert sorted(results["a"] + results["b"]) == sorted(i.number for i in issues)
    for issue in issues:
        assert publications(issue) == 1
        issue.refresh_from_db()
        assert issue.status == Issue.Status.PUBLISHED


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("editorial_groups")
def test_two_commands_started_together_record_one_publication(on_postgres):
    issues = [scheduled_issue(1, in_minutes=1) for _ in range(3)]
    # The commands run on the real clock; move the issues' minute into the past
    # directly, as if the time had come while the servers were busy.
    Issue.objects.filter(pk__in=[i.pk for i in issues]).update(
        publish_at=issues[0].publish_at - timedelta(hours=1)
    )
    env = {**os.environ, "DATABASE_URL": _database_url()}
    command = [sys.executable, "manage.py", "publish_scheduled"]
    processes = [
        subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    for issue in issues:
        assert publications(issue) == 1
        assert sum(out.count(f"Published issue #{issue.number} ") for out in outputs) == 1


# -- the loop ----------------------------------------------------------------


class InstantEvent(threading.Event):
    """An Event whose wait returns at once, so the loop turns without real sleeping."""

    def wait(self, timeout=None):
        return self.is_set()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("editorial_groups")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_loop_finishes_the_pass_in_progress_when_told_to_stop(signum):
    issue = scheduled_issue(1, in_minutes=5)
    passes = []

    def pass_interrupted_midway(now=None):
        passes.append(now)
        signal.raise_signal(signum)  # arrives before this pass has recorded anything
        return workflow.publish_due_issues(now)

    with (
        time_machine.travel(issue.publish_at + timedelta(minutes=1), tick=False),
        mock.patch.object(publish_scheduled, "publish_due_issues", pass_interrupted_midway),
    ):
        out, _ = run("--every", "30")
    assert len(passes) == 1
    assert f"Published issue #{issue.number}" in out
    assert out.rstrip().endswith("Stopped.")
    assert publications(issue) == 1
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers put back


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("editorial_groups")
def test_loop_keeps_going_after_a_failed_pass():
    issue = scheduled_issue(1, in_minutes=5)
    calls = []

    def flaky_pass(now=None):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("connection reset by peer")
        signal.raise_signal(signal.SIGTERM)
        return workflow.publish_due_issues(now)

    with (
        time_machine.travel(issue.publish_at + timedelta(minutes=1), tick=False),
        mock.patch.object(publish_scheduled, "publish_due_issues", flaky_pass),
        mock.patch.object(publish_scheduled.threading, "Event", InstantEvent),
    ):
        out, err = run("--every", "30")
    assert len(calls) == 2
    assert "A pass failed" in err
    assert f"Published issue #{issue.number}" in out
    assert publications(issue) == 1


def test_loop_needs_a_positive_interval():
    with pytest.raises(CommandError, match="1 or more"):
        run("--every", "0")


def test_loop_process_exits_cleanly_on_sigterm_without_waiting_out_its_interval(tmp_path):
    # A real process against a throwaway SQLite database. The signal lands in
    # the first pass or in the hour's wait after it; either way the process
    # must end at once, with success.
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'loop.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=PROJECT, env=env, check=True)
    process = subprocess.Popen(
        [*manage, "publish_scheduled", "--every", "3600"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().startswith("Publishing due issues every 3600 s")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out.strip() == "Stopped."
