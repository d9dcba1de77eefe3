"""Labels for the admin's workflow pages, and times that say their zone."""

from django import template

from stories import clock
from stories.models import AuditEntry, Issue, Story
from stories.people import display_name

register = template.Library()


@register.filter
def person(user, absent: str = "") -> str:
    """A person as the newsroom names them (stories.people), or absent when
    there is none (an entry the scheduler wrote, say)."""
    return display_name(user) if user else absent


@register.filter
def audit_action(action: str) -> str:
    return AuditEntry.Action.label_of(action)


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
