"""What follows a change to content: the one path.

An action changes its rows inside a transaction (a workflow step, an admin
save or delete, a revision restore, a backup restore), writes its audit
entry, and then calls one function here, which says in one place what
follows:

- the search index follows at once, in the same transaction, so a search
  never finds what the change took away;
- the rendered fragments (stories/publishing/fragments.py) of every story
  that prints what changed get a new render stamp in the same transaction:
  a correction saved, moved or deleted on its own, a source, topic,
  contributor, section, newsletter or person a story names renamed or
  deleted (a password change or a source's new description renders nothing
  again). A story's stamp is also its own derived field: Story.save() gives
  it a new one whenever it writes a column readers see, which covers the
  bylines, citations and topics an action saves with the story;
- the page cache (stories/publishing/cache.py) is cleared once the change
  commits, and only when readers could see the change: a draft saved, a
  review comment, a story approved for a later issue or an issue scheduled
  for later leave every cached page as it is.

No signal receiver does any of this (tests/test_architecture.py holds the
project to that), and no model's save() does more than fill its own fields.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from stories.models import Issue, IssueItem, ListingEntry, Story
from stories.models.content import PUBLIC_STORY_STATUSES
from stories.publishing import cache, fragments
from stories.publishing.search_index import (
    index_stories,
    rebuild_index,
    refresh_search_document,
    sync_issue_stories,
)


def public_pages_changed() -> None:
    """Clear every cached public page once the current transaction commits
    (at once outside one). The one caller of cache.content_changed besides
    the scheduling rule below."""
    transaction.on_commit(cache.content_changed)


def held_by_live_issue(story: Story) -> bool:
    """Whether an issue readers see now holds story (one query)."""
    return IssueItem.objects.filter(story=story, issue__in=Issue.objects.published()).exists()


def story_changed(story: Story, fields=None, *, previous_status: str | None = None) -> None:
    """After an action saved story (fields: the ones it saved, None for all;
    previous_status: its status before, when the action changed it).

    Its rendered fragments need nothing more: the save gave the story a new
    render stamp (Story.save, whenever it writes a column readers see) in the
    same transaction as the bylines, citations and topics saved with it, so
    a reader gets the new stamp and the new rows together.

    Readers see a story that a live issue holds while its status is approved
    or published; the pages change if they saw it before or see it now.
    A save of the whole story (fields None: the admin's form with its topics,
    citations and bylines, a revision restored) may change what it is listed
    under, so its listing entries are rebuilt."""
    refresh_search_document(story, fields)
    if fields is None:
        ListingEntry.objects.rebuild(Story.objects.filter(pk=story.pk))
    statuses = {story.status, previous_status or story.status}
    if statuses & set(PUBLIC_STORY_STATUSES) and held_by_live_issue(story):
        public_pages_changed()


def _issue_stories_follow(issue: Issue) -> None:
    """Whether or when readers see issue changed: its stories' search rows and
    the date listings sort them by (Story.listed_at) follow."""
    sync_issue_stories(issue)
    Story.objects.filter(issue_items__issue=issue).refresh_listed_at()


def issue_changed(issue: Issue, *, readers_saw: bool = False) -> None:
    """After an action changed issue, its contents or its status: its
    stories' search rows follow, and the pages change if readers saw the
    issue before (readers_saw, as the action read it) or see it now."""
    _issue_stories_follow(issue)
    if readers_saw or Issue.objects.published().filter(pk=issue.pk).exists():
        public_pages_changed()


def issue_scheduled(issue: Issue, publish_at: datetime | None) -> None:
    """After issue was scheduled, rescheduled or unscheduled (publish_at:
    its new minute, None when unscheduled), before readers see it.

    Its stories are indexed ahead of the minute (the published gate shows
    them then, unaided). Cached pages are kept no longer than the schedule
    horizon they were cached under; only a minute earlier than that horizon
    (or an unknown one) makes them stale, and only then are they cleared.
    Otherwise the horizon is read again on the next render."""
    _issue_stories_follow(issue)
    transaction.on_commit(lambda: cache.schedule_changed(publish_at))


def story_rows_changed(story_ids) -> None:
    """After an action saved, moved or deleted rows that story pages print
    on their own (a correction from its admin page): the stories they were
    and are on (story_ids) are rendered again, and the pages clear.

    A correction changes the story page readers see, so it also moves the
    stories' updated_at, the one "modified" time that metadata, sitemap and
    feeds read: a plain UPDATE, not an edit of the story, so its version
    (which guards open edit forms) and its render stamp stay."""
    Story.objects.filter(pk__in=list(story_ids)).update(updated_at=timezone.now())
    fragments.forget(story_ids)
    public_pages_changed()


def shown_before(thing) -> tuple | None:
    """What story pages print of thing as stored, read by an action before it
    saves thing (None for a new one): shown_thing_changed compares with it."""
    return fragments.stored_shown_of(thing)


def shown_thing_changed(thing, before: tuple | None) -> None:
    """After an action saved thing, a source, topic, contributor, section,
    newsletter or person (before: shown_before(thing) from before the save).

    The stories naming it are rendered again if what they print of it
    changed (its name, say). Sources, topics, contributors, sections and
    newsletters have pages of their own, which print more of them (a
    description, a bio), so any save of one clears the cached pages; a
    person's save clears them only when what pages print changed, since a
    password, a permission or a sign-in is no reader's business."""
    changed = before is not None and before != fragments.shown_of(thing)
    if changed:
        fragments.forget(fragments.stories_showing(type(thing), [thing.pk]))
    if changed or type(thing) in fragments.SHOWN:
        public_pages_changed()


def stories_showing(model, ids) -> list[int]:
    """The stories that print any of the model rows with ids: read by an
    action before it deletes them, for shown_thing_deleted."""
    showing = Story.objects.filter(fragments.stories_showing(model, ids))
    return list(showing.values_list("pk", flat=True).distinct())


def shown_thing_deleted(story_ids) -> None:
    """After an action deleted things that the stories story_ids printed
    (stories_showing, read before): those are rendered again without them,
    and the pages clear."""
    fragments.forget(story_ids)
    public_pages_changed()


def content_restored(progress=None) -> int:
    """After a restore wrote a whole export into an empty newsroom: the
    search index is rebuilt for it (the number of stories indexed is
    returned), the listing dates follow its issues, and cached pages clear.
    Its stories' fragments need nothing: the file carries no render stamp
    (backup_format.UNCARRIED), so each restored story was written with a
    fresh one."""
    indexed = rebuild_index(progress=progress)
    Story.objects.refresh_listed_at()
    public_pages_changed()
    return indexed


def story_deleted(was_public: bool) -> None:
    """After an action deleted stories (their search rows went with them)."""
    if was_public:
        public_pages_changed()


def issue_deleted(story_ids, *, readers_saw: bool) -> None:
    """After an action deleted an issue that held story_ids: those stories
    may no longer be searchable."""
    index_stories(Story.objects.filter(pk__in=list(story_ids)))
    if readers_saw:
        public_pages_changed()


# -- the admin's saves -------------------------------------------------------
# Mixins for ModelAdmin classes: each save or delete made in the admin ends in
# the function above that says what follows it. Every admin of a model whose
# fields story pages print uses one (tests/test_architecture.py).


class ShownThingChangesFollow:
    """Sources, topics, contributors, sections, newsletters and people: story
    pages print them wherever a story names them, and the first five have
    public pages of their own. A save goes through shown_thing_changed, a
    delete through shown_thing_deleted."""

    def save_model(self, request, obj, form, change):
        before = shown_before(obj) if change else None
        super().save_model(request, obj, form, change)
        shown_thing_changed(obj, before)

    def delete_model(self, request, obj):
        showing = stories_showing(type(obj), [obj.pk])
        super().delete_model(request, obj)
        shown_thing_deleted(showing)

    def delete_queryset(self, request, queryset):
        showing = stories_showing(queryset.model, list(queryset.values_list("pk", flat=True)))
        super().delete_queryset(request, queryset)
        shown_thing_deleted(showing)


class StoryRowChangesFollow:
    """Rows a story page prints, edited on their own admin page (a
    correction): one saved, moved to another story or deleted goes through
    story_rows_changed for the story it was on and the one it is on."""

    def save_model(self, request, obj, form, change):
        stored = type(obj)._default_manager.filter(pk=obj.pk)
        was_on = stored.values_list("story_id", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        story_rows_changed({obj.story_id, was_on} - {None})

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        story_rows_changed([obj.story_id])

    def delete_queryset(self, request, queryset):
        were_on = set(queryset.values_list("story_id", flat=True))
        super().delete_queryset(request, queryset)
        story_rows_changed(were_on)


class StoryChangesFollow:
    """A story saved in the admin (with its topics, sources and bylines, so
    after its inlines) goes through story_changed: a draft's save leaves the
    cached pages alone, a published story's clears them."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        story_changed(form.instance)

    def delete_model(self, request, obj):
        was_public = Story.objects.published().filter(pk=obj.pk).exists()
        super().delete_model(request, obj)
        story_deleted(was_public)

    def delete_queryset(self, request, queryset):
        was_public = Story.objects.published().filter(pk__in=queryset.values("pk")).exists()
        super().delete_queryset(request, queryset)
        story_deleted(was_public)


class IssueChangesFollow:
    """An issue saved in the admin (with its list of stories) goes through
    issue_changed: a draft or an issue scheduled for later leaves the cached
    pages alone, a live one clears them."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        issue_changed(form.instance)

    def delete_model(self, request, obj):
        readers_saw = Issue.objects.published().filter(pk=obj.pk).exists()
        story_ids = list(obj.items.values_list("story_id", flat=True))
        super().delete_model(request, obj)
        issue_deleted(story_ids, readers_saw=readers_saw)

    def delete_queryset(self, request, queryset):
        readers_saw = Issue.objects.published().filter(pk__in=queryset.values("pk")).exists()
        story_ids = list(
            IssueItem.objects.filter(issue__in=queryset).values_list("story_id", flat=True)
        )
        super().delete_queryset(request, queryset)
        issue_deleted(story_ids, readers_saw=readers_saw)
