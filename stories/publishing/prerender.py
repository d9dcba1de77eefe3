"""Story HTML rendered once and kept, so public pages only print it.

An issue page used to render every story's byline, attribution and callouts
per request from four queries' worth of rows, and a story page read its
bylines, citations and topics in three more queries. That HTML changes only
when the story, its bylines, its citations or its topics do, so it is rendered
once and kept: a RenderedStory row per story (what an issue shows of it, its
byline, its page's footer) and a RenderedIssue row per public issue (its list
of stories, put together from theirs). Public pages read them in the same
query as the story or issue.

A row is rendered when first needed (``ensure_rendered`` and
``ensure_issue_rendered``, called by the pages) and dropped by ``forget``
whenever something it shows changes: a save of the story (its status too,
which decides whether an issue lists it), a byline added or removed, a
citation, topic or correction added, changed, moved or removed, a renamed
author, source or topic, an issue's stories added, removed or reordered, or
the issue published or withdrawn (the receivers below); and when the code or
templates it was rendered with change (``format_key``). So a rename of a
source that 5,000 stories cite is one DELETE, not 5,000 renders; each story
is rendered again by its next reader.

Race: a reader rendering from rows read just before an editor's change
commits must not keep that HTML. Both sides lock the rows involved: the
reader takes the story rows (and the issue row) with SELECT ... FOR UPDATE
SKIP LOCKED before reading anything it renders, and ``forget`` takes them
with SELECT ... FOR UPDATE before deleting. A render therefore either
finishes before the change's delete, which then removes it, or starts after
the change has committed and sees it. A reader that finds a row locked
renders for its own response and keeps nothing; an issue's list is kept only
while the issue is public. A rename finds its stories by a query, which
cannot see a byline, citation or tag another transaction is adding, so it
forgets them again after it commits (``forget``).

Public GET requests therefore write these rows: the app's database role needs
write access (as the admin's does), and during a rolling deploy that changes
the templates, old and new servers re-render each other's rows until the old
ones are gone.
"""

import hashlib
import importlib
import inspect
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Prefetch, Q
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.template.loader import get_template, render_to_string

from stories.models import (
    Citation,
    Correction,
    Issue,
    IssueItem,
    RenderedIssue,
    RenderedStory,
    Source,
    Story,
    TaggedTopic,
    Topic,
)
from stories.people import display_name

# Every template the kept HTML comes from, includes too: a deploy that changes
# any of them changes the format key, and each story is rendered again by its
# next reader. (A test holds this list to the templates' includes.)
TEMPLATES = (
    "stories/rendered/issue_stories.html",
    "stories/rendered/teaser.html",
    "stories/rendered/correction_note.html",
    "stories/rendered/footer.html",
    "stories/includes/byline.html",
    "stories/includes/attribution.html",
    "stories/includes/lead_image.html",
)
# The Python that shapes the kept HTML (this module, the template filters,
# image srcsets): a deploy that changes it renders every story again too.
CODE_MODULES = ("stories.publishing.prerender", "stories.templatetags.reader", "stories.images")
# The story columns kept HTML never shows: a save that writes only these
# keeps it. Any other column (a new one too) drops it; the status is not
# shown but decides whether an issue's list holds the story.
UNSHOWN_FIELDS = frozenset(
    {
        "created_by",
        "created_at",
        "updated_at",
        "version",
        "submitted_at",
        "status_changed_at",
        "published_at",
    }
)
KEPT_FIELDS = [
    "format_key",
    "byline_html",
    "teaser_html",
    "correction_note_html",
    "footer_html",
    "linked_data",
]


@lru_cache(maxsize=1)
def format_key() -> str:
    """What the running code renders with: its templates' and modules' text,
    and the settings that change their output (where images are served from,
    the zone and language dates are written in)."""
    shown_settings = (settings.MEDIA_URL, settings.TIME_ZONE, settings.LANGUAGE_CODE)
    digest = hashlib.sha256(repr((shown_settings, settings.STORAGES["default"])).encode())
    for name in TEMPLATES:
        digest.update(get_template(name).template.source.encode())
    for module in CODE_MODULES:
        digest.update(inspect.getsource(importlib.import_module(module)).encode())
    return digest.hexdigest()[:32]


# What an issue's list reads of each story beside its kept HTML: the story's
# own fields it shows around that HTML (and the metadata's lead image).
ISSUE_STORY_FIELDS = (
    "headline",
    "slug",
    "dek",
    "lead_image",
    "lead_image_alt",
    "lead_image_caption",
    "lead_image_credit",
    "lead_image_renditions",
)


# -- reading ------------------------------------------------------------------


def _kept(obj):
    """obj's kept rendering (a story's or an issue's) if current, else None."""
    try:
        rendered = obj.rendered
    except (RenderedStory.DoesNotExist, RenderedIssue.DoesNotExist):
        return None
    return rendered if rendered.format_key == format_key() else None


def ensure_rendered(stories: Iterable[Story]) -> None:
    """Give every story in stories a current ``story.rendered``: the kept one
    (load stories with select_related("rendered") to make this free), or one
    rendered now and kept for the next reader."""
    stale = [story for story in stories if _kept(story) is None]
    if not stale:
        return
    fresh = render_and_keep([story.pk for story in stale])
    for story in stale:
        story.rendered = fresh[story.pk]


def render_and_keep(story_ids: list[int]) -> dict[int, RenderedStory]:
    """Render the stories' HTML from their current rows; keep each rendering
    whose story row this transaction could lock (see the module's note)."""
    with transaction.atomic():
        lockable = set(
            Story.objects.filter(pk__in=story_ids)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        rendered = {story.pk: render(story) for story in _with_everything_shown(story_ids)}
        kept = [rendering for pk, rendering in rendered.items() if pk in lockable]
        if kept:
            RenderedStory.objects.bulk_create(
                kept, update_conflicts=True, unique_fields=["story"], update_fields=KEPT_FIELDS
            )
    return rendered


def issue_stories(items) -> list[Story]:
    """The stories of items (IssueItem rows of one issue) in order, each with
    its kept HTML if any: one query."""
    items = (
        items.select_related("story", "story__rendered")
        .only(
            *(f"story__{field}" for field in ISSUE_STORY_FIELDS),
            "story__rendered__format_key",
            "story__rendered__byline_html",
            "story__rendered__teaser_html",
        )
        .order_by("position", "pk")
    )
    return [item.story for item in items]


def ensure_issue_rendered(issue: Issue) -> None:
    """Give a public issue a current ``issue.rendered``: the kept one (load it
    with select_related("rendered") to make this free), or one rendered now
    from its stories' kept HTML and kept for the next reader."""
    if _kept(issue) is None:
        issue.rendered = render_issue_and_keep(issue)


def render_issue_and_keep(issue: Issue) -> RenderedIssue:
    with transaction.atomic():
        # Locked before the stories are read (see the module's note): the
        # issue's row against changes to its items, every story it holds
        # against edits, including a withdrawal that would take it off the list.
        # Kept only if the issue is still public under the lock: a list
        # rendered as it is withdrawn must not wait for its republication.
        issue_locked = (
            Issue.objects.published()
            .filter(pk=issue.pk)
            .select_for_update(skip_locked=True)
            .exists()
        )
        held = set(IssueItem.objects.filter(issue=issue).values_list("story_id", flat=True))
        locked = set(
            Story.objects.filter(pk__in=held)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        rendering = render_issue(
            issue, issue_stories(IssueItem.objects.public().filter(issue=issue))
        )
        if issue_locked and locked == held:
            RenderedIssue.objects.bulk_create(
                [rendering],
                update_conflicts=True,
                unique_fields=["issue"],
                update_fields=["format_key", "stories_html", "linked_data"],
            )
    return rendering


def render_issue(issue: Issue, stories: list[Story]) -> RenderedIssue:
    """The list an issue shows of stories (in order), with what its metadata
    says of them; public pages keep it, previews render it each time."""
    ensure_rendered(stories)
    lead = next((story for story in stories if story.lead_image), None)
    return RenderedIssue(
        issue=issue,
        format_key=format_key(),
        stories_html=render_to_string(
            "stories/rendered/issue_stories.html", {"stories": stories}
        ).strip(),
        linked_data={
            "stories": [
                {"name": story.headline, "path": story.get_absolute_url()} for story in stories
            ],
            "image": lead.lead_image.url if lead else "",
            "image_alt": lead.lead_image_alt if lead else "",
        },
    )


def _with_everything_shown(story_ids):
    people = get_user_model().objects.only("username", "first_name", "last_name")
    return Story.objects.filter(pk__in=story_ids).prefetch_related(
        Prefetch("authors", people),
        Prefetch("citations", Citation.objects.select_related("source")),
        "topics",
        Prefetch("corrections", Correction.objects.order_by("-created_at", "-pk")),
    )


def render(story: Story) -> RenderedStory:
    """The kept HTML of story, whose authors, citations (with sources),
    topics and corrections are prefetched."""
    authors = list(story.authors.all())
    citations = list(story.citations.all())
    topics = sorted(story.topics.all(), key=lambda topic: topic.name)
    corrections = list(story.corrections.all())
    byline = render_to_string("stories/includes/byline.html", {"authors": authors}).strip()
    context = {
        "story": story,
        "citations": citations,
        "topics": topics,
        "corrections": corrections,
    }
    return RenderedStory(
        story_id=story.pk,
        format_key=format_key(),
        byline_html=byline,
        teaser_html=render_to_string("stories/rendered/teaser.html", context).strip(),
        correction_note_html=render_to_string(
            "stories/rendered/correction_note.html", context
        ).strip(),
        footer_html=render_to_string("stories/rendered/footer.html", context).strip(),
        linked_data={
            "authors": [{"name": display_name(a), "username": a.get_username()} for a in authors],
            "citations": [{"name": c.title or c.source.name, "url": c.url} for c in citations],
        },
    )


# -- forgetting ---------------------------------------------------------------


def forget(stories: Q | Iterable[int]) -> None:
    """Drop the kept HTML of stories (a Q on Story, or ids) and of the issues
    holding them: it no longer matches what they show. Locks the stories' rows
    first, in id order as every other lock on several stories (see the
    module's note).

    A Q picks stories from what is committed: a byline, citation or tag being
    added by another transaction right now is not seen, and a reader could
    render that story between the two commits with the name this change
    replaces. So a Q is applied again once this transaction has committed,
    when everything rendered before it is dropped and every later reader
    sees the change."""
    condition = stories if isinstance(stories, Q) else Q(pk__in=list(stories))
    with transaction.atomic():
        ids = list(
            Story.objects.filter(condition)
            .order_by("pk")
            .select_for_update(of=("self",))
            .values_list("pk", flat=True)
        )
        if ids:
            RenderedStory.objects.filter(story_id__in=ids).delete()
            RenderedIssue.objects.filter(issue__items__story_id__in=ids).delete()
    if isinstance(stories, Q):

        def again():
            forget(list(Story.objects.filter(condition).values_list("pk", flat=True)))

        transaction.on_commit(again)


def forget_issue(issue_id: int) -> None:
    """Drop an issue's kept list: its stories were added, removed or
    reordered, or it was published or withdrawn. Locks the issue's row first
    (see the module's note)."""
    with transaction.atomic():
        if Issue.objects.filter(pk=issue_id).select_for_update().exists():
            RenderedIssue.objects.filter(issue_id=issue_id).delete()


def _story_saved(sender, instance, raw, created, update_fields, **kwargs):
    if raw or created:
        return
    if update_fields is not None and UNSHOWN_FIELDS.issuperset(update_fields):
        return
    forget([instance.pk])


def _bylines_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear", "pre_clear"):
        return
    if not reverse:
        forget([instance.pk])
    elif action == "pre_clear":
        # A person's bylines cleared: which stories is only known before.
        forget(_stories_showing(instance))
    elif pk_set:
        forget(pk_set)


# What a save compares with the stored row: the story (or issue) a row
# belongs to, so a row moved to another is forgotten on both; and what kept
# HTML shows of a person, source or topic, so a password change or a source's
# new description re-renders nothing.
COMPARED = {
    Citation: ("story_id",),
    Correction: ("story_id",),
    TaggedTopic: ("content_object_id",),
    IssueItem: ("issue_id",),
    Source: ("name", "slug"),
    Topic: ("name", "slug"),
}
PERSON_SHOWN = ("username", "first_name", "last_name")


def _compared(model) -> tuple[str, ...]:
    return COMPARED.get(model, PERSON_SHOWN)


def _remember_before(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or instance.pk is None:
        return
    compared = {field.removesuffix("_id") for field in _compared(sender)}
    if update_fields is not None and not compared.intersection(update_fields):
        return  # say, a sign-in stamping last_login
    stored = sender._default_manager.filter(pk=instance.pk)
    instance._prerender_before = stored.values_list(*_compared(sender)).first()


def _before(instance) -> tuple:
    return getattr(instance, "_prerender_before", None) or ()


def _changed(sender, instance) -> bool:
    before = getattr(instance, "_prerender_before", None)
    return before is not None and before != tuple(
        getattr(instance, field) for field in _compared(sender)
    )


def _row_of_story_changed(sender, instance, raw=False, **kwargs):
    # A citation, correction or topic tag was added, changed, moved or removed.
    if raw:
        return
    (field,) = _compared(sender)
    forget({getattr(instance, field), *_before(instance)})


def _item_changed(sender, instance, raw=False, **kwargs):
    if raw:
        return
    for issue_id in {instance.issue_id, *_before(instance)}:
        forget_issue(issue_id)


def _issue_saved(sender, instance, raw, created, update_fields, **kwargs):
    # Published or withdrawn: a list rendered just before must not outlive it.
    if raw or created:
        return
    if update_fields is None or {"status", "publish_at"} & set(update_fields):
        forget_issue(instance.pk)


def _stories_showing(thing) -> Q:
    """The stories whose kept HTML names thing: a person, a source or a topic."""
    if isinstance(thing, Source):
        return Q(citations__source=thing)
    if isinstance(thing, Topic):
        return Q(pk__in=TaggedTopic.objects.filter(tag=thing).values("content_object"))
    return Q(authors=thing)


def _renamed(sender, instance, raw, created, **kwargs):
    if not (raw or created) and _changed(sender, instance):
        forget(_stories_showing(instance))


def _person_deleted(sender, instance, **kwargs):
    forget(_stories_showing(instance))


def connect() -> None:
    """Hook forget() to every change the kept HTML shows (from AppConfig.ready)."""
    User = get_user_model()
    uid = "stories.publishing.prerender"
    post_save.connect(_story_saved, sender=Story, dispatch_uid=f"{uid}.story")
    post_save.connect(_issue_saved, sender=Issue, dispatch_uid=f"{uid}.issue")
    m2m_changed.connect(_bylines_changed, sender=Story.authors.through, dispatch_uid=f"{uid}.by")
    for model in (*COMPARED, User):
        pre_save.connect(_remember_before, sender=model, dispatch_uid=f"{uid}.{model}.before")
    for model in (Citation, Correction, TaggedTopic):
        post_save.connect(_row_of_story_changed, sender=model, dispatch_uid=f"{uid}.{model}.s")
        post_delete.connect(_row_of_story_changed, sender=model, dispatch_uid=f"{uid}.{model}.d")
    post_save.connect(_item_changed, sender=IssueItem, dispatch_uid=f"{uid}.item.s")
    post_delete.connect(_item_changed, sender=IssueItem, dispatch_uid=f"{uid}.item.d")
    for model in (User, Source, Topic):
        post_save.connect(_renamed, sender=model, dispatch_uid=f"{uid}.{model}.renamed")
    pre_delete.connect(_person_deleted, sender=User, dispatch_uid=f"{uid}.person.d")
