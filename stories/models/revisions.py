from django.conf import settings
from django.db import models

from stories.timebounds import in_range, validate_time


class StoryRevision(models.Model):
    """A snapshot of a story's editable fields, kept on every save."""

    story = models.ForeignKey("stories.Story", on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, validators=[validate_time])
    status = models.CharField(max_length=20, blank=True)
    data = models.JSONField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["story", "number"], name="unique_revision_number"),
            in_range("created_at"),
        ]

    def __str__(self) -> str:
        return f"Revision {self.number} of {self.story}"
