"""Record the publication of scheduled issues whose minute has come.

Readers see a due issue without this command (the published gate compares with
the clock); it stamps the issue and its stories published, writes the audit
trail and clears the page cache. Run it from cron every minute on every
server, or as one long-lived loop with --every: concurrent runs record each
issue exactly once.
"""

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from stories import clock
from stories.editorial.workflow import PublishRun, WorkflowError, publish_due_issues

logger = logging.getLogger(__name__)

# The longest pause between passes: scheduled issues are live on their minute
# anyway, and a longer one is a typo (past a few centuries, one Python cannot wait).
MAX_EVERY = 24 * 60 * 60


class Command(BaseCommand):
    help = (
        "Record the publication of scheduled issues that are due. One pass by default; "
        "--every N repeats a pass every N seconds until SIGTERM or SIGINT, which lets "
        "the pass in progress finish."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=int,
            metavar="SECONDS",
            help=f"Keep running, starting a pass every SECONDS (1 to {MAX_EVERY}).",
        )

    def handle(self, *args, every=None, verbosity=1, **options):
        self.verbosity = verbosity
        if every is None:
            try:
                self._report(publish_due_issues())
            except WorkflowError as error:
                raise CommandError(str(error)) from error
            return
        if not 1 <= every <= MAX_EVERY:
            raise CommandError(
                f"--every needs a whole number of seconds, 1 or more and at most {MAX_EVERY} "
                "(a day)."
            )
        self._loop(every)

    def _loop(self, every: int) -> None:
        stop = threading.Event()

        def request_stop(signum, frame):
            # Only note the request: a pass in progress runs to its end, so
            # no issue is left half recorded.
            stop.set()

        signals = (signal.SIGTERM, signal.SIGINT)
        previous = {sig: signal.signal(sig, request_stop) for sig in signals}
        if self.verbosity >= 1:
            self.stdout.write(
                f"Publishing due issues every {every} s, times in "
                f"{clock.zone_description()}. Stop with SIGTERM or Ctrl-C."
            )
        try:
            while not stop.is_set():
                self._pass()
                stop.wait(every)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.verbosity >= 1:
            self.stdout.write("Stopped.")

    def _pass(self) -> None:
        # Drop connections the database closed or that outlived CONN_MAX_AGE
        # while this process slept.
        close_old_connections()
        try:
            self._report(publish_due_issues())
        except Exception:
            # A database hiccup must not end the loop; the next pass retries,
            # and readers see due issues meanwhile through the published gate.
            logger.exception("A publish_scheduled pass failed; retrying on the next one")
            self.stderr.write("A pass failed; see the log. Retrying on the next pass.")
        finally:
            close_old_connections()

    def _report(self, run: PublishRun) -> None:
        for issue in run.issues:
            lateness = int((issue.published_at - issue.publish_at).total_seconds())
            self.stdout.write(
                f"Published issue #{issue.number} “{issue.headline}”, scheduled for "
                f"{clock.format_time(issue.publish_at)} (recorded {lateness} s later)."
            )
        if not run.issues and self.verbosity >= 2:
            self.stdout.write("No scheduled issue was due.")
