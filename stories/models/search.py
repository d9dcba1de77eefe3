"""The search index's rows: one derived row per story that readers can or soon
may see (stories/publishing/search_index.py decides which and writes them).

A row holds the story's searchable text as plain text (tags stripped, entities
decoded) and, on PostgreSQL, a weighted tsvector built from it (headline A,
dek B, everything else C) with a GIN index. On SQLite the same rows feed an
FTS5 table kept in step by triggers. Both are created by migration
0004_search; see there for why the index is not declared on the model.
"""

from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models

from stories.timebounds import in_range, validate_time

# ts_headline and FTS5 snippet() mark matches with these; they are removed
# from indexed text so a story cannot forge a highlight, and the snippet is
# HTML-escaped before they are swapped for <mark> tags.
MARK_START = "\ue000"
MARK_END = "\ue001"

SEARCH_CONFIG = "english"


class SearchDocument(models.Model):
    story = models.OneToOneField(
        "stories.Story",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="search_document",
    )
    headline = models.TextField()
    dek = models.TextField(blank=True)
    body = models.TextField(blank=True)
    # PostgreSQL only; the vectors stay NULL on SQLite, where FTS5 indexes the
    # text. vector (everything, GIN-indexed) decides what matches. rank_vector
    # (headline, dek and the body's lead; GIN-indexed since 0017) marks the
    # second rank of results: the lead carries the story's point, as news
    # writing puts it first. It is small enough to stay in the row, where a
    # whole body's vector is stored out of line (TOAST) and costs a read.
    vector = SearchVectorField(null=True, editable=False)
    rank_vector = SearchVectorField(null=True, editable=False)
    # The headline alone (GIN-indexed): a story whose headline holds every
    # word searched for comes first.
    headline_vector = SearchVectorField(null=True, editable=False)
    # A copy of the story's listing date (Story.listed_at, kept in step by
    # refresh_listed_at and index_stories), so that the newest matches are
    # found by walking one index of this table rather than sorting them all.
    listed_at = models.DateTimeField(null=True, editable=False, validators=[validate_time])

    class Meta:
        indexes = [
            # Matches newest first (see stories/discovery/search.py).
            models.Index(fields=["listed_at", "story"], name="searchdocument_listing"),
        ]
        constraints = [in_range("listed_at")]

    def __str__(self) -> str:
        return self.headline


# Characters of the body that count towards ranking (about the first 60 words).
RANKED_LEAD_CHARS = 400


def headline_vector():
    """The tsvector of a SearchDocument row's headline alone."""
    return SearchVector("headline", config=SEARCH_CONFIG)


def weighted_vector(body=None):
    """The tsvector of a SearchDocument row, from its own columns."""
    return (
        SearchVector("headline", weight="A", config=SEARCH_CONFIG)
        + SearchVector("dek", weight="B", config=SEARCH_CONFIG)
        + SearchVector(body or "body", weight="C", config=SEARCH_CONFIG)
    )
