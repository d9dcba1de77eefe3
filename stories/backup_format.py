"""What a content backup file is: its sections, the fields of each, who may
be named in it, and the files it lists.

stories/portability.py writes and restores such files and
stories/backup_checks.py checks one before anything of it is written; both
read the format from here, so the export can never write what the import
refuses, nor the import accept what the export never writes.
"""

from collections.abc import Callable
from importlib import import_module

from stories.images import rendition_files
from stories.models import (
    AuditEntry,
    Citation,
    Contributor,
    Correction,
    GuestByline,
    Issue,
    IssueItem,
    ListingEntry,
    Newsletter,
    PreviewLink,
    SearchDocument,
    Section,
    Source,
    Story,
    StoryRevision,
    TaggedTopic,
    Topic,
)

FORMAT = "newsroom-content"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
# In an order where everything a row points to is restored before it.
SECTIONS = {
    "newsletters": Newsletter,
    "sources": Source,
    "topics": Topic,
    "contributors": Contributor,
    "sections": Section,
    "stories": Story,
    "story_topics": TaggedTopic,
    "guest_bylines": GuestByline,
    "citations": Citation,
    "corrections": Correction,
    "story_revisions": StoryRevision,
    "issues": Issue,
    "issue_items": IssueItem,
    "audit_trail": AuditEntry,
}
# Every other model of the stories app is in SECTIONS; a test holds the two
# lists to the app's models, so a new model cannot silently miss the backups.
NOT_EXPORTED = {
    PreviewLink: "short-lived secrets handed to one reader, not content",
    SearchDocument: "derived from the stories; rebuilt by the import",
    ListingEntry: "derived from the stories' links and listing dates; rebuilt by the import",
}
# The fields each section's records carry: all the export writes and all the
# import accepts (besides RENDERED's and UNCARRIED's). A test holds them to the models'
# fields, so a new field is a decision about backups, not an accident.
FIELDS = {
    Newsletter: (
        "name",
        "slug",
        "description",
        "sender_name",
        "sender_email",
        "reply_to",
        "postal_address",
        "is_default",
        "created_at",
    ),
    Source: ("name", "slug", "url", "description"),
    Contributor: ("name", "slug", "bio", "url", "created_at"),
    Section: ("newsletter", "name", "position"),
    GuestByline: ("story", "contributor", "position"),
    Topic: ("name", "slug", "description"),
    Story: (
        "headline",
        "slug",
        "dek",
        "tldr",
        "body",
        "why_it_matters",
        "key_points",
        "lead_image",
        "lead_image_alt",
        "lead_image_caption",
        "lead_image_credit",
        "lead_image_renditions",
        "newsletter",
        "section",
        "authors",
        "created_by",
        "status",
        "status_changed_at",
        "submitted_at",
        "published_at",
        "created_at",
        "updated_at",
        "version",
    ),
    TaggedTopic: ("content_object", "tag"),
    Citation: ("story", "source", "url", "title", "note", "position"),
    Correction: ("story", "text", "created_at", "created_by"),
    StoryRevision: ("story", "number", "created_by", "created_at", "status", "data", "note"),
    Issue: (
        "newsletter",
        "number",
        "headline",
        "slug",
        "intro",
        "closing_tldr",
        "format",
        "status",
        "publish_at",
        "published_at",
        "created_at",
        "updated_at",
        "version",
    ),
    IssueItem: ("issue", "story", "position"),
    AuditEntry: (
        "actor",
        "action",
        "story",
        "issue",
        "object_repr",
        "from_status",
        "to_status",
        "comment",
        "created_at",
    ),
}
# Sections added to the format after files were written without them: a
# file that has neither the section nor its count holds none of its rows.
SECTIONS_ADDED_LATER = ("contributors", "sections", "guest_bylines")
# Fields added to the format after files were written without them: a file
# that lacks one gets the model's default (an issue without a format is a
# digest, as every issue was before formats).
ADDED_LATER = {
    Story: frozenset({"newsletter", "section"}),
    Issue: frozenset({"format"}),
}
# HTML each model's save() renders from its Markdown ({source: target}). The
# export leaves it out; the import renders it again with the project's own
# renderer and ignores any copy a file brings (version 1 files have them).
RENDERED = {
    Story: Story.MARKDOWN_FIELDS,
    Issue: {"intro": "intro_html", "closing_tldr": "closing_tldr_html"},
    Correction: {"text": "text_html"},
}
# Bookkeeping a backup never carries: each restored row gets a fresh value, or
# the import works it out from other records once everything is restored.
UNCARRIED = {
    Story: (
        "render_stamp",  # the key of its cached fragments
        "listed_at",  # from the issues holding it (Story.objects.refresh_listed_at)
    ),
}
USER_FIELDS = ("username", "first_name", "last_name", "email", "is_staff", "is_active")
# The only groups an import puts people in: the newsroom's roles, as the
# migration that creates them names them. Any other group, and superuser or
# permissions of one's own, is never given by a file.
ROLES = tuple(import_module("stories.migrations.0002_editorial_groups").GROUPS)
BATCH = 500

Progress = Callable[[str, int, int], None]


class ImportRefused(Exception):
    """The file cannot be restored here; the message says why and what to do."""


def story_files(lead_image: str, renditions: dict) -> set[str]:
    """The files a story's page needs: its lead image and the image's copies."""
    return {lead_image, *rendition_files(renditions)} if lead_image else set()
