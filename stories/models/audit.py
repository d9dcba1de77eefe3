from django.conf import settings
from django.db import models

from stories.timebounds import in_range, validate_time


class AuditAction(models.TextChoices):
    """What an audit entry records, with the label the admin shows for it."""

    SUBMITTED = "submitted", "Submitted for review"
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    WITHDRAWN = "withdrawn", "Withdrawn"
    REINSTATED = "reinstated", "Reinstated"
    PUBLISHED = "published", "Published"
    SCHEDULED = "scheduled", "Scheduled"
    RESCHEDULED = "rescheduled", "Rescheduled"
    UNSCHEDULED = "unscheduled", "Unscheduled"

    @classmethod
    def label_of(cls, action: str) -> str:
        """The label of a stored action, including one this code no longer writes."""
        try:
            return cls(action).label
        except ValueError:
            return action.replace("_", " ").capitalize()

    @classmethod
    def told(cls, action: str) -> str:
        """How a sentence tells a stored action: "Ann approved it"."""
        return AUDIT_SENTENCES.get(action, action.replace("_", " "))


# How a sentence about a story or an issue tells each action.
AUDIT_SENTENCES = {
    AuditAction.SUBMITTED: "submitted it for review",
    AuditAction.APPROVED: "approved it",
    AuditAction.CHANGES_REQUESTED: "requested changes",
    AuditAction.WITHDRAWN: "withdrew it",
    AuditAction.REINSTATED: "reinstated it",
    AuditAction.PUBLISHED: "published it",
    AuditAction.SCHEDULED: "scheduled it",
    AuditAction.RESCHEDULED: "rescheduled it",
    AuditAction.UNSCHEDULED: "unscheduled it",
}


class AuditEntry(models.Model):
    Action = AuditAction

    """One thing that happened to a story or an issue: who, what, when and why.

    Rows are only ever added (by stories/editorial/workflow.py); the admin shows them
    read-only. Foreign keys are nullable so the trail outlives what it is about.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=40, db_index=True)
    story = models.ForeignKey(
        "stories.Story",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    issue = models.ForeignKey(
        "stories.Issue",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    object_repr = models.CharField(max_length=300)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, validators=[validate_time])

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit trail"
        ordering = ["-created_at", "-pk"]
        constraints = [in_range("created_at")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_repr}"
