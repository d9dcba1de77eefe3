"""Full-text search over published stories: reading a query, matching,
ranking and highlighted snippets, on PostgreSQL and on SQLite.

The syntax readers may use is small and cannot fail: words (all must match,
English stemming), "quoted phrases" and prefix* words. Everything else is
dropped, so no input reaches the database as query syntax.

PostgreSQL matches the GIN-indexed tsvector of stories.models.search and
ranks with ts_rank (weights headline A > dek B > body C) over the smaller
rank_vector (see there why). SQLite matches the
FTS5 table built by migration 0004_search and ranks with bm25 using the same
order of column weights. Either way the caller hands in a queryset that starts
from Story.objects.published(); the index only narrows it.
"""

import operator
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import reduce

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.db.models.expressions import RawSQL
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


def matching(stories: QuerySet, parsed: ParsedQuery) -> QuerySet:
    """stories narrowed to those matching parsed, annotated with rank
    (higher is better)."""
    if _on_postgres():
        query = postgres_query(parsed)
        return stories.filter(search_document__vector=query).annotate(
            rank=SearchRank(F("search_document__rank_vector"), query)
        )
    match = fts5_query(parsed)
    table = stories.model._meta.db_table
    return stories.filter(
        pk__in=RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", (match,))
    ).annotate(
        rank=RawSQL(
            f"SELECT -bm25({FTS_TABLE}, {FTS_WEIGHTS}) FROM {FTS_TABLE} "
            f'WHERE {FTS_TABLE} MATCH %s AND rowid = "{table}"."id"',
            (match,),
        )
    )


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
