import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from stories.timebounds import in_range, validate_time


class PreviewLinkQuerySet(models.QuerySet):
    def revoke(self) -> int:
        """Stop the links still unrevoked at once, keeping when those already
        revoked were; returns how many this stopped."""
        return self.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


class PreviewLink(models.Model):
    """A secret, expiring address where a reviewer without an account can read
    an unpublished story or issue."""

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    story = models.ForeignKey(
        "stories.Story",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="preview_links",
    )
    issue = models.ForeignKey(
        "stories.Issue",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="preview_links",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, validators=[validate_time])
    expires_at = models.DateTimeField(validators=[validate_time])
    revoked_at = models.DateTimeField(null=True, blank=True, validators=[validate_time])

    objects = PreviewLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(story__isnull=False, issue__isnull=True)
                | Q(story__isnull=True, issue__isnull=False),
                name="preview_link_has_one_target",
            ),
            *(in_range(name) for name in ("created_at", "expires_at", "revoked_at")),
        ]

    def __str__(self) -> str:
        return f"Preview of {self.story or self.issue}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
