"""Which stories search finds, and keeping their index rows in step.

Rows exist only for stories readers see or are about to see: approved or
published, and held by an issue that is scheduled or published. A scheduled
issue's stories are indexed ahead of its minute, because the published gate
makes them public at that minute with no save and no job, and they must be
findable from then. Search still never trusts the index for visibility: every
result comes through ``Story.objects.published()``.

Whether a story may be indexed changes with its own content and status, and
with its issues' status; the actions that change them (stories/editorial,
the admin, restores) call stories/publishing/changes.py, which calls here.
"""

import html

from django.db import connection
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Left
from django.utils.html import strip_tags

from stories.models import Issue, IssueItem, Story
from stories.models.content import PUBLIC_STORY_STATUSES
from stories.models.search import (
    MARK_END,
    MARK_START,
    RANKED_LEAD_CHARS,
    SearchDocument,
    headline_vector,
    weighted_vector,
)

# Saving any of these changes what a story is found by, or whether it may be.
INDEXED_FIELDS = frozenset(
    {"headline", "dek", "body", "tldr", "why_it_matters", "key_points", "status"}
)


def _plain(text: str) -> str:
    return html.unescape(strip_tags(text)).replace(MARK_START, "").replace(MARK_END, "")


def document_fields(story) -> dict:
    """The plain text a story is searched by, from the HTML rendered at save."""
    rest = [story.tldr_html, story.body_html, story.why_it_matters_html, story.key_points_html]
    return {
        "headline": _plain(story.headline),
        "dek": _plain(story.dek),
        "body": "\n".join(_plain(part) for part in rest if part),
    }


def _status_indexable(story) -> bool:
    return story.status in PUBLIC_STORY_STATUSES


def _held_by_public_issues(story_ids) -> set[int]:
    """Which of story_ids an issue that is scheduled or published holds (one query)."""
    return set(
        IssueItem.objects.filter(
            story_id__in=story_ids, issue__in=Issue.objects.published_or_upcoming()
        ).values_list("story_id", flat=True)
    )


def refresh_search_document(story, update_fields=None) -> None:
    """Keep a story's search row in step with a save of update_fields (None:
    every field), for the actions that save a story."""
    if update_fields is not None and not INDEXED_FIELDS.intersection(update_fields):
        return
    index_stories([story])


def sync_issue_stories(issue) -> int:
    """Bring the search rows of issue's stories in step with its status; called
    by every workflow step that changes whether an issue is scheduled or
    published. Returns how many of its stories are indexed."""
    return index_stories(Story.objects.filter(issue_items__issue=issue))


def index_stories(stories) -> int:
    """Bring the search rows of stories (a list or a queryset) in step: write
    the indexable ones, drop any others. Also for loaders that bypass
    Story.save(), such as bulk_create, once the stories' issues exist."""
    stories = list(stories)
    candidates = [story for story in stories if _status_indexable(story)]
    held = _held_by_public_issues([story.pk for story in candidates])
    documents = [
        SearchDocument(story_id=story.pk, **document_fields(story))
        for story in candidates
        if story.pk in held
    ]
    indexed = {document.story_id for document in documents}
    dropped = [story.pk for story in stories if story.pk not in indexed]
    if dropped:
        SearchDocument.objects.filter(story_id__in=dropped).delete()
    if not documents:
        return 0
    # An upsert, so two saves of the same story at once cannot collide.
    SearchDocument.objects.bulk_create(
        documents,
        update_conflicts=True,
        unique_fields=["story"],
        update_fields=["headline", "dek", "body"],
        batch_size=500,
    )
    ids = [document.story_id for document in documents]
    derived = {
        "listed_at": Subquery(Story.objects.filter(pk=OuterRef("story_id")).values("listed_at"))
    }
    if connection.vendor == "postgresql":
        derived.update(
            vector=weighted_vector(),
            rank_vector=weighted_vector(Left("body", RANKED_LEAD_CHARS)),
            headline_vector=headline_vector(),
        )
    SearchDocument.objects.filter(story_id__in=ids).update(**derived)
    return len(documents)


def rebuild_index(story_ids=None, progress=None, batch: int = 500) -> int:
    """Offer stories (by id; every story when None) to index_stories in
    batches, for loaders that bypass Story.save() (bulk_create, a restore) and
    for rebuilding the index from scratch. index_stories decides which are
    searchable, so the rule stays in one place. Returns how many are indexed.

    progress, if given, is called as progress("search index", done, total)."""
    if story_ids is None:
        story_ids = Story.objects.order_by("pk").values_list("pk", flat=True)
    ids = list(story_ids)
    indexed = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        indexed += index_stories(Story.objects.filter(pk__in=chunk).order_by("pk"))
        if progress:
            progress("search index", start + len(chunk), len(ids))
    return indexed
