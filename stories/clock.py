"""The newsroom's clock: times read and shown in its time zone.

Times are stored in UTC. Staff type and read them in the newsroom's zone
(NEWSROOM_TIME_ZONE), never in their browser's, so that "09:00" means the same
minute to everyone on the desk and to the readers the issue is timed for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

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
