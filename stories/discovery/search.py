"""Full-text search over published stories: reading a query, matching,
ranking and highlighted snippets, on PostgreSQL and on SQLite.

The syntax readers may use is small and cannot fail: words (all must match,
English stemming), "quoted phrases" and prefix* words. Everything else is
dropped, so no input reaches the database as query syntax.

Results come in rank order, then newest first. The rank says where every
searched word appears: all in the headline; in the headline, dek (and, on
PostgreSQL, the lead of the body); or anywhere. PostgreSQL matches the
GIN-indexed tsvectors of stories.models.search and reads only a bounded set
of candidates (see matching), so a word most stories hold costs a page, not
a sort of every story; SQLite matches the FTS5 table built by migration
0004_search, using column filters for the rank. Either way the caller hands
in a queryset that starts from Story.objects.published(); the index only
narrows it.
"""

import operator
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce

from django.contrib.postgres.search import SearchHeadline, SearchQuery
from django.db import connection, transaction
from django.db.models import BooleanField, Case, Q, QuerySet, Subquery, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.db.models.lookups import IsNull
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from stories.models.search import MARK_END, MARK_START, SEARCH_CONFIG, SearchDocument

MAX_QUERY_LENGTH = 200
MAX_TERMS = 12
FTS_TABLE = "stories_searchdocument_fts"
# bm25 column weights for headline, dek, body: the same order as A > B > C.
FTS_WEIGHTS = "10.0, 4.0, 1.0"

_QUOTED = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class ParsedQuery:
    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    text: str = field(default="", compare=False)

    def __bool__(self) -> bool:
        return bool(self.words or self.phrases or self.prefixes)


def parse_query(text: str | None) -> ParsedQuery:
    """Words, "phrases" and prefix* terms from what a reader typed."""
    text = (text or "").strip()[:MAX_QUERY_LENGTH]
    words: list[str] = []
    phrases: list[str] = []
    prefixes: list[str] = []

    def take_phrase(match: re.Match) -> str:
        parts = _WORD.findall(match.group(1))
        if len(parts) > 1:
            phrases.append(" ".join(parts))
        else:
            words.extend(parts)
        return " "

    rest = _QUOTED.sub(take_phrase, text).replace('"', " ")
    for token in rest.split():
        parts = _WORD.findall(token)
        if token.endswith("*") and parts:
            words.extend(parts[:-1])
            prefixes.append(parts[-1])
        else:
            words.extend(parts)
    budget = MAX_TERMS
    words, budget = words[:budget], budget - len(words[:budget])
    phrases, budget = phrases[:budget], budget - len(phrases[:budget])
    prefixes = prefixes[:budget]
    return ParsedQuery(tuple(words), tuple(phrases), tuple(prefixes), text)


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


def postgres_query(parsed: ParsedQuery):
    parts = []
    if parsed.words:
        parts.append(SearchQuery(" ".join(parsed.words), config=SEARCH_CONFIG))
    parts += [
        SearchQuery(phrase, config=SEARCH_CONFIG, search_type="phrase") for phrase in parsed.phrases
    ]
    # Safe as raw tsquery syntax: a prefix holds letters and digits only.
    parts += [
        SearchQuery(f"{prefix}:*", config=SEARCH_CONFIG, search_type="raw")
        for prefix in parsed.prefixes
    ]
    return reduce(operator.and_, parts)


def fts5_query(parsed: ParsedQuery) -> str:
    # Every term is a quoted FTS5 string of letters and digits: no operators,
    # no column filters, nothing FTS5 could reject.
    terms = [f'"{word}"' for word in parsed.words]
    terms += [f'"{phrase}"' for phrase in parsed.phrases]
    terms += [f'"{prefix}"*' for prefix in parsed.prefixes]
    return " ".join(terms)


# How results are ordered for each sort the filter form offers: relevance
# is the rank (the tier of the best place every searched word appears), then
# the newest first; the others are by listing date alone.
SORTS = {
    "relevance": ("-rank", "-search_document__listed_at", "-pk"),
    "newest": ("-search_document__listed_at", "-pk"),
    "oldest": ("search_document__listed_at", "pk"),
}
# Ranks: every searched word in the headline; in the headline, dek or the
# lead of the body; anywhere.
HEADLINE, LEAD, ANYWHERE = 2, 1, 0


# How many of the newest (or oldest) search rows are tried one by one for
# the first results before the search falls back to all of a word's matches.
RECENT_WINDOW = 2000
# Sorts by a listing date that no index offers, so the database collects
# the matches from the GIN index and sorts them rather than walking the
# listing index (see _first_matches).
UNKNOWN_DATE = datetime(1970, 1, 1, tzinfo=UTC)


def _first_matches(stories: QuerySet, match: Q, dates: tuple, bound: int, now) -> list[QuerySet]:
    """The ids of the first bound of stories matching match in the order of
    dates, as two queries to be unioned, for any word's frequency.

    A common word is found in the newest rows: the first bound matches in
    the RECENT_WINDOW newest search rows are the first bound overall, and
    trying that many costs a few milliseconds. A rarer word fills fewer, and
    only then does the second list run (a one-time filter): every match from
    the GIN index, sorted, which is cheap because there are few. Left to
    itself, the planner walks the listing index for any LIMIT, and for two
    words it guesses are common but rarely meet ("ai model": 4 stories of
    400,000) tried every row, 2.6 s.
    """
    descending = dates[0].startswith("-")
    listed = "search_document__listed_at"
    # The window as the listing date of its last row: one short walk of the
    # listing index, then a range on it (ties at the edge only widen it).
    public = SearchDocument.objects.filter(listed_at__lte=now)
    edge = Subquery(
        public.order_by("-listed_at" if descending else "listed_at").values("listed_at")[
            max(RECENT_WINDOW, bound) - 1 :
        ][:1]
    )
    recent = stories.filter(match, Q(**{f"{listed}__{'gte' if descending else 'lte'}": edge}))
    # The bound-th match in the window, if any, read in the listing order as
    # the list itself is (unordered, the planner walked every story's key).
    last = Subquery(recent.order_by(*dates).values("pk")[bound - 1 : bound])
    unknown_first = Coalesce(listed, Value(UNKNOWN_DATE))
    everywhere = (
        stories.filter(match, IsNull(last, True))
        .order_by(unknown_first.desc() if descending else unknown_first.asc(), *dates[1:])
        .values("pk")[:bound]
    )
    return [recent.order_by(*dates).values("pk")[:bound], everywhere]


def _ranked(found: QuerySet, tiers: dict, order: tuple) -> QuerySet:
    rank = Case(
        *(When(match, then=Value(tier)) for tier, match in tiers.items()),
        default=Value(ANYWHERE),
    )
    return found.annotate(rank=rank).order_by(*order)


def _candidate_rows(query, names: list[str], descending: bool, bound: int, now) -> RawSQL:
    """The ids of the candidates of an unfiltered search, from the search
    rows alone: for each vector in names, the lists of _first_matches.

    No join is needed: a row's story is public once its listing date has
    come (the index holds only stories of scheduled or published issues), and
    the published gate on the results still decides what is shown. Written
    as SQL because building the same six subqueries through the ORM cost more
    per request than running them.
    """
    table = SearchDocument._meta.db_table
    compiler = SearchDocument.objects.all().query.get_compiler(connection=connection)
    tsquery, tsquery_params = compiler.compile(query.resolve_expression(compiler.query))
    way, cmp = ("DESC", ">=") if descending else ("ASC", "<=")
    public = "listed_at <= %s"
    edge = (
        f"(SELECT listed_at FROM {table} WHERE {public} ORDER BY listed_at {way} OFFSET %s LIMIT 1)"
    )
    edge_params = [now, max(RECENT_WINDOW, bound) - 1]
    parts, params = [], []
    for name in names:
        match = f"{name} @@ {tsquery}"
        recent = (
            f"SELECT story_id FROM {table} WHERE {match} AND {public} AND listed_at {cmp} {edge} "
            f"ORDER BY listed_at {way}, story_id {way}"
        )
        recent_params = [*tsquery_params, now, *edge_params]
        unknown_first = f"COALESCE(listed_at, %s) {way}"
        parts += [
            f"({recent} LIMIT %s)",
            f"(SELECT story_id FROM {table} WHERE {match} AND {public} "
            f"AND ({recent} OFFSET %s LIMIT 1) IS NULL "
            f"ORDER BY {unknown_first}, story_id {way} LIMIT %s)",
        ]
        params += [*recent_params, bound]
        params += [*tsquery_params, now, *recent_params, bound - 1, UNKNOWN_DATE, bound]
    return RawSQL(" UNION ALL ".join(parts), params)


def matching(
    stories: QuerySet,
    parsed: ParsedQuery,
    sort: str = "relevance",
    bound: int | None = None,
    narrowed: bool = True,
) -> QuerySet:
    """stories narrowed to those matching parsed, annotated with rank
    (HEADLINE, LEAD or ANYWHERE) and ordered by sort.

    With bound, only the first bound results in that order can be returned,
    and on PostgreSQL that is all the database looks at: for each rank, the
    newest bound stories matching at least that well, each list read newest
    first from an index (searchdocument_listing) and checked against the
    query row by row, or from the GIN index when a word is rare. The first
    bound results in rank-then-date order always lie in the union of those
    lists, so the order is exact while a common word costs a page, not
    every story holding it (ts_rank over all matches did: 0.5 s at 400,000
    stories). SQLite ranks every match; its archives are small.
    """
    order = SORTS[sort]
    if _on_postgres():
        query = postgres_query(parsed)
        vectors = {HEADLINE: "headline_vector", LEAD: "rank_vector"}
        tiers = {tier: Q(**{f"search_document__{name}": query}) for tier, name in vectors.items()}
        if bound is None:
            return _ranked(stories.filter(search_document__vector=query), tiers, order)
        now = timezone.now()
        descending = sort != "oldest"
        names = ["vector", *vectors.values()] if sort == "relevance" else ["vector"]
        if not narrowed:
            candidates = _candidate_rows(query, names, descending, bound, now)
            return _ranked(stories.filter(pk__in=candidates), tiers, order)
        # Filtered: the candidates are the filtered stories' own.
        way = "-" if descending else ""
        dates = (f"{way}search_document__listed_at", f"{way}pk")
        branches = [
            branch
            for name in names
            for branch in _first_matches(
                stories, Q(**{f"search_document__{name}": query}), dates, bound, now
            )
        ]
        found = stories.filter(pk__in=branches[0].union(*branches[1:], all=True))
        return _ranked(found, tiers, order)
    else:
        match = fts5_query(parsed)
        found = stories.filter(
            pk__in=RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", (match,))
        )
        table = stories.model._meta.db_table
        # FTS5 column filters: every word in the headline; in the headline or dek.
        in_columns = (
            f"EXISTS (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s "
            f'AND rowid = "{table}"."id")'
        )
        rank = Case(
            When(
                RawSQL(in_columns, (f"{{headline}} : ({match})",), BooleanField()),
                then=Value(HEADLINE),
            ),
            When(
                RawSQL(in_columns, (f"{{headline dek}} : ({match})",), BooleanField()),
                then=Value(LEAD),
            ),
            default=Value(ANYWHERE),
        )
    return found.annotate(rank=rank).order_by(*order)


# Settings for the search's own transaction (SET LOCAL, via set_config).
SEARCH_PLAN_SETTINGS = {
    # The planner does not cost reading the stored tsvector of every row (it
    # lives out of line, TOASTed), so for a common word it prefers a
    # sequential scan that tests each row's vector; at 40,000 stories that
    # measured about ten times slower (250 ms against 25-40 ms) than the
    # bitmap scan of the GIN index, which answers @@ without reading the
    # vectors. Every table the search joins is reached by index anyway.
    "enable_seqscan": "off",
    # Ranking sorts every match; with the default 4 MB a common word's sort
    # spilled to disk.
    "work_mem": "32MB",
    # The search reads a few thousand rows at most (see matching): starting
    # parallel workers or compiling it (JIT, for its large estimated cost)
    # took longer than the query.
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
}


@contextmanager
def index_scan_plan():
    """Run the enclosed search queries with the plan settings above,
    confined to this transaction. SQLite needs nothing."""
    if not _on_postgres():
        yield
        return
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            # One statement: set_config(..., true) is SET LOCAL.
            cursor.execute(
                "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(SEARCH_PLAN_SETTINGS)),
                [value for pair in SEARCH_PLAN_SETTINGS.items() for value in pair],
            )
        yield


def highlight(snippet: str) -> SafeString:
    """Escape a snippet, then turn the database's match markers into <mark>."""
    escaped = escape(snippet)
    return mark_safe(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


def snippets(story_ids: list[int], parsed: ParsedQuery) -> dict[int, SafeString]:
    """Highlighted passages of the stories' text around the matches, in one
    query for a page of results (never for every match)."""
    if not story_ids or not parsed:
        return {}
    if _on_postgres():
        rows = (
            SearchDocument.objects.filter(story_id__in=story_ids)
            .annotate(
                snippet=SearchHeadline(
                    "body",
                    postgres_query(parsed),
                    config=SEARCH_CONFIG,
                    start_sel=MARK_START,
                    stop_sel=MARK_END,
                    max_words=30,
                    min_words=12,
                    max_fragments=2,
                    fragment_delimiter=" … ",
                )
            )
            .values_list("story_id", "snippet")
        )
    else:
        placeholders = ", ".join(["%s"] * len(story_ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT rowid, snippet({FTS_TABLE}, 2, %s, %s, ' … ', 24) FROM {FTS_TABLE} "
                f"WHERE {FTS_TABLE} MATCH %s AND rowid IN ({placeholders})",
                [MARK_START, MARK_END, fts5_query(parsed), *story_ids],
            )
            rows = cursor.fetchall()
    return {story_id: highlight(text) for story_id, text in rows if text}
