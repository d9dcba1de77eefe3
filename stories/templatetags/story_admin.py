"""Labels for the story admin's workflow pages."""

from django import template

from stories.models import Story

register = template.Library()

AUDIT_ACTIONS = {
    "submitted": "Submitted for review",
    "approved": "Approved",
    "changes_requested": "Changes requested",
    "withdrawn": "Withdrawn",
    "published": "Published",
    "scheduled": "Scheduled",
    "rescheduled": "Rescheduled",
    "unscheduled": "Unscheduled",
}


@register.filter
def audit_action(action: str) -> str:
    return AUDIT_ACTIONS.get(action, action.replace("_", " ").capitalize())


@register.filter
def status_label(status: str) -> str:
    try:
        return Story.Status(status).label
    except ValueError:
        return status or "—"
