"""What follows a change to content: the one path.

An action changes its rows inside a transaction (a workflow step, an admin
save, a restore, an import), writes its audit entry, and then calls one
function here, which says in one place what follows:

- the search index follows at once, in the same transaction, so a search
  never finds what the change took away;
- the page cache (stories/publishing/cache.py) is cleared once the change
  commits, and only when readers could see the change: a draft saved, a
  review comment, a story approved for a later issue or an issue scheduled
  for later leave every cached page as it is.

No signal receiver and no model's save() does any of this.
"""

from datetime import datetime

from django.db import transaction

from stories.models import Issue, IssueItem, ListingEntry, Story
from stories.models.content import PUBLIC_STORY_STATUSES
from stories.publishing import cache
from stories.publishing.search_index import (
    index_stories,
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
# the function above that says what follows it.


class InvalidatesPublicPages:
    """Things public pages print wherever they appear (a source's or topic's
    name, a newsletter's details, a correction): any save or delete clears
    the cached pages once it commits."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        public_pages_changed()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        public_pages_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        public_pages_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        public_pages_changed()


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
