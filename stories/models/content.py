"""What the newsroom publishes: stories, the sources they cite, topics, issues."""

import logging
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from taggit.managers import TaggableManager
from taggit.models import TagBase, TaggedItemBase

from stories.clock import local
from stories.images import (
    LeadImageField,
    make_renditions,
    renditions_are_current,
    validate_lead_image,
)
from stories.models.versioned import VersionedModel
from stories.rendering import render_markdown
from stories.timebounds import in_range, validate_time

logger = logging.getLogger(__name__)


def unique_slug(
    instance: models.Model, value: str, field: str = "slug", max_length: int = 200
) -> str:
    """Slugify value and add -2, -3... until no other row of the model uses it."""
    base = slugify(value)[: max_length - 8].strip("-") or "untitled"
    manager = type(instance)._default_manager
    candidate, n = base, 2
    while manager.filter(**{field: candidate}).exclude(pk=instance.pk).exists():
        candidate, n = f"{base}-{n}", n + 1
    return candidate


class Topic(TagBase):
    """A subject readers follow, such as "DeepSeek" or "AI governance"."""

    description = models.TextField(blank=True)

    class Meta:
        verbose_name = "topic"
        verbose_name_plural = "topics"
        ordering = ["name"]

    def get_absolute_url(self) -> str:
        return reverse("stories:topic", args=[self.slug])

    def slugify(self, tag, i=None):
        """Names in any script keep their own letters in the address (taggit's
        rule); a name with no letters or digits at all, such as "<<>>", still
        gets one."""
        slug = super().slugify(tag) or "topic"
        return slug if i is None else f"{slug}_{i}"


class TaggedTopic(TaggedItemBase):
    content_object = models.ForeignKey("Story", on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="tagged_stories")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_object", "tag"], name="unique_story_topic")
        ]

    def __str__(self) -> str:
        # The topic alone: taggit's "<story> tagged with <topic>" costs the
        # story's row for every topic listed in the story's admin form.
        return str(self.tag)


class Source(models.Model):
    """An outlet or origin a story leans on: a newspaper, a digest, market data."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    url = models.URLField("home page", blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unique_slug(self, self.name)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("stories:source", args=[self.slug])


def new_render_stamp() -> int:
    """A fresh random stamp: never one a story had before, even after a restore."""
    return secrets.randbits(62)


class StoryStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"


class IssueStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"


class IssueFormat(models.TextChoices):
    """How an issue reads: what its page, its feed entry and its mail show
    around each story."""

    DIGEST = "digest", "Digest: numbered stories, each with its byline and sources"
    ESSAY = "essay", "Essay: sections that read as one piece, one attribution at the end"
    POST = "post", "Post: one story under the issue's headline"


PUBLIC_ISSUE_STATUSES = (IssueStatus.SCHEDULED, IssueStatus.PUBLISHED)
PUBLIC_STORY_STATUSES = (StoryStatus.APPROVED, StoryStatus.PUBLISHED)


def public_issue(now=None, through: str = "") -> Q:
    """The one rule for which issues readers may see, as a condition on the
    issue reached through the lookup path ``through`` (e.g. "issue__").

    A scheduled issue counts from its publication time on, by this condition
    alone: no background job has to run for it to appear on time.
    """
    now = now or timezone.now()
    return Q(**{f"{through}status__in": PUBLIC_ISSUE_STATUSES, f"{through}publish_at__lte": now})


class IssueQuerySet(models.QuerySet):
    def published(self, now=None):
        """The issues readers may see (see public_issue)."""
        return self.filter(public_issue(now))

    def upcoming(self, now=None):
        """Scheduled issues whose minute has not come yet: readers will see
        them, unaided, once it does."""
        now = now or timezone.now()
        return self.filter(status=IssueStatus.SCHEDULED, publish_at__gt=now)

    def published_or_upcoming(self):
        """The issues readers see now or will see without anyone acting:
        published() and upcoming() together. A published issue never has a
        future publish_at, so the status alone says it."""
        return self.filter(status__in=PUBLIC_ISSUE_STATUSES)


class StoryQuerySet(models.QuerySet):
    def published(self, now=None):
        """The one rule for which stories readers may see: those an issue
        readers may see holds, unless the story itself was withdrawn.
        IssueItem.objects.public() is the same rule from the items' side.

        The issue is joined inside the EXISTS rather than nested as a second
        subquery: the same rows, a simpler plan, and less SQL to build on
        every public request.
        """
        in_visible_issue = IssueItem.objects.filter(
            public_issue(now, "issue__"), story=OuterRef("pk")
        )
        return self.filter(Exists(in_visible_issue), status__in=PUBLIC_STORY_STATUSES)

    def refresh_listed_at(self) -> int:
        """Set listed_at of these stories from the issues that hold them: the
        earliest publication time of a scheduled or published issue, or none.
        Called whenever an issue's status or time changes (the workflow) and
        after loaders that bypass it (a restore); the stories' listing
        entries and search rows follow."""
        first_issue = (
            IssueItem.objects.filter(story=OuterRef("pk"), issue__status__in=PUBLIC_ISSUE_STATUSES)
            .order_by("issue__publish_at")
            .values("issue__publish_at")[:1]
        )
        updated = self.update(listed_at=Subquery(first_issue))
        from stories.models.listings import ListingEntry
        from stories.models.search import SearchDocument

        ListingEntry.objects.rebuild(self)
        # Search rows carry a copy, to find the newest matches by index.
        SearchDocument.objects.filter(story__in=self.values("pk")).update(
            listed_at=Subquery(
                self.model.objects.filter(pk=OuterRef("story_id")).values("listed_at")
            )
        )
        return updated


def first_public_date():
    """The one rule for when readers first could see a story, as an expression
    on Story rows: its published_at (stamped when its first issue went out),
    or, while a due scheduled issue awaits that bookkeeping, the minute of the
    earliest public issue holding it. Story.first_public_date is the same
    rule for a story whose public issues are already read."""
    first_issue = (
        IssueItem.objects.filter(story=OuterRef("pk"), issue__in=Issue.objects.published())
        .order_by("issue__publish_at")
        .values("issue__publish_at")[:1]
    )
    return Coalesce("published_at", Subquery(first_issue))


def lead_image_path(instance: "Story", filename: str) -> str:
    return timezone.now().strftime("lead-images/%Y/%m/") + filename


class Story(VersionedModel):
    Status = StoryStatus
    # Markdown fields and the field each one is rendered into on save.
    MARKDOWN_FIELDS = {
        "body": "body_html",
        "tldr": "tldr_html",
        "why_it_matters": "why_it_matters_html",
        "key_points": "key_points_html",
    }
    # The columns readers never see the story by: a save that writes only
    # these keeps its render_stamp (the key of its rendered fragments). Any
    # other column, a new one too, gets a new stamp; the status is not printed
    # but decides whether an issue's list holds the story.
    UNSHOWN_FIELDS = frozenset(
        {
            "created_by",
            "created_at",
            "updated_at",
            "version",
            "render_stamp",
            "submitted_at",
            "status_changed_at",
            "published_at",
        }
    )

    headline = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=200,
        unique=True,
        blank=True,
        help_text="The story's address; filled from the headline if empty.",
    )
    dek = models.CharField(
        "dek (subtitle)",
        max_length=300,
        blank=True,
        help_text="One sentence under the headline; also the page description.",
    )
    tldr = models.TextField("TL;DR", blank=True, help_text="Optional. Markdown.")
    body = models.TextField(blank=True, help_text="Markdown: headings, lists, bold, links.")
    why_it_matters = models.TextField(
        blank=True, help_text="Optional. Markdown: a list of short points or a few paragraphs."
    )
    key_points = models.TextField(
        blank=True, help_text="Optional. Markdown list; start each point with a **bold label:**."
    )
    body_html = models.TextField(editable=False, blank=True)
    tldr_html = models.TextField(editable=False, blank=True)
    why_it_matters_html = models.TextField(editable=False, blank=True)
    key_points_html = models.TextField(editable=False, blank=True)

    lead_image = LeadImageField(
        upload_to=lead_image_path,
        blank=True,
        validators=[validate_lead_image],
        help_text="JPEG, PNG, WebP or GIF. Smaller copies for phones are made on upload.",
    )
    lead_image_alt = models.CharField(
        "alt text", max_length=300, blank=True, help_text="Required with an image: what it shows."
    )
    lead_image_caption = models.CharField("caption", max_length=300, blank=True)
    lead_image_credit = models.CharField(
        "credit",
        max_length=200,
        blank=True,
        help_text='Who made it, e.g. "Grok | DeepSeek Satellite".',
    )
    # Resized copies made at upload for srcset (stories/images.py):
    # {"source": name, "width": w, "height": h, "files": {"480": "path", ...}}.
    lead_image_renditions = models.JSONField(default=dict, blank=True, editable=False)

    newsletter = models.ForeignKey(
        "stories.Newsletter",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="stories",
        help_text="The newsletter it is written for; editors see it when assembling issues.",
    )
    section = models.ForeignKey(
        "stories.Section",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="stories",
        help_text="The part of its newsletter it runs under, when the newsletter has sections.",
    )
    authors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="stories", blank=True, help_text="The bylines."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="created_stories",
        editable=False,
    )
    topics = TaggableManager(through=TaggedTopic, blank=True, help_text="Comma-separated topics.")
    sources = models.ManyToManyField(Source, through="Citation", related_name="stories", blank=True)

    status = models.CharField(
        max_length=20,
        choices=StoryStatus.choices,
        default=StoryStatus.DRAFT,
        editable=False,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(
        default=timezone.now, editable=False, validators=[validate_time]
    )
    submitted_at = models.DateTimeField(
        null=True, blank=True, editable=False, validators=[validate_time]
    )
    published_at = models.DateTimeField(
        null=True, blank=True, editable=False, validators=[validate_time]
    )
    # When readers first see the story: the publication time of the earliest
    # scheduled or published issue holding it (refresh_listed_at). Stored so
    # that listings sort on an index and page by keyset; whether readers may
    # see the story now is still decided by published() alone.
    listed_at = models.DateTimeField(
        null=True, blank=True, editable=False, validators=[validate_time]
    )
    # Names the current rendering of what readers see of the story, its
    # bylines, citations, topics and corrections: the key of its cached
    # fragments (stories/publishing/fragments.py). save() replaces it when it
    # writes a shown column; what changes around the story (a byline, a
    # citation, a renamed source) replaces it through
    # stories/publishing/changes.py.
    render_stamp = models.BigIntegerField(default=new_render_stamp, editable=False)

    objects = StoryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "stories"
        ordering = ["-created_at"]
        permissions = [
            ("edit_any_story", "Can edit stories by anyone"),
            ("review_story", "Can approve stories or request changes"),
            ("withdraw_story", "Can withdraw a published story"),
        ]
        indexes = [
            models.Index(fields=["status", "submitted_at"]),
            # Listings: newest first, paged by (listed_at, id) cursors.
            models.Index(fields=["listed_at", "id"], name="story_listing"),
            # The admin's list: newest first (the model's ordering, then id).
            models.Index(fields=["created_at", "id"], name="story_created"),
        ]
        constraints = [
            *VersionedModel.Meta.constraints,
            *(
                in_range(name)
                for name in ("status_changed_at", "submitted_at", "published_at", "listed_at")
            ),
        ]

    def __str__(self) -> str:
        return self.headline

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if not self.slug:
            self.slug = unique_slug(self, self.headline)
        for source, target in self.MARKDOWN_FIELDS.items():
            if update_fields is None or source in update_fields:
                setattr(self, target, render_markdown(getattr(self, source)))
        if update_fields is None or "lead_image" in update_fields:
            self._derive_renditions()
        shown = update_fields is None or not self.UNSHOWN_FIELDS.issuperset(update_fields)
        if shown:
            # Random, never counted: a stale copy of the row saved over a
            # newer one still gets a stamp no rendering was kept under.
            self.render_stamp = new_render_stamp()
        if update_fields is not None:
            derived = {self.MARKDOWN_FIELDS[f] for f in update_fields if f in self.MARKDOWN_FIELDS}
            if shown:
                derived.add("render_stamp")
            if "lead_image" in update_fields:
                derived.add("lead_image_renditions")
            kwargs["update_fields"] = {*update_fields, *derived}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("stories:story", args=[self.slug])

    def choice_label(self) -> str:
        """The story as the issue's story picker offers it: enough to tell two
        stories with the same headline apart (its status and since when, its
        newsletter, its address)."""
        when = local(self.status_changed_at).strftime("%-d %b %Y")
        newsletter = self.newsletter.name if self.newsletter_id else "no newsletter"
        return (
            f"{self.headline} — {self.get_status_display().lower()} {when} · {newsletter} "
            f"· /{self.slug}"
        )

    def first_public_date(self, public_issues):
        """first_public_date() for this story, given the public issues holding
        it in order of publication (none: readers cannot see it)."""
        if not public_issues:
            return None
        return self.published_at or public_issues[0].publish_at

    def _derive_renditions(self) -> None:
        image = self.lead_image
        if not image:
            self.lead_image_renditions = {}
            return
        if not image._committed:
            # Store the upload now (as the field would during the save) so the
            # renditions are made from the file under its final name.
            image.save(image.name, image.file, save=False)
        if not renditions_are_current(self.lead_image_renditions, image):
            try:
                self.lead_image_renditions = make_renditions(image)
            except OSError:
                # A stored file that went missing or broke must not block
                # editing the story; the page falls back to the original.
                logger.warning("Could not make renditions of %s", image.name, exc_info=True)
                self.lead_image_renditions = {}

    def clean(self):
        if self.lead_image and not self.lead_image_alt.strip():
            raise ValidationError(
                {"lead_image_alt": "Describe the lead image for readers who cannot see it."}
            )
        if self.section_id and self.section.newsletter_id != self.newsletter_id:
            where = self.newsletter.name if self.newsletter_id else "no newsletter"
            raise ValidationError(
                {
                    "section": f"“{self.section.name}” is a section of "
                    f"{self.section.newsletter.name}, and this story is for {where}: choose "
                    "that newsletter, or one of its own sections."
                }
            )

    def is_authored_by(self, user) -> bool:
        """Whether user owns this story: its creator or one of its bylines."""
        if not user.is_authenticated:
            return False
        return self.created_by_id == user.pk or self.authors.filter(pk=user.pk).exists()


class Citation(models.Model):
    """A story's use of a source: the exact page it leans on."""

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="citations")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="citations")
    url = models.URLField("exact URL", max_length=500, blank=True)
    title = models.CharField(max_length=300, blank=True)
    note = models.CharField(
        max_length=300, blank=True, help_text='Optional, e.g. "Reworked from their reporting".'
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.title or self.source.name


def citations_of(stories) -> list["Citation"]:
    """The citations of stories (prefetched with their sources), in order,
    each outlet and page named once: one attribution for a whole essay."""
    seen, merged = set(), []
    for story in stories:
        for citation in story.citations.all():
            key = (citation.source_id, citation.url, citation.title)
            if key not in seen:
                seen.add(key)
                merged.append(citation)
    return merged


class Correction(models.Model):
    """A dated note on a published story, shown to readers newest first."""

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="corrections")
    text = models.TextField(help_text="Markdown. What was wrong and what is right.")
    text_html = models.TextField(editable=False, blank=True)
    created_at = models.DateTimeField(default=timezone.now, validators=[validate_time])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [in_range("created_at")]

    def __str__(self) -> str:
        return f"Correction to {self.story} on {self.created_at:%Y-%m-%d}"

    def save(self, *args, **kwargs):
        self.text_html = render_markdown(self.text)
        super().save(*args, **kwargs)

    def clean(self):
        # A correction is a public note on what readers saw; a story they
        # cannot see yet is simply edited.
        if self.story_id and not Story.objects.published().filter(pk=self.story_id).exists():
            raise ValidationError(
                {"story": "Corrections are for stories readers can see; edit this one instead."}
            )


class Issue(VersionedModel):
    """A numbered edition: an intro, an ordered list of stories, a closing TL;DR."""

    Status = IssueStatus
    Format = IssueFormat

    newsletter = models.ForeignKey(
        "stories.Newsletter",
        on_delete=models.PROTECT,
        related_name="issues",
        help_text="The newsletter this issue is an edition of; numbers count per newsletter.",
    )
    number = models.PositiveIntegerField()
    headline = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=200, blank=True, help_text="Filled from the headline if empty."
    )
    intro = models.TextField(blank=True, help_text="Markdown.")
    intro_html = models.TextField(editable=False, blank=True)
    closing_tldr = models.TextField("closing TL;DR", blank=True, help_text="Markdown.")
    closing_tldr_html = models.TextField(editable=False, blank=True)
    format = models.CharField(
        max_length=10,
        choices=IssueFormat.choices,
        default=IssueFormat.DIGEST,
        help_text="How readers see it on the web, in feeds and by mail. A post holds one story.",
    )
    stories = models.ManyToManyField(Story, through="IssueItem", related_name="issues")

    status = models.CharField(
        max_length=20,
        choices=IssueStatus.choices,
        default=IssueStatus.DRAFT,
        editable=False,
        db_index=True,
    )
    # When readers may see it: the scheduled minute, or when it was published now.
    publish_at = models.DateTimeField(
        null=True, blank=True, editable=False, db_index=True, validators=[validate_time]
    )
    # When the bookkeeping actually ran (publish now, or publish_scheduled).
    published_at = models.DateTimeField(
        null=True, blank=True, editable=False, validators=[validate_time]
    )

    objects = IssueQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        permissions = [("publish_issue", "Can schedule, publish and withdraw issues")]
        indexes = [
            models.Index(fields=["status", "publish_at"]),
            # The archive: newest first, paged by (publish_at, number) cursors.
            models.Index(fields=["publish_at", "number"], name="issue_archive"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["newsletter", "number"],
                name="issue_number_once_per_newsletter",
                violation_error_message="This newsletter already has an issue with this number.",
            ),
            *VersionedModel.Meta.constraints,
            *(in_range(name) for name in ("publish_at", "published_at")),
        ]

    def __str__(self) -> str:
        return f"#{self.number}: {self.headline}"

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if not self.slug:
            self.slug = slugify(self.headline)[:200] or f"issue-{self.number}"
        self.intro_html = render_markdown(self.intro)
        self.closing_tldr_html = render_markdown(self.closing_tldr)
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "intro_html", "closing_tldr_html"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        # Numbers count per newsletter, so the address names both. Lists of
        # issues load the newsletter with them (select_related) to print it.
        return reverse("stories:issue", args=[self.newsletter.slug, self.number])

    def layout_for(self, story_count: int) -> str:
        """The format readers get for an issue holding story_count stories: a
        post is one story, so a "post" that holds several reads as a digest."""
        if self.format == IssueFormat.POST and story_count != 1:
            return IssueFormat.DIGEST
        return self.format

    @property
    def is_locked(self) -> bool:
        """Scheduled and published issues keep their contents as they are."""
        return self.status in PUBLIC_ISSUE_STATUSES


class IssueItemQuerySet(models.QuerySet):
    def public(self, now=None):
        """The items readers see: a story not withdrawn in an issue readers may
        see. Story.objects.published() holds exactly the stories of these (a
        test keeps the two together); a page that shows a story beside the
        issues that carried it reads both from here in one query."""
        return self.filter(public_issue(now, "issue__"), story__status__in=PUBLIC_STORY_STATUSES)


class IssueItem(models.Model):
    """A story's place in an issue."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="items")
    story = models.ForeignKey(Story, on_delete=models.PROTECT, related_name="issue_items")
    position = models.PositiveIntegerField(default=0)

    objects = IssueItemQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["issue", "story"], name="story_once_per_issue"),
        ]
        indexes = [models.Index(fields=["story", "issue"])]

    def __str__(self) -> str:
        return f"{self.position}. {self.story}"
