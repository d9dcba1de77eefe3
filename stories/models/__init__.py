from stories.models.audit import AuditEntry
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
from stories.models.preview import PreviewLink
from stories.models.revisions import StoryRevision

__all__ = [
    "AuditEntry",
    "Citation",
    "Correction",
    "Issue",
    "IssueItem",
    "PreviewLink",
    "Source",
    "Story",
    "StoryRevision",
    "TaggedTopic",
    "Topic",
]
