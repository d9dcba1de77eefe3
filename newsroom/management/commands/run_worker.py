"""Run queued background tasks, behind the web server for the CPU.

The same worker as django-tasks' `db_worker` (every option of it works here),
started at a lower CPU priority: NEWSROOM_WORKER_NICENESS, 10 by default, 0
to leave it as it is. Sending an issue is minutes of CPU work (a copy of the
mail per reader, the SMTP handoff); where workers share a machine with the
web server, readers' pages should come first, so the send slows down a
little instead of the site.

On Linux every session is scheduled as a group of its own ("autogroup"), and
a process's nice value only weighs inside its group: a worker started in a
session of its own (by a process manager, a container, `make run`) lowers its
group's priority too, or its niceness would change nothing.
"""

import os

from django.conf import settings
from django_tasks_db.management.commands import db_worker

AUTOGROUP = "/proc/self/autogroup"
# Set once this process has lowered its priority, for the processes it starts.
LOWERED = "NEWSROOM_WORKER_PRIORITY_LOWERED"


def lower_cpu_priority(niceness: int) -> list[str]:
    """Make this process (and its session's group, where the kernel groups
    sessions) niceness steps nicer; what could not be done, in sentences.
    Only ever lowers priority, which needs no privilege."""
    problems = []
    if niceness <= 0:
        return problems
    try:
        os.nice(niceness)
    except (AttributeError, OSError) as error:  # AttributeError: not a Unix
        problems.append(f"could not lower the worker's CPU priority: {error}")
    if os.path.exists(AUTOGROUP):
        try:
            with open(AUTOGROUP, "w") as group:
                group.write(str(niceness))
        except OSError as error:
            problems.append(f"could not lower the worker's session group priority: {error}")
    return problems


class Command(db_worker.Command):
    help = (
        "Run queued background tasks (django-tasks' db_worker, same options) at "
        "NEWSROOM_WORKER_NICENESS lower CPU priority, so the web server comes first."
    )

    def handle(self, *args, **options):
        # With --reload (the default under DEBUG) this runs again in the child
        # the reloader starts, which inherits the lowered priority already.
        if os.environ.get(LOWERED) != "true":
            for problem in lower_cpu_priority(settings.NEWSROOM_WORKER_NICENESS):
                self.stderr.write(f"{problem}; running at normal priority.")
            os.environ[LOWERED] = "true"
        return super().handle(*args, **options)
