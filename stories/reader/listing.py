"""Story listings (topic, source and author pages), newest first, paged by
keyset rather than by page number.

A page is the twenty stories just older (``?before=``) or just newer
(``?after=``) than a position written as the listing date and id of a story,
e.g. ``?before=2025-06-01T09:00:00Z,1234``. The database walks the
``story_listing`` index on (listed_at, id) from that position, so the
hundredth page of a topic carried by 360,000 stories costs what its first page
costs; nothing counts the stories or skips over them with OFFSET.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

from stories.timebounds import within

PAGE_SIZE = 20
# A topic, source or author with at most this many stories is listed from
# the ids of its stories (its link table's index) rather than by walking the
# listing index, where a rare one would have to pass over most of the archive
# to fill a page: the planner, estimating every topic to be of average size,
# cannot tell the two apart.
SMALL_LISTING = 2000
# A position as encode_cursor writes it: UTC to the second or microsecond, and an id.
_CURSOR = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?)Z,([1-9][0-9]{0,17})")
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


def listing_page(stories: QuerySet, params, candidates: QuerySet | None = None) -> ListingPage:
    """One page of stories (a queryset of Story.objects.published()),
    positioned by the before or after parameter of params. candidates, the
    ids of the stories of the topic, source or author (public or not), are
    read up to SMALL_LISTING, to page a small listing from them."""
    if candidates is not None:
        ids = list(candidates[: SMALL_LISTING + 1])
        if len(ids) <= SMALL_LISTING:
            stories = stories.filter(pk__in=ids) if ids else stories.none()
    notices = []
    direction, raw = "before", params.get("before")
    if raw is None and params.get("after") is not None:
        direction, raw = "after", params["after"]
    cursor = decode_cursor(raw) if raw is not None else None
    if raw is not None and cursor is None:
        notices.append(INVALID_CURSOR)
        direction = "before"
    stories = stories.filter(listed_at__isnull=False)
    if cursor is not None:
        at, pk = cursor
        # The first condition bounds the index scan; the second drops the
        # few rows of the same moment on the wrong side of the id.
        if direction == "before":
            stories = stories.filter(Q(listed_at__lt=at) | Q(pk__lt=pk), listed_at__lte=at)
        else:
            stories = stories.filter(Q(listed_at__gt=at) | Q(pk__gt=pk), listed_at__gte=at)
    if direction == "after":
        rows = list(stories.order_by("listed_at", "pk")[: PAGE_SIZE + 1])
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        page = ListingPage(rows, notices=notices)
        if rows:
            page.older = _query("before", rows[-1])
            page.newer = _query("after", rows[0]) if more else None
    else:
        rows = list(stories.order_by("-listed_at", "-pk")[: PAGE_SIZE + 1])
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
