"""Start the mail of issues that have gone live, and keep sends moving.

Run by the scheduler every minute, right after publish_scheduled (or from
cron on any number of servers: a send is started once, whoever runs it).
Each pass:
- starts a send for every live issue of the last NEWSROOM_MAIL_WINDOW_HOURS
  that has none (web-only issues have one already), fixing its audience;
- takes back copies a killed worker held past their lease;
- queues batch tasks again for sends whose due copies nobody is working on,
  and marks finished the sends with nothing left.
"""

import logging

from django.core.management.base import BaseCommand
from django.utils import timezone

from newsletters.delivery import sending

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Start the mail of issues that went live, and resume sends whose workers stopped."

    def handle(self, *args, verbosity=1, **options):
        now = timezone.now()
        for issue in sending.issues_due_for_mail(now).select_related("newsletter"):
            try:
                send = sending.start_send(issue, now=now)
            except sending.WorkflowError as error:
                self.stderr.write(f"Issue #{issue.number} “{issue.headline}”: {error}")
                continue
            if send is None:
                continue  # another server started it
            if send.state == send.State.SENDING:
                self.stdout.write(
                    f"Mailing issue #{issue.number} “{issue.headline}” of "
                    f"{issue.newsletter.name} to {send.audience_size} subscribers."
                )
            else:
                self.stdout.write(
                    f"Issue #{issue.number} “{issue.headline}” did not start mailing: {send.reason}"
                )
        released = sending.release_stale_claims(now)
        if released:
            self.stdout.write(f"Took back {released} copies held past their lease.")
        for send_id in sending.kick_stalled_sends(now):
            if verbosity >= 1:
                self.stdout.write(f"Queued the work of send {send_id} again.")
