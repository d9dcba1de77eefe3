"""Figures about a newsletter's list for the admin: counts and the chart of
confirmed subscribers over time (an inline SVG: no script, so it passes the
site's Content-Security-Policy, and it prints as it is drawn)."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from newsletters.models import Subscription


def confirmed_by_day(newsletter, days: int = 365) -> list[tuple[date, int]]:
    """(day, confirmed subscribers at that day's end) for the last days days.

    Read from when each subscription was confirmed and, if it was, when it
    unsubscribed: two grouped queries whatever the list's size. A reader who
    unsubscribed and came back counts from their latest confirmation, and an
    erased reader is gone from the past too (nothing about them is kept).
    """
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    rows = Subscription.objects.filter(newsletter=newsletter, confirmed_at__isnull=False)
    joined = dict(
        rows.annotate(day=TruncDate("confirmed_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    left = dict(
        rows.filter(unsubscribed_at__isnull=False)
        .annotate(day=TruncDate("unsubscribed_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    total = sum(n for day, n in joined.items() if day < start) - sum(
        n for day, n in left.items() if day < start
    )
    series = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        total += joined.get(day, 0) - left.get(day, 0)
        series.append((day, total))
    return series


@dataclass
class Chart:
    width: int
    height: int
    points: str
    area: str
    latest: int
    first: int
    peak: int
    start: date
    end: date
    description: str


def chart(series: list[tuple[date, int]], width: int = 640, height: int = 180) -> Chart:
    """The series as SVG coordinates (a line and the area under it)."""
    peak = max((n for _, n in series), default=0) or 1
    pad = 4
    step = (width - 2 * pad) / max(1, len(series) - 1)
    coords = [
        (pad + i * step, height - pad - (n / peak) * (height - 2 * pad))
        for i, (_, n) in enumerate(series)
    ]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area = f"{pad},{height - pad} {points} {width - pad},{height - pad}" if coords else ""
    latest = series[-1][1] if series else 0
    first = series[0][1] if series else 0
    start = series[0][0] if series else timezone.localdate()
    end = series[-1][0] if series else timezone.localdate()
    description = (
        f"Confirmed subscribers from {start:%-d %B %Y} to {end:%-d %B %Y}: "
        f"{first:,} at the start, {latest:,} now, {max(n for _, n in series) if series else 0:,} "
        "at most."
    )
    return Chart(width, height, points, area, latest, first, peak, start, end, description)
