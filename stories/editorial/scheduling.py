"""The agenda of issues coming up, and the states the admin shows for them.

Times are read and shown through the newsroom's clock (stories/clock.py),
whose helpers this module also offers to the admin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Prefetch, Q
from django.utils import timezone

from stories.clock import (  # noqa: F401 (the admin reads the clock through here)
    PICKER_FORMAT,
    NotAClockTime,
    default_publication_time,
    format_time,
    from_wall_clock,
    local,
    newsroom_zone,
    picker_value,
    utc_offset,
    zone_description,
)
from stories.editorial import workflow
from stories.models import Issue, IssueItem, Story

# -- the agenda --------------------------------------------------------------


@dataclass
class AgendaEntry:
    issue: Issue
    state: str
    time: str
    blockers: list[str]


@dataclass
class AgendaDay:
    day: date
    label: str
    entries: list[AgendaEntry] = field(default_factory=list)


@dataclass
class Agenda:
    days: list[AgendaDay]
    unscheduled: list[AgendaEntry]
    zone: str


def state_label(issue: Issue, now: datetime | None = None) -> str:
    """The issue's state as readers would confirm it: a scheduled issue whose
    minute has come is live, whether or not the scheduler has recorded it yet."""
    now = now or timezone.now()
    if issue.status == Issue.Status.SCHEDULED and issue.publish_at <= now:
        return "Live"
    return issue.get_status_display()


def story_state_label(story: Story, readers_see_it: bool | None = None) -> str:
    """The story's status as readers would confirm it: an approved story that a
    live issue holds is published, before the scheduler has recorded it too.

    readers_see_it is Story.objects.published() for this story, when the caller
    read it already (a list annotates its rows); asked here otherwise."""
    if story.status != Story.Status.APPROVED:
        return story.get_status_display()
    if readers_see_it is None:
        readers_see_it = Story.objects.published().filter(pk=story.pk).exists()
    return Story.Status.PUBLISHED.label if readers_see_it else story.get_status_display()


def _day_label(day: date, today: date) -> str:
    long = f"{day:%A} {day.day} {day:%B %Y}"
    if day == today:
        return f"Today, {long}"
    if day == today + timedelta(days=1):
        return f"Tomorrow, {long}"
    return long


def agenda(now: datetime | None = None) -> Agenda:
    """Issues from the start of today (newsroom time) on, by local day, and the
    drafts not yet scheduled, each with what still blocks it. Two queries
    however many issues and stories there are."""
    now = now or timezone.now()
    today = local(now).date()
    # Midnight is never a publication time, so a zone that skips it takes the
    # first reading rather than an error.
    start_of_today = datetime.combine(today, time.min, tzinfo=newsroom_zone())
    S = Issue.Status
    issues = (
        Issue.objects.filter(
            Q(status=S.SCHEDULED)
            | Q(status=S.PUBLISHED, publish_at__gte=start_of_today)
            | Q(status=S.DRAFT)
        )
        .prefetch_related(
            Prefetch("items", workflow.items_for_blockers(IssueItem.objects.order_by("position")))
        )
        .order_by("publish_at", "number")
    )
    days: dict[date, AgendaDay] = {}
    unscheduled = []
    for issue in issues:
        entry = AgendaEntry(
            issue=issue,
            state=state_label(issue, now),
            time=format_time(issue.publish_at),
            blockers=(
                []
                if issue.status == S.PUBLISHED
                else workflow.scheduling_blockers(issue, items=issue.items.all())
            ),
        )
        if issue.status == S.DRAFT:
            unscheduled.append(entry)
            continue
        day = local(issue.publish_at).date()
        if day not in days:
            days[day] = AgendaDay(day=day, label=_day_label(day, today))
        days[day].entries.append(entry)
    return Agenda(days=list(days.values()), unscheduled=unscheduled, zone=zone_description(now))
