"""The newsroom's clock: publication times read and shown in its time zone,
and the agenda of issues coming up.

Times are stored in UTC. Staff type and read them in the newsroom's zone
(NEWSROOM_TIME_ZONE), never in their browser's, so that "09:00" means the same
minute to everyone on the desk and to the readers the issue is timed for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch, Q
from django.utils import timezone

from stories.editorial import workflow
from stories.models import Issue, IssueItem, Story

# The value format of <input type="datetime-local">, minute precision.
PICKER_FORMAT = "%Y-%m-%dT%H:%M"


class NotAClockTime(ValueError):
    """A wall-clock time that the newsroom's zone skips or repeats."""


def newsroom_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local(value: datetime) -> datetime:
    """value as a wall-clock time in the newsroom's zone."""
    return value.astimezone(newsroom_zone())


def format_time(value: datetime | None, weekday: bool = True) -> str:
    """A time as staff read it, always naming its zone: "Sun 30 Mar 2025, 09:00 BST".

    Every time shown to staff goes through here (the staff_time template
    filter, admin list columns). Zones with no abbreviation of their own are
    named by their offset from UTC ("UTC+04:00" rather than a bare "+04"); a
    naive value is read in the newsroom's zone rather than the server's."""
    if value is None:
        return ""
    if timezone.is_naive(value):
        value = value.replace(tzinfo=newsroom_zone())
    at = local(value)
    day = f"{at:%a} {at.day} {at:%b %Y}" if weekday else f"{at.day} {at:%b %Y}"
    name = at.tzname() or ""
    if not name or name[0] in "+-":
        name = utc_offset(at)
    return f"{day}, {at:%H:%M} {name}"


def utc_offset(at: datetime) -> str:
    offset = local(at).utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def zone_description(at: datetime | None = None) -> str:
    """The zone by name with its abbreviation and offset at a moment:
    "Europe/London (BST, UTC+01:00)"."""
    at = at or timezone.now()
    return f"{settings.TIME_ZONE} ({local(at).tzname()}, {utc_offset(at)})"


def from_wall_clock(naive: datetime) -> datetime:
    """The instant a wall-clock time in the newsroom's zone names.

    On the days the clocks change, some times do not exist (the hour skipped
    in spring) and some happen twice (the hour repeated in autumn); both are
    refused with a sentence, rather than silently moved by an hour.
    """
    zone = newsroom_zone()
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    day = f"{naive.day} {naive:%b %Y}"
    round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != naive:
        raise NotAClockTime(
            f"{naive:%H:%M} does not exist on {day} in {settings.TIME_ZONE}: the clocks go "
            "forward then. Pick a time outside the skipped hour."
        )
    raise NotAClockTime(
        f"{naive:%H:%M} happens twice on {day} in {settings.TIME_ZONE}: the clocks go back "
        "then. Pick a time outside the repeated hour."
    )


def picker_value(value: datetime) -> str:
    """value as the time picker shows it, in the newsroom's zone."""
    return local(value).strftime(PICKER_FORMAT)


def default_publication_time(now: datetime | None = None) -> datetime:
    """What the time picker offers for an unscheduled issue: the next full hour."""
    now = local(now or timezone.now())
    return (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


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
