"""Delete old story revisions, keeping each story's latest ones and every
revision readers saw published."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from stories import timebounds
from stories.editorial.revisions import prune_revisions


class Command(BaseCommand):
    help = (
        "Delete old story revisions. Always kept: each story's latest revisions "
        "(--keep-latest), the revision that was live when the story was published, "
        "and every revision saved while it was published."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--keep-latest",
            type=int,
            default=10,
            help="How many of each story's newest revisions to keep (default 10, at least 1).",
        )
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=30,
            help="Only delete revisions older than this many days (default 30; 0 for any age).",
        )

    def handle(self, *args, keep_latest, older_than_days, **options):
        if keep_latest < 1:
            raise CommandError(
                "--keep-latest must be at least 1: a story keeps its latest revision."
            )
        if older_than_days < 0:
            raise CommandError("--older-than-days cannot be negative.")
        now = timezone.now()
        # Nothing is older than the earliest time the newsroom holds.
        furthest = (now - timebounds.EARLIEST).days
        if older_than_days > furthest:
            raise CommandError(
                f"--older-than-days can be at most {furthest}, which reaches back to "
                f"{timebounds.EARLIEST.day} {timebounds.EARLIEST:%B %Y}: no revision is older."
            )
        cutoff = now - timedelta(days=older_than_days) if older_than_days else None
        deleted = prune_revisions(keep_latest=keep_latest, older_than=cutoff)
        self.stdout.write(f"Deleted {deleted} revision{'s' if deleted != 1 else ''}.")
