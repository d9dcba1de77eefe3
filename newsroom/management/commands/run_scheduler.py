"""Run the periodic jobs (publish_scheduled, ...) at the start of every minute.

See newsroom/scheduler.py. SIGTERM or SIGINT (Ctrl-C) lets the job in
progress finish, then exits with status 0 without waiting for the next minute.
"""

import signal
import threading

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from newsroom.scheduler import Scheduler, configured_jobs


class Command(BaseCommand):
    help = (
        "Run the periodic jobs of NEWSROOM_PERIODIC_JOBS (publishing scheduled issues first "
        "of all) at the start of every minute, until SIGTERM or SIGINT."
    )

    def handle(self, *args, verbosity=1, **options):
        try:
            jobs = configured_jobs()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        stop = threading.Event()

        def request_stop(signum, frame):
            # Only note it: a job in progress runs to its end.
            stop.set()

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        if verbosity >= 1:
            listed = "; ".join(
                str(job) if job.every_minutes == 1 else f"{job} (every {job.every_minutes} min)"
                for job in jobs
            )
            self.stdout.write(
                f"Running at the start of every minute: {listed}. Stop with SIGTERM or Ctrl-C."
            )
        try:
            # -v 2 reaches the jobs too: publish_scheduled then says when nothing was due.
            Scheduler(jobs, self.stdout, self.stderr, stop, verbosity=verbosity).run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if verbosity >= 1:
            self.stdout.write("Scheduler stopped.")
