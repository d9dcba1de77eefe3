"""Audit rows for what happens to an issue's mail, in the issue's trail
beside its editorial history (stories.models.AuditEntry)."""

from stories.models import AuditEntry, Issue


def record(
    actor, action: str, issue: Issue, comment: str = "", from_status: str = "", to_status: str = ""
) -> AuditEntry:
    """Add one row to issue's audit trail; actor None means the system did it."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action[:40],
        issue=issue,
        object_repr=str(issue)[:300],
        from_status=from_status[:20],
        to_status=to_status[:20],
        comment=comment,
    )
