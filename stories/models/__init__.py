from stories.models.audit import AuditAction, AuditEntry
from stories.models.content import (
    Citation,
    Correction,
    Issue,
    IssueItem,
    Source,
    Story,
    TaggedTopic,
    Topic,
)
from stories.models.contributors import Contributor, GuestByline
from stories.models.listings import ListingEntry
from stories.models.newsletter import Newsletter, Section
from stories.models.preview import PreviewLink
from stories.models.revisions import StoryRevision
from stories.models.search import SearchDocument

__all__ = [
    "AuditAction",
    "AuditEntry",
    "Citation",
    "Contributor",
    "Correction",
    "GuestByline",
    "Issue",
    "IssueItem",
    "ListingEntry",
    "Newsletter",
    "PreviewLink",
    "SearchDocument",
    "Section",
    "Source",
    "Story",
    "StoryRevision",
    "TaggedTopic",
    "Topic",
]
