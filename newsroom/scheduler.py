"""The periodic jobs of `manage.py run_scheduler`, run at the start of every minute.

The jobs are management commands listed in settings.NEWSROOM_PERIODIC_JOBS
(publish_scheduled first of all), so each can be run by hand or from cron as
well. A job that fails is logged and the others go on; the next minute tries
it again. Jobs must be safe to run twice at once (publish_scheduled records
each issue exactly once), so one scheduler per server, or several, is fine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command, get_commands
from django.db import close_old_connections

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    command: str
    args: tuple[str, ...] = ()
    every_minutes: int = 1  # counted from midnight UTC: 1440 runs it at 00:00 UTC

    def is_due(self, minute: datetime) -> bool:
        return int(minute.timestamp() // 60) % self.every_minutes == 0

    def __str__(self) -> str:
        return " ".join((self.command, *self.args))


def configured_jobs() -> list[Job]:
    """settings.NEWSROOM_PERIODIC_JOBS, checked: a typo stops the scheduler at start."""
    known = get_commands()
    jobs = []
    for entry in settings.NEWSROOM_PERIODIC_JOBS:
        job = Job(
            command=entry["command"],
            args=tuple(entry.get("args", ())),
            every_minutes=entry.get("every_minutes", 1),
        )
        if job.command not in known:
            raise ImproperlyConfigured(
                f"NEWSROOM_PERIODIC_JOBS names {job.command!r}, which is not a management "
                "command of this project."
            )
        if not isinstance(job.every_minutes, int) or job.every_minutes < 1:
            raise ImproperlyConfigured(
                f"NEWSROOM_PERIODIC_JOBS: every_minutes of {job.command!r} must be a whole "
                f"number of minutes, 1 or more, not {job.every_minutes!r}."
            )
        jobs.append(job)
    return jobs


MINUTE_NS = 60 * 10**9


def start_of_minute(at_ns: int) -> int:
    return at_ns - at_ns % MINUTE_NS


class Scheduler:
    """Runs the due jobs at the start of each minute until stop is set.

    clock and wait are the real ones in production; tests move a fake clock
    through wait instead of sleeping. The clock counts whole nanoseconds: a
    float of seconds can round up to a minute the system clock (and so
    timezone.now()) has not reached yet."""

    def __init__(
        self,
        jobs: list[Job],
        stdout,
        stderr,
        stop: threading.Event,
        clock: Callable[[], int] = time.time_ns,
        wait: Callable[[float], object] | None = None,
        verbosity: int = 1,
    ):
        self.jobs = jobs
        self.verbosity = verbosity
        self.stdout, self.stderr = stdout, stderr
        self.stop = stop
        self.clock = clock
        self.wait = wait or stop.wait

    def run(self) -> None:
        # A pass at once, so whatever fell due while no scheduler ran is done
        # now rather than at the next minute.
        minute = start_of_minute(self.clock())
        while not self.stop.is_set():
            self.run_due(datetime.fromtimestamp(minute // 10**9, UTC))
            minute = self._sleep_past(minute)

    def _sleep_past(self, minute: int) -> int:
        """Wait until the start of the next minute (or later, when a pass ran
        long) and return it. A wait may end a little early; it never runs a
        minute's jobs before that minute has begun."""
        target = max(minute + MINUTE_NS, start_of_minute(self.clock()))
        while not self.stop.is_set():
            left = target - self.clock()
            if left <= 0:
                break
            self.wait(left / 10**9)
        return target

    def run_due(self, minute: datetime) -> None:
        for job in self.jobs:
            if self.stop.is_set():
                return
            if job.is_due(minute):
                self.run_job(job)

    def run_job(self, job: Job) -> None:
        # A connection the database closed while this process waited is
        # replaced before the job, and none is held between minutes.
        close_old_connections()
        try:
            call_command(
                job.command,
                *job.args,
                stdout=self.stdout,
                stderr=self.stderr,
                verbosity=self.verbosity,
            )
        except Exception:
            # The next minute retries; readers see due issues meanwhile
            # through the published gate.
            logger.exception("Periodic job %r failed; it runs again next time it is due", str(job))
            self.stderr.write(f"{job} failed; see the log. It runs again next time it is due.")
        finally:
            close_old_connections()
