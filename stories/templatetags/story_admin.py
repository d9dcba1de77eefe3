"""Labels for the admin's workflow pages, and times that say their zone."""

from django import template

from stories import clock
from stories.models import Issue, Story

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
    """A story's or an issue's status as people read it."""
    for statuses in (Story.Status, Issue.Status):
        try:
            return statuses(status).label
        except ValueError:
            continue
    return status or "—"


@register.filter
def staff_time(value) -> str:
    """A time in the newsroom's zone, naming the zone (clock.format_time)."""
    return clock.format_time(value)
