"""A CSV import of subscribers: what was uploaded, its preview, and its progress."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImportStatus(models.TextChoices):
    PREVIEWED = "previewed", "Previewed, waiting for a go-ahead"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class SubscriberImport(models.Model):
    """One uploaded file. The file's text is kept only until the import has run:
    the subscribers it made are the record, and a copy of a list is a liability."""

    Status = ImportStatus

    newsletter = models.ForeignKey(
        "stories.Newsletter", on_delete=models.PROTECT, related_name="imports"
    )
    file_name = models.CharField(max_length=255)
    data = models.TextField(editable=False)
    consent_basis = models.TextField(
        help_text="How these people agreed to get this newsletter, in words an auditor "
        "would accept; kept with every subscription the import makes."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=20, choices=ImportStatus.choices, default=ImportStatus.PREVIEWED
    )
    total_rows = models.PositiveIntegerField(default=0)
    # Rows already written, committed with the rows themselves, so an import
    # resumed after a crash starts where it stopped and counts nothing twice.
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField("new subscriptions", default=0)
    merged_count = models.PositiveIntegerField("already on the list", default=0)
    duplicate_count = models.PositiveIntegerField("repeated in the file", default=0)
    suppressed_count = models.PositiveIntegerField("suppressed, skipped", default=0)
    unsubscribed_count = models.PositiveIntegerField("unsubscribed earlier, kept out", default=0)
    error_count = models.PositiveIntegerField("rows with errors", default=0)
    errors = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "subscriber import"

    def __str__(self) -> str:
        return f"{self.file_name} into {self.newsletter}"

    @property
    def percent_done(self) -> int:
        if not self.total_rows:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))
