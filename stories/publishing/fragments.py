"""Story and issue HTML rendered once and kept in the cache, so public pages
only print it, and public reads never write to the database.

An issue page used to render every story's byline, attribution and callouts
per request from four queries' worth of rows, and a story page read its
bylines, citations and topics in three more queries. That HTML changes only
when the story, its bylines, its citations or its topics do, so it is
rendered once and kept as cache fragments: per story, what an issue shows of
it, its byline and its page's footer (``StoryFragments``); per issue, its list
of stories (``IssueFragments``).

Keys, not deletes, keep them fresh. A story's key holds its
``render_stamp``, a random number replaced whenever something the fragments
show changes. Story.save() replaces it when it writes a column readers see
(its status too, which decides whether an issue lists it; not a save of
Story.UNSHOWN_FIELDS alone), and so covers the bylines, citations and topics
an action (the story admin, a revision restore) saves in the same
transaction. What changes without a save of the story goes through the
actions' one path, stories/publishing/changes.py, which calls ``forget``
here: a correction saved, moved or removed on its own, a source, topic,
contributor, section, newsletter or person renamed or deleted (what
``SHOWN`` lists of it compared with the stored row, so a password change
re-renders nothing). A backup restore writes no stamp from the file:
each restored story gets a fresh one. No signal receiver is involved: a write
that goes around those actions (the shell, a data migration) calls changes.py
itself. Random rather than counted, so a stamp never comes back: not after a
restore that reuses the story's id, nor when a stale copy of the row is
saved (that save gets a new stamp too). An issue's key holds the
(story, render_stamp) pairs of the stories readers see in it, in order, so it
changes with any of them and with the issue's membership and order. Every
key holds ``format_key()``, a fingerprint of the templates and code that
render them and the settings that change their output. A fragment whose key
is no longer asked for is simply never read again, and expires.

There is nothing to race: a reader renders from rows read after the stamp in
its key, so what it keeps is never older than that stamp; a change commits
its rows and its new stamp together. No row is locked or written
by a read, so a read replica can serve public pages.

Lead images are printed from the story rows on every render, and an issue's
list (which shows them) never outlives the storage's signed image URLs
(``fragment_timeout``).
"""

import hashlib
import importlib
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Prefetch, Q
from django.template.loader import get_template, render_to_string

from stories.models import (
    Citation,
    Contributor,
    Correction,
    GuestByline,
    Issue,
    IssueItem,
    Newsletter,
    Section,
    Source,
    Story,
    TaggedTopic,
    Topic,
)
from stories.models.content import citations_of, new_render_stamp
from stories.people import display_name

# Every template the fragments come from, includes too: a deploy that changes
# any of them changes the format key, and each story is rendered again by its
# next reader. (A test holds this list to the templates' includes.)
TEMPLATES = (
    "stories/rendered/issue_stories.html",
    "stories/rendered/teaser.html",
    "stories/rendered/story_parts.html",
    "stories/rendered/correction_note.html",
    "stories/rendered/footer.html",
    "stories/includes/byline.html",
    "stories/includes/attribution.html",
    "stories/includes/lead_image.html",
)
# The Python that shapes the fragments (this module, the template filters,
# image srcsets): a deploy that changes it renders every story again too.
CODE_MODULES = ("stories.publishing.fragments", "stories.templatetags.reader", "stories.images")


@dataclass
class StoryFragments:
    """What pages print of a story beyond its own row."""

    byline_html: str = ""
    # What an issue shows of the story below its headline, dek, byline and
    # lead image: callouts, body and attribution.
    teaser_html: str = ""
    # The story page's "Corrected on" line under the byline, if corrected.
    correction_note_html: str = ""
    # The story page's attribution line, topic links and corrections.
    footer_html: str = ""
    # What the page's JSON-LD says of its authors and cited works.
    linked_data: dict = field(default_factory=dict)


@dataclass
class IssueFragments:
    """An issue's list of stories as readers see it, and what the issue's
    metadata says of them (their headlines and addresses, the first lead image)."""

    stories_html: str = ""
    linked_data: dict = field(default_factory=dict)


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


def fragment_timeout() -> int:
    """Seconds a fragment is kept. Storage that signs its URLs (S3's default)
    hands out image addresses that expire, and an issue's list prints them:
    it is kept for at most half their life, so no page shows a dead image."""
    storage = storages["default"]
    if getattr(storage, "querystring_auth", False):
        expires = int(getattr(storage, "querystring_expire", 3600))
        return max(60, min(settings.NEWSROOM_FRAGMENT_SECONDS, expires // 2))
    return settings.NEWSROOM_FRAGMENT_SECONDS


def story_key(story_id: int, render_stamp: int) -> str:
    return f"fragment:{format_key()}:story:{story_id}:{render_stamp}"


def issue_key(issue: Issue, shown: list[tuple[int, int]]) -> str:
    """The key of an issue's list: its format and the stories readers see in
    it, in order, each with its render stamp."""
    listed = hashlib.sha256(repr((issue.format, shown)).encode()).hexdigest()[:32]
    return f"fragment:{format_key()}:issue:{issue.pk}:{listed}"


# What an issue's list reads of each story beside its fragments: the story's
# own fields it shows around them (and the metadata's lead image).
ISSUE_STORY_FIELDS = (
    "headline",
    "slug",
    "dek",
    "lead_image",
    "lead_image_alt",
    "lead_image_caption",
    "lead_image_credit",
    "lead_image_renditions",
    "render_stamp",
)


# -- reading ------------------------------------------------------------------


def ensure_rendered(stories: Iterable[Story]) -> None:
    """Give every story in stories its ``story.rendered`` (StoryFragments):
    from the cache in one round trip, or rendered now and kept for the next
    reader."""
    wanted = {story_key(story.pk, story.render_stamp): story for story in stories}
    found = cache.get_many(list(wanted))
    missing = []
    for key, story in wanted.items():
        if key in found:
            story.rendered = found[key]
        else:
            missing.append(story)
    if not missing:
        return
    fresh = {story.pk: story for story in _with_everything_shown([s.pk for s in missing])}
    kept = {}
    for story in missing:
        current = fresh.get(story.pk)
        story.rendered = render(current) if current else StoryFragments()
        if current:
            # Under the stamp read with the rows it was rendered from: never
            # older than the key says.
            kept[story_key(current.pk, current.render_stamp)] = story.rendered
    cache.set_many(kept, timeout=fragment_timeout())


def issue_stories(items) -> list[Story]:
    """The stories of items (IssueItem rows of one issue) in order, with the
    fields an issue's list shows of them: one query."""
    items = (
        items.select_related("story")
        .only(*(f"story__{field}" for field in ISSUE_STORY_FIELDS))
        .order_by("position", "pk")
    )
    return [item.story for item in items]


def ensure_issue_rendered(issue: Issue) -> None:
    """Give a public issue its ``issue.rendered`` (IssueFragments): one query
    for the stamps of the stories readers see in it, then the cache, or
    rendered now and kept for the next reader."""
    public = IssueItem.objects.public().filter(issue=issue)
    shown = list(public.order_by("position", "pk").values_list("story_id", "story__render_stamp"))
    key = issue_key(issue, shown)
    rendering = cache.get(key)
    if rendering is None:
        rendering = render_issue(issue, issue_stories(public))
        cache.set(key, rendering, timeout=fragment_timeout())
    issue.rendered = rendering


def render_issue(issue: Issue, stories: list[Story]) -> IssueFragments:
    """The list an issue shows of stories (in order), with what its metadata
    says of them; public pages keep it, previews render it each time."""
    ensure_rendered(stories)
    lead = next((story for story in stories if story.lead_image), None)
    layout = issue.layout_for(len(stories))
    context = {"stories": stories, "layout": layout}
    if layout == Issue.Format.ESSAY:
        # Sections show their stories' own text, and the essay ends with one
        # byline and one attribution for all of them: two more queries for
        # the authors and citations, once per rendering.
        full = {story.pk: story for story in _with_everything_shown([s.pk for s in stories])}
        context["stories"] = sections = [full[story.pk] for story in stories]
        authors = list({a.pk: a for s in sections for a in s.authors.all()}.values())
        contributors = list(
            {
                b.contributor_id: b.contributor for s in sections for b in s.guest_bylines.all()
            }.values()
        )
        context["essay_byline"] = render_to_string(
            "stories/includes/byline.html", {"authors": authors, "contributors": contributors}
        ).strip()
        context["citations"] = citations_of(sections)
    return IssueFragments(
        stories_html=render_to_string("stories/rendered/issue_stories.html", context).strip(),
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
    return (
        Story.objects.filter(pk__in=story_ids)
        .select_related("section__newsletter")
        .prefetch_related(
            Prefetch("authors", people),
            Prefetch("guest_bylines", GuestByline.objects.select_related("contributor")),
            Prefetch("citations", Citation.objects.select_related("source")),
            "topics",
            Prefetch("corrections", Correction.objects.order_by("-created_at", "-pk")),
        )
    )


def render(story: Story) -> StoryFragments:
    """The fragments of story, whose authors, citations (with sources),
    topics and corrections are prefetched."""
    authors = list(story.authors.all())
    contributors = [byline.contributor for byline in story.guest_bylines.all()]
    citations = list(story.citations.all())
    topics = sorted(story.topics.all(), key=lambda topic: topic.name)
    corrections = list(story.corrections.all())
    byline = render_to_string(
        "stories/includes/byline.html", {"authors": authors, "contributors": contributors}
    ).strip()
    section = story.section
    context = {
        "story": story,
        "contributors": contributors,
        "citations": citations,
        "topics": topics,
        "corrections": corrections,
    }
    return StoryFragments(
        byline_html=byline,
        teaser_html=render_to_string("stories/rendered/teaser.html", context).strip(),
        correction_note_html=render_to_string(
            "stories/rendered/correction_note.html", context
        ).strip(),
        footer_html=render_to_string("stories/rendered/footer.html", context).strip(),
        linked_data={
            "authors": [{"name": display_name(a), "username": a.get_username()} for a in authors],
            "citations": [{"name": c.title or c.source.name, "url": c.url} for c in citations],
            "contributors": [{"name": c.name, "slug": c.slug} for c in contributors],
            "section": {"name": section.name, "newsletter": section.newsletter.name}
            if section
            else None,
        },
    )


# -- forgetting ---------------------------------------------------------------
# Called by stories/publishing/changes.py, which the actions call: never from
# a signal receiver.


def forget(stories: Q | Iterable[int]) -> None:
    """Give stories (a Q on Story, or ids) a new render stamp: their
    fragments, and the lists of the issues holding them, no longer match
    what they show. Locks the stories' rows in id order, as every other lock
    on several stories.

    A Q picks stories from what is committed: a byline, citation or tag being
    added by another transaction right now is not seen. So a Q is applied
    again once this transaction has committed, and every reader after that
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
            Story.objects.filter(pk__in=ids).update(render_stamp=new_render_stamp())
    if isinstance(stories, Q):

        def again():
            forget(list(Story.objects.filter(condition).values_list("pk", flat=True)))

        transaction.on_commit(again)


# What the fragments print of the things stories name, by model (people:
# PERSON_SHOWN). A save that leaves these as they were re-renders nothing: a
# password change, a sign-in stamping last_login, a source's new description.
SHOWN = {
    Source: ("name", "slug"),
    Topic: ("name", "slug"),
    Contributor: ("name", "slug", "bio", "url"),
    Section: ("name", "newsletter_id"),
    Newsletter: ("name",),
}
PERSON_SHOWN = ("username", "first_name", "last_name")


def shown_fields(model) -> tuple[str, ...]:
    return SHOWN.get(model, PERSON_SHOWN)


def shown_of(thing) -> tuple:
    """What the fragments print of thing, as it is in memory."""
    return tuple(getattr(thing, name) for name in shown_fields(type(thing)))


def stored_shown_of(thing) -> tuple | None:
    """What the fragments print of thing, as it is stored (None: not stored)."""
    if thing.pk is None:
        return None
    model = type(thing)
    return model._default_manager.filter(pk=thing.pk).values_list(*shown_fields(model)).first()


def stories_showing(model, things) -> Q:
    """The stories whose fragments name any of things (ids or rows of model:
    people, sources, topics, contributors, sections or newsletters)."""
    if model is Source:
        return Q(citations__source__in=things)
    if model is Topic:
        return Q(pk__in=TaggedTopic.objects.filter(tag__in=things).values("content_object"))
    if model is Contributor:
        return Q(guest_bylines__contributor__in=things)
    if model is Section:
        return Q(section__in=things)
    if model is Newsletter:
        return Q(section__newsletter__in=things)
    if model is get_user_model():
        return Q(authors__in=things)
    raise TypeError(f"Story fragments print nothing of {model.__name__}.")
