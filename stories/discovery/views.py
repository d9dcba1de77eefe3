"""Search and the issue archive. Results start from Story.objects.published()
or Issue.objects.published(); filters and the search index only narrow them.

Both pages do a fixed number of queries whatever the archive's size: three
for the filter choices, one for the page of results and one for what each
result shows (snippets or an issue's stories). Neither counts all matches.
"""

from datetime import UTC, datetime, timedelta
from html import escape

from django.conf import settings
from django.db.models import Q
from django.http import QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from stories.discovery.filters import (
    PAGING_PARAMETERS,
    IssueFilterSet,
    StoryFilterSet,
    published_stories,
)
from stories.discovery.search import index_scan_plan, matching, parse_query, snippets
from stories.models import Issue, IssueItem
from stories.publishing.cache import (
    declared_query,
    never_cache_privately,
    page_number,
    several,
    single,
)
from stories.reader import seo
from stories.reader.paths import SLUG_PLACEHOLDER, path_for_each

RESULTS_PER_PAGE = 20
# Search pages past this are refused: relevance beyond 500 results helps no
# reader, and it bounds the OFFSET a request can ask the database to skip.
MAX_SEARCH_PAGE = 25
ISSUES_PER_PAGE = 20

STORY_ORDER = {
    "newest": ("-published_on", "-pk"),
    "oldest": ("published_on", "pk"),
}


def search_text(values: list[str]) -> list[str]:
    """The search box as the search reads it (parse_query: trimmed, cut to
    its length limit), its spaces collapsed, which no search can tell apart."""
    text = " ".join(parse_query(values[-1] if values else "").text.split())
    return [text] if text else []


# The query parameters each page reads, and how (stories/cache.py): the
# filter form's fields, paging, and the search box. Nothing else reaches the
# views or the page cache's key.
FILTER_QUERY = {
    "topic": several,
    "source": single,
    "author": single,
    "date_after": single,
    "date_before": single,
    "sort": single,
}
SEARCH_QUERY = {**FILTER_QUERY, "q": search_text, "page": page_number}
ARCHIVE_QUERY = {**FILTER_QUERY, "after": single, "before": single}


def _answer(request, template: str, context: dict):
    """The page; one that reports input it ignored answers that request's
    address alone, so no cache keeps it (each odd value would be a copy)."""
    response = render(request, template, context)
    return never_cache_privately(response) if context["notices"] else response


def _link_query(params, reads: dict) -> QueryDict:
    """What the page's links carry (with {% querystring %}): the search and
    filters it declares, as it read them, without its position, which each
    link sets for itself. Nothing else of the address: a cached copy of the
    page is handed to every reader (stories/publishing/cache.py)."""
    return declared_query(
        params, {name: read for name, read in reads.items() if name not in PAGING_PARAMETERS}
    )


def _form_context(filterset) -> dict:
    data = filterset.data
    return {
        "options": filterset.options(),
        "dates": {"after": data.get("date_after", ""), "before": data.get("date_before", "")},
    }


def _page_number(params, notices: list[str]) -> int:
    raw = params.get("page", "1")
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if 1 <= number <= MAX_SEARCH_PAGE:
        return number
    notices.append(f"Page numbers go from 1 to {MAX_SEARCH_PAGE}; showing the first page.")
    return 1


def search(request):
    params = request.GET
    parsed = parse_query(params.get("q"))
    filterset = StoryFilterSet(params, queryset=published_stories())
    notices = filterset.ignored()
    query = _link_query(params, SEARCH_QUERY)
    chips = filterset.chips(query)
    number = _page_number(params, notices)
    context = {
        "q": parsed.text,
        **_form_context(filterset),
        "query": query,
        "chips": chips,
        "notices": notices,
        "searched": bool(parsed or chips),
        "results": [],
    }
    if context["searched"]:
        stories = filterset.qs
        sort = filterset.chosen_sort
        start = (number - 1) * RESULTS_PER_PAGE
        if parsed:
            # Results past this page's next one are never read, so the
            # search need not look past them (see matching); a filter (each
            # shows as a chip) narrows which stories may be candidates.
            bound = start + RESULTS_PER_PAGE + 1
            stories = matching(stories, parsed, sort, bound=bound, narrowed=bool(chips))
        else:
            stories = stories.order_by(*STORY_ORDER["newest" if sort == "relevance" else sort])
        stories = stories.only("headline", "slug", "dek", "published_at")
        with index_scan_plan():
            page = list(stories[start : start + RESULTS_PER_PAGE + 1])
            results = page[:RESULTS_PER_PAGE]
            found = snippets([story.pk for story in results], parsed)
        for story in results:
            story.snippet = found.get(story.pk)
        has_next = len(page) > RESULTS_PER_PAGE and number < MAX_SEARCH_PAGE
        context.update(
            results=results,
            page_number=number,
            results_start=start + 1,
            previous_page=number - 1 if number > 1 else None,
            next_page=number + 1 if has_next else None,
        )
    return _answer(request, "stories/search.html", context)


def _encode_cursor(issue: Issue) -> str:
    micros = (issue.publish_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return f"{micros}.{issue.number}"


def _decode_cursor(raw: str) -> tuple[datetime, int] | None:
    """The position a cursor names, written only as _encode_cursor writes it
    (no padding or leading zeros): one address per archive page."""
    try:
        micros, number = (int(part) for part in raw.split("."))
        if raw != f"{micros}.{number}":
            return None
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros), number
    except (ValueError, OverflowError):
        return None


def _keyset_page(issues, cursor, forward: bool, newest_first: bool):
    """One page of issues next to cursor: a range scan on (publish_at, number)
    that costs the same on page 200 as on page 1, unlike OFFSET."""
    descending = newest_first == forward
    if cursor is not None:
        at, number = cursor
        # The first condition bounds the scan of the (publish_at, number)
        # index; the second drops the few issues of the same minute on the
        # wrong side of the number. (One OR of the two, as before, left the
        # scan unbounded: a deep page walked every newer issue.)
        if descending:
            issues = issues.filter(Q(publish_at__lt=at) | Q(number__lt=number), publish_at__lte=at)
        else:
            issues = issues.filter(Q(publish_at__gt=at) | Q(number__gt=number), publish_at__gte=at)
    order = ("-publish_at", "-number") if descending else ("publish_at", "number")
    rows = list(issues.order_by(*order)[: ISSUES_PER_PAGE + 1])
    more = len(rows) > ISSUES_PER_PAGE
    rows = rows[:ISSUES_PER_PAGE]
    if not forward:
        rows.reverse()
    return rows, more


def _add_story_links(issues: list[Issue]) -> None:
    """Give each issue story_links: the <li> links to the stories readers
    see in it, in order, for a page of issues in one query. A page lists a
    few hundred stories, so the markup is written here, as filters.options
    writes its options: rows rather than model instances, paths filled in
    rather than reversed, and the standard library's escape rather than a
    template loop cut the page's time by half."""
    story_path = path_for_each("stories:story", SLUG_PLACEHOLDER)
    links: dict[int, list[str]] = {issue.pk: [] for issue in issues}
    rows = (
        IssueItem.objects.public()
        .filter(issue__in=list(links))
        .order_by("issue_id", "position", "pk")
        .values_list("issue_id", "story__slug", "story__headline")
    )
    for issue_id, slug, headline in rows:
        links[issue_id].append(
            f'<li><a href="{escape(story_path(slug))}">{escape(headline)}</a></li>'
        )
    for issue in issues:
        issue.story_links = mark_safe("".join(links[issue.pk]))


def _by_month(issues):
    months: list[tuple[str, list[Issue]]] = []
    for issue in issues:
        label = format_date(timezone.localtime(issue.publish_at), "F Y")
        if not months or months[-1][0] != label:
            months.append((label, []))
        months[-1][1].append(issue)
    return months


def archive(request):
    params = request.GET
    filterset = IssueFilterSet(params, queryset=Issue.objects.published())
    notices = filterset.ignored()
    forward = "before" not in params
    raw_cursor = params.get("after" if forward else "before")
    cursor = _decode_cursor(raw_cursor) if raw_cursor else None
    if raw_cursor and cursor is None:
        notices.append("That archive page address is not valid; showing the first page.")
        forward = True
    issues = filterset.qs.select_related("newsletter").only(
        "number", "headline", "slug", "publish_at", "newsletter__slug"
    )
    newest_first = filterset.chosen_sort == "newest"
    rows, more = _keyset_page(issues, cursor, forward, newest_first)
    _add_story_links(rows)
    has_previous = more if not forward else cursor is not None
    has_next = more if forward else True
    query = _link_query(params, ARCHIVE_QUERY)
    context = {
        **_form_context(filterset),
        "query": query,
        "chips": filterset.chips(query),
        "notices": notices,
        "months": _by_month(rows),
        "newest_first": newest_first,
        "previous_cursor": _encode_cursor(rows[0]) if rows and has_previous else None,
        "next_cursor": _encode_cursor(rows[-1]) if rows and has_next else None,
        "meta": _archive_meta(raw_cursor if cursor is not None else None, forward),
    }
    return _answer(request, "stories/archive.html", context)


def _archive_meta(cursor: str | None, forward: bool) -> seo.PageMeta:
    """The archive's metadata, like every other listing's. Its canonical
    address keeps only the page's position: a filtered view is a view of
    that one listing, not a page of its own."""
    path = reverse("discovery:archive")
    if cursor is not None:
        path += "?" + urlencode({"after" if forward else "before": cursor})
    return seo.listing_meta("Archive", path, f"Every issue of {settings.SITE_NAME}, by month.")
