"""`manage.py run_scheduler`: the periodic jobs at the start of every minute,
through failures, with several schedulers at once."""

import signal
import sqlite3
import sys
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import OperationalError

from newsroom.scheduler import Job, Scheduler, configured_jobs
from stories.management.commands import publish_scheduled
from stories.models import AuditEntry, Issue
from tests.factories import scheduled_issue
from tests.process_helpers import Running, manage, project_environment, wait_until

START = datetime(2025, 6, 1, 10, 0, 30, tzinfo=UTC)


class Clock:
    """Drives a Scheduler through time-machine: each wait moves the clock on
    instead of sleeping, and the run stops after `minutes` minutes."""

    def __init__(self, traveller, minutes: int, early_by: float = 0.0):
        self.traveller = traveller
        self.stop = threading.Event()
        self.end = START.timestamp() + minutes * 60
        self.early_by = early_by  # a wait that ends this much before its time
        self.waits: list[float] = []

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.traveller.shift(max(seconds - self.early_by, 0.001))
        self.early_by = 0.0  # only the first wait is early
        if datetime.now(UTC).timestamp() > self.end:
            self.stop.set()


def run_scheduler(clock: Clock, jobs=None) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    jobs = configured_jobs() if jobs is None else jobs
    Scheduler(jobs, out, err, clock.stop, wait=clock.wait).run()
    return out.getvalue(), err.getvalue()


# The scheduler checks its connection around each job, as it would after a
# minute's sleep, and Django closes one it finds inside a transaction it did
# not start: these tests commit for real.


@pytest.fixture(autouse=True)
def _publishing_only(settings):
    settings.NEWSROOM_PERIODIC_JOBS = [{"command": "publish_scheduled"}]


def publications(issue) -> int:
    return AuditEntry.objects.filter(issue=issue, action="published").count()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("editorial_groups")
def test_a_scheduled_issue_is_recorded_published_at_the_start_of_its_minute():
    with time_machine.travel(START, tick=False) as traveller:
        issue = scheduled_issue(1, in_minutes=1, headline="On the minute")  # 10:01
        clock = Clock(traveller, minutes=2)
        out, err = run_scheduler(clock)

    issue.refresh_from_db()
    assert issue.publish_at == datetime(2025, 6, 1, 10, 1, tzinfo=UTC)
    assert issue.status == Issue.Status.PUBLISHED
    assert issue.published_at == issue.publish_at  # not a second late
    assert f"Published issue #{issue.number} “On the minute”" in out
    assert err == ""
    # From 10:00:30: half a minute to 10:01, then a whole one to 10:02.
    assert clock.waits[:2] == [30, 60]
    assert publications(issue) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("editorial_groups")
def test_a_wait_that_ends_early_never_runs_a_minute_before_it_begins():
    with time_machine.travel(START, tick=False) as traveller:
        issue = scheduled_issue(1, in_minutes=1)
        clock = Clock(traveller, minutes=2, early_by=0.01)
        run_scheduler(clock)

    issue.refresh_from_db()
    assert issue.published_at == issue.publish_at
    assert clock.waits[:2] == [30, pytest.approx(0.01)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("editorial_groups")
def test_the_first_pass_runs_at_start_for_what_fell_due_while_no_scheduler_ran():
    with time_machine.travel(START - timedelta(minutes=30), tick=False):
        missed = scheduled_issue(1, in_minutes=5)
    with time_machine.travel(START, tick=False) as traveller:
        run_scheduler(Clock(traveller, minutes=0))

    missed.refresh_from_db()
    assert missed.status == Issue.Status.PUBLISHED
    assert missed.published_at == START


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("editorial_groups")
def test_a_failed_pass_is_logged_and_the_next_minute_records_the_issue(monkeypatch, caplog):
    real = publish_scheduled.publish_due_issues
    calls = []

    def database_restarting():
        calls.append(datetime.now(UTC))
        if len(calls) == 2:  # the pass at 10:01
            raise OperationalError("server closed the connection unexpectedly")
        return real()

    monkeypatch.setattr(publish_scheduled, "publish_due_issues", database_restarting)
    with time_machine.travel(START, tick=False) as traveller:
        issue = scheduled_issue(1, in_minutes=1)
        out, err = run_scheduler(Clock(traveller, minutes=3))

    issue.refresh_from_db()
    assert issue.status == Issue.Status.PUBLISHED
    assert issue.published_at == datetime(2025, 6, 1, 10, 2, tzinfo=UTC)
    assert "publish_scheduled failed; see the log. It runs again next time it is due." in err
    assert "server closed the connection unexpectedly" in caplog.text
    assert len(calls) == 4  # 10:00, 10:01 (failed), 10:02, 10:03: the loop went on


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("editorial_groups")
def test_a_failing_job_does_not_keep_the_next_one_from_running(settings):
    settings.NEWSROOM_PERIODIC_JOBS = [
        {"command": "publish_scheduled", "args": ["--every", "0"]},  # refused every time
        {"command": "publish_scheduled"},
    ]
    with time_machine.travel(START, tick=False) as traveller:
        issue = scheduled_issue(1, in_minutes=1)
        out, err = run_scheduler(Clock(traveller, minutes=1))

    issue.refresh_from_db()
    assert issue.published_at == issue.publish_at
    assert err.count("publish_scheduled --every 0 failed") == 2


def test_a_job_runs_on_the_minutes_its_interval_divides_counted_from_midnight_utc():
    daily = Job("prune_db_task_results", every_minutes=24 * 60)
    hourly = Job("report", every_minutes=60)
    midnight = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)

    assert daily.is_due(midnight)
    assert not daily.is_due(midnight + timedelta(minutes=1))
    assert not daily.is_due(midnight - timedelta(minutes=1))
    assert [m for m in range(180) if hourly.is_due(midnight + timedelta(minutes=m))] == [0, 60, 120]


@pytest.mark.parametrize(
    "entry, sentence",
    [
        (
            {"command": "publish_schedule"},
            "NEWSROOM_PERIODIC_JOBS names 'publish_schedule', which is not a management "
            "command of this project.",
        ),
        (
            {"command": "publish_scheduled", "every_minutes": 0},
            "NEWSROOM_PERIODIC_JOBS: every_minutes of 'publish_scheduled' must be a whole "
            "number of minutes, 1 or more, not 0.",
        ),
    ],
)
def test_a_mistyped_job_stops_the_scheduler_at_start_with_a_sentence(settings, entry, sentence):
    settings.NEWSROOM_PERIODIC_JOBS = [entry]
    with pytest.raises(CommandError) as refused:
        call_command("run_scheduler")
    assert str(refused.value) == sentence


def test_two_schedulers_at_once_record_a_due_issue_exactly_once(sqlite_file):
    url = f"sqlite:///{sqlite_file}"
    # An issue whose minute came three minutes ago, while no scheduler ran.
    make_due = (
        "from datetime import timedelta; from django.utils import timezone\n"
        "from stories.models import Issue; from tests.factories import scheduled_issue\n"
        "issue = scheduled_issue(2, in_minutes=2)\n"
        "Issue.objects.filter(pk=issue.pk).update(\n"
        "    publish_at=(timezone.now() - timedelta(minutes=3)).replace(second=0, microsecond=0)\n"
        ")\n"
        "print(issue.number)"
    )
    created = manage("shell", "-v", "0", "-c", make_due, DATABASE_URL=url)
    assert created.returncode == 0, created.stderr
    number = created.stdout.strip()

    env = project_environment(DATABASE_URL=url, NEWSROOM_LOG_FORMAT="plain")
    schedulers = [
        Running([sys.executable, "manage.py", "run_scheduler", "-v", "2"], env=env)
        for _ in range(2)
    ]
    try:
        # Both ran their first pass: one recorded the issue, the other found nothing due.
        for scheduler in schedulers:
            wait_until(
                lambda s=scheduler: (
                    "Published issue #" in s.output or "No scheduled issue was due." in s.output
                ),
                90,
                f"a scheduler never finished its first pass: {scheduler.output}",
            )
    finally:
        statuses = [scheduler.stop(signal.SIGTERM, timeout=60) for scheduler in schedulers]

    outputs = [scheduler.output for scheduler in schedulers]
    assert statuses == [0, 0], outputs
    assert all(output.endswith("Scheduler stopped.") for output in outputs)
    assert sum(f"Published issue #{number}" in output for output in outputs) == 1
    with sqlite3.connect(sqlite_file) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM stories_auditentry JOIN stories_issue "
            "ON stories_auditentry.issue_id = stories_issue.id "
            "WHERE stories_issue.number = ? AND action = 'published'",
            [number],
        ).fetchone()
    assert count == 1
