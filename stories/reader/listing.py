"""Story listings (topic, source, author and contributor pages), newest
first, paged by keyset rather than by page number.

A page is the twenty stories just older (``?before=``) or just newer
(``?after=``) than a position written as the listing date and id of a story,
e.g. ``?before=2025-06-01T09:00:00Z,1234``. The database reads the listing's
entries (stories/models/listings.py) from its kind's index on (what it is
listed under, listed_at, story) from that position, and fetches those
stories by id, so any page of a topic carried by twenty stories or by
360,000 costs the same; nothing counts the stories or skips over them with
OFFSET.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

from stories.timebounds import within

PAGE_SIZE = 20
# A position as encode_cursor writes it: UTC to the second or microsecond, and an id.
_CURSOR = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?)Z,([1-9][0-9]{0,17})")
# The path from a story to its listing entries, and a listing's order: that
# of the entries' index, ties broken by story id.
ENTRY = "listing_entries__"
NEWEST_LAST = (f"{ENTRY}listed_at", f"{ENTRY}story_id")
NEWEST_FIRST = tuple(f"-{key}" for key in NEWEST_LAST)
INVALID_CURSOR = "That page address is not valid; showing the newest stories."


def encode_cursor(story) -> str:
    moment = story.listed_at.astimezone(UTC).replace(tzinfo=None)
    return f"{moment.isoformat()}Z,{story.pk}"


def decode_cursor(raw: str) -> tuple[datetime, int] | None:
    """The position a cursor names, or None for anything encode_cursor would
    not have written (so each page has one address)."""
    match = _CURSOR.fullmatch(raw)
    if match is None:
        return None
    try:
        moment = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    except ValueError:
        return None
    if not within(moment) or moment.replace(tzinfo=None).isoformat() != match.group(1):
        return None
    return moment, int(match.group(2))


@dataclass
class ListingPage:
    stories: list = field(default_factory=list)
    newer: str | None = None  # the query string of the newer page, if any
    older: str | None = None
    position: str = ""  # this page's own query string ("" for the first page)
    label: str = ""  # how a title tells this page from the first
    notices: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter(self.stories)

    def __bool__(self) -> bool:
        return bool(self.stories)


def listing_page(stories: QuerySet, params, under: dict) -> ListingPage:
    """One page of stories (a queryset of Story.objects.published()) listed
    under what under names, e.g. {"topic": topic} (a field of ListingEntry and
    its value), positioned by the before or after parameter of params."""
    notices = []
    direction, raw = "before", params.get("before")
    if raw is None and params.get("after") is not None:
        direction, raw = "after", params["after"]
    cursor = decode_cursor(raw) if raw is not None else None
    if raw is not None and cursor is None:
        notices.append(INVALID_CURSOR)
        direction = "before"
    # One filter() call, so that the position and the order apply to the
    # same entry as what it is listed under.
    entry = {f"{ENTRY}{name}": value for name, value in under.items()}
    position = Q()
    if cursor is not None:
        at, pk = cursor
        # The last condition bounds the index scan; the first two drop the
        # few rows of the same moment on the wrong side of the id.
        if direction == "before":
            entry[f"{ENTRY}listed_at__lte"] = at
            position = Q(**{f"{ENTRY}listed_at__lt": at}) | Q(**{f"{ENTRY}story_id__lt": pk})
        else:
            entry[f"{ENTRY}listed_at__gte"] = at
            position = Q(**{f"{ENTRY}listed_at__gt": at}) | Q(**{f"{ENTRY}story_id__gt": pk})
    stories = stories.filter(position, **entry)
    if direction == "after":
        rows = list(stories.order_by(*NEWEST_LAST)[: PAGE_SIZE + 1])
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        page = ListingPage(rows, notices=notices)
        if rows:
            page.older = _query("before", rows[-1])
            page.newer = _query("after", rows[0]) if more else None
    else:
        rows = list(stories.order_by(*NEWEST_FIRST)[: PAGE_SIZE + 1])
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        page = ListingPage(rows, notices=notices)
        if rows:
            page.older = _query("before", rows[-1]) if more else None
            page.newer = _query("after", rows[0]) if cursor is not None else None
    if cursor is not None:
        page.position = urlencode({direction: raw}, safe=":,")
        moment = f"{cursor[0]:%-d %B %Y}"
        page.label = f"stories before {moment}" if direction == "before" else f"from {moment}"
    return page


def _query(direction: str, story) -> str:
    return urlencode({direction: encode_cursor(story)}, safe=":,")
