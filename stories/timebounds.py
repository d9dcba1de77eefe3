"""The span of time the newsroom holds, defined once.

Every layer holds a different span: PostgreSQL's timestamptz runs to the year
294276, Python's datetime from year 1 to 9999, and a time near either end of
Python's span leaves it when moved between the newsroom's zone and UTC
(9999-12-31 23:59 in New York is in the year 10000 in UTC, 0001-01-01 00:00 in
Berlin in the year 0). Such a row, once in PostgreSQL, could no longer be read
back, and every page that read it failed.

So every time a person or a file can give is kept between EARLIEST and LATEST,
far inside all of them:
- ``validate_time`` is the validator of every DateTimeField of the stories
  app, so forms, the admin and anything calling ``full_clean`` refuse an
  outside time with OUT_OF_RANGE;
- ``in_range`` makes the CHECK constraint that keeps such rows out of the
  database whatever writes them;
- ``lookup_refusal`` is for filters: why a query-string lookup on a date
  cannot be applied (the admin site refuses it with that sentence);
- ``register_loaders`` makes reading PostgreSQL total: a stored time outside
  the span (possible only if the constraints were bypassed) is read as the
  nearest end of it, rather than failing every page that shows it;
- ``out_of_range`` finds such rows in the database (/readyz reports them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import Q
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import Truncator

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
OUT_OF_RANGE = (
    f"Pick a date between {EARLIEST.day} {EARLIEST:%B %Y} and {LATEST.day} {LATEST:%B %Y}."
)


def within(value: date | datetime) -> bool:
    """Whether value lies in the span; a naive time is read in the newsroom's zone.

    Aware times are compared as instants, which never leaves Python's span,
    even for a time whose UTC equivalent does."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
        return EARLIEST <= value <= LATEST
    if isinstance(value, date):
        return EARLIEST.date() <= value <= LATEST.date()
    raise TypeError(f"Not a date or a time: {value!r}")


def validate_time(value: date | datetime | None) -> None:
    """Validator for every date and time a person or a file can set."""
    if value is not None and not within(value):
        raise ValidationError(OUT_OF_RANGE, code="out_of_range")


def in_range(field: str) -> models.CheckConstraint:
    """The CHECK constraint that keeps the column of field inside the span
    (NULL passes: an unset time is not out of range)."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__range": (EARLIEST, LATEST)}),
        name=f"%(app_label)s_%(class)s_{field}_in_range",
        violation_error_code="out_of_range",
        violation_error_message=OUT_OF_RANGE,
    )


def out_of_range(field: str) -> Q:
    """The rows whose field holds a time outside the span, as a condition the
    database evaluates (so PostgreSQL never has to hand such a time back)."""
    return Q(**{f"{field}__lt": EARLIEST}) | Q(**{f"{field}__gt": LATEST})


# -- filters -----------------------------------------------------------------

# Lookups whose value is a date or a time of the field itself.
_COMPARISONS = {"exact", "gt", "gte", "lt", "lte", "range", "in", "date"}
# Transforms to a part of a date, each with the values it can take.
_PARTS = {
    "year": (EARLIEST.year, LATEST.year),
    "iso_year": (EARLIEST.year, LATEST.year),
    "quarter": (1, 4),
    "month": (1, 12),
    "week": (1, 53),
    "day": (1, 31),
    "week_day": (1, 7),
    "iso_week_day": (1, 7),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}


def _date_field(model, parts: list[str]):
    """The date or date-and-time field the lookup path parts lead to, and the
    lookups that follow it; (None, []) if the path does not end on one."""
    opts = model._meta
    for index, part in enumerate(parts):
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            return None, []
        if field.is_relation:
            if field.related_model is None:
                return None, []
            opts = field.related_model._meta
            continue
        if isinstance(field, models.DateField):  # DateTimeField is one too
            return field, parts[index + 1 :]
        return None, []
    return None, []


def _as_moment(field, raw: str) -> date | datetime | None:
    if isinstance(field, models.DateTimeField):
        try:
            moment = parse_datetime(raw)
        except ValueError:
            moment = None
        if moment is not None:
            return moment
    try:
        day = parse_date(raw)
    except ValueError:
        return None
    if day is not None and isinstance(field, models.DateTimeField):
        return datetime.combine(day, time.min)
    return day


def lookup_refusal(model, key: str, value: str) -> str | None:
    """Why the query-string filter key=value on model cannot be applied, when
    key is a lookup on one of its dates or times; None when it can, or when it
    is not about a date (other filters are checked where they are applied)."""
    field, lookups = _date_field(model, key.split("__"))
    if field is None or lookups[-1:] == ["isnull"]:
        return None
    part = next((lookup for lookup in lookups if lookup in _PARTS), None)
    values = value.split(",") if lookups[-1:] in (["in"], ["range"]) else [value]
    for raw in values:
        raw = raw.strip()
        shown = Truncator(raw).chars(30)
        if part is not None:
            low, high = _PARTS[part]
            number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else None
            if number is None or not low <= number <= high:
                return f"“{shown}” is not a {part.replace('_', ' ')} from {low} to {high}."
            continue
        if not set(lookups) <= _COMPARISONS:
            return None  # not a comparison with a date: the lookup's own checks apply
        moment = _as_moment(field, raw)
        if moment is None:
            return f"“{shown}” is not a date such as 2025-06-02 or a time such as 2025-06-02 09:00."
        if not within(moment):
            return OUT_OF_RANGE
    return None


# -- reading PostgreSQL --------------------------------------------------------


def _outside(data) -> str | None:
    """Which end of Python's span a value psycopg could not load lies past."""
    text = bytes(data).strip()
    if text.startswith(b"-infinity") or text.endswith(b"BC"):
        return "before"
    if text.startswith(b"infinity") or len(text.split(b"-", 1)[0]) > 4:
        return "after"
    return None


@lru_cache
def _bounded(loader_class, earliest, latest):
    """loader_class, reading a value outside the span as the nearer end of it."""
    from psycopg import DataError

    class Bounded(loader_class):
        def load(self, data):
            try:
                value = super().load(data)
            except DataError:
                side = _outside(data)
                if side is None:
                    raise
                return earliest if side == "before" else latest
            if value < earliest:
                return earliest
            return latest if value > latest else value

    Bounded.__name__ = Bounded.__qualname__ = f"Bounded{loader_class.__name__}"
    return Bounded


def register_loaders(sender, connection, **kwargs) -> None:
    """connection_created receiver: PostgreSQL times are read within the span."""
    if connection.vendor != "postgresql":
        return
    from psycopg.pq import Format
    from psycopg.types.datetime import DateLoader, TimestampLoader

    adapters = connection.connection.adapters
    # Django's own timestamptz loader (it names the connection's zone), extended.
    timestamptz = adapters.get_loader(adapters.types["timestamptz"].oid, Format.TEXT)
    naive_earliest, naive_latest = EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)
    for name, loader, earliest, latest in (
        ("timestamptz", timestamptz, EARLIEST, LATEST),
        ("timestamp", TimestampLoader, naive_earliest, naive_latest),
        ("date", DateLoader, EARLIEST.date(), LATEST.date()),
    ):
        adapters.register_loader(name, _bounded(loader, earliest, latest))
