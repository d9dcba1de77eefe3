"""Revisions of a story: snapshots, field-by-field comparison, restore, pruning,
and the description of an edit conflict.

Every save of a story in the admin keeps a snapshot of what an editor can
change (text, image fields, bylines, topics, citations). Restoring an old
revision saves a new one, so history is only ever added to.

Snapshots name people by username (with the name shown in comparisons), never
by user id: ids are handed out afresh when content is restored into another
database (stories/portability.py), usernames are what a restore keeps.
Snapshots written before that held {"id", "name"}; migration 0007 rewrote
them, and they are still read (by id, in the database that wrote them).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q, QuerySet

from stories import clock
from stories.models import AuditEntry, Citation, Story, StoryRevision, Topic
from stories.people import display_name

# Snapshot keys in the order a reader of a comparison expects, with their labels.
FIELD_LABELS = {
    "headline": "Headline",
    "slug": "Slug",
    "dek": "Dek (subtitle)",
    "authors": "Bylines",
    "topics": "Topics",
    "tldr": "TL;DR",
    "body": "Body",
    "why_it_matters": "Why it matters",
    "key_points": "Key points",
    "lead_image": "Lead image",
    "lead_image_alt": "Alt text",
    "lead_image_caption": "Caption",
    "lead_image_credit": "Credit",
    "citations": "Citations",
}
TEXT_FIELDS = [
    "headline",
    "slug",
    "dek",
    "tldr",
    "body",
    "why_it_matters",
    "key_points",
    "lead_image_alt",
    "lead_image_caption",
    "lead_image_credit",
]


def snapshot(story: Story) -> dict:
    """The editable state of story as stored in the database (three queries)."""
    data = {name: getattr(story, name) for name in TEXT_FIELDS}
    data["lead_image"] = story.lead_image.name or ""
    data["authors"] = [person(u) for u in story.authors.order_by("username")]
    data["topics"] = sorted(story.topics.names())
    data["citations"] = [
        {
            "source_id": c.source_id,
            "source": c.source.name,
            "url": c.url,
            "title": c.title,
            "note": c.note,
            "position": c.position,
        }
        for c in Citation.objects.filter(story=story).select_related("source")
    ]
    # Not a field anyone edits: it ties the revision to the story's version so
    # an edit conflict can tell which saves happened after a form was opened.
    data["version"] = story.version
    return data


def person(user) -> dict:
    """A byline in a snapshot: who (the username survives a restore) and the
    name comparisons show."""
    return {"username": user.get_username(), "name": display_name(user)}


def people(entries) -> QuerySet:
    """The accounts a snapshot's bylines name; people deleted since are left out."""
    usernames = [e["username"] for e in entries if e.get("username")]
    # Snapshots from before usernames: their ids mean something only in the
    # database that wrote them, which is the only place they are still read.
    legacy_ids = [e["id"] for e in entries if not e.get("username") and e.get("id")]
    return get_user_model().objects.filter(Q(username__in=usernames) | Q(pk__in=legacy_ids))


def people_ids(entries) -> list[int]:
    """The ids, in this database, of the people a snapshot's bylines name."""
    return sorted(people(entries).values_list("pk", flat=True))


def check_snapshot(data) -> None:
    """Refuse a snapshot that snapshot() could not have written (one read from
    a backup file, say): a ValidationError names the key and what is wrong.
    Values are checked by the fields they are restored into, so a restore can
    never put back what the story's form would refuse."""
    if not isinstance(data, dict):
        raise ValidationError("a snapshot is an object of the story's fields")
    unknown = sorted(set(data) - set(FIELD_LABELS) - {"version"})
    if unknown:
        raise ValidationError(f"{unknown[0]}: not a field a snapshot keeps")
    for name in TEXT_FIELDS:
        if name in data:
            _check_value(name, Story._meta.get_field(name), data[name])
    if not isinstance(data.get("lead_image", ""), str):
        raise ValidationError("lead_image: expected the image's path as text")
    if not _is_count(data.get("version", 0)):
        raise ValidationError("version: expected a whole number")
    _check_list(data, "authors", _check_person)
    _check_list(data, "topics", _check_topic)
    _check_list(data, "citations", _check_citation)


def _check_value(key: str, model_field, value) -> None:
    if not isinstance(value, str):
        raise ValidationError(f"{key}: expected text")
    try:
        model_field.clean(value, None)
    except ValidationError as error:
        raise ValidationError(f"{key}: {' '.join(error.messages)}") from None


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_list(data: dict, key: str, check_item) -> None:
    items = data.get(key, [])
    if not isinstance(items, list):
        raise ValidationError(f"{key}: expected a list")
    for index, item in enumerate(items, start=1):
        check_item(f"{key} {index}", item)


def _check_person(key: str, entry) -> None:
    # {"username", "name"}; {"id", "name"} from before usernames; {"name"}
    # alone for someone deleted before snapshots named people by username.
    if not isinstance(entry, dict) or not set(entry) <= {"username", "id", "name"}:
        raise ValidationError(f"{key}: expected a person's username and name")
    for part in ("username", "name"):
        if part in entry and not isinstance(entry[part], str):
            raise ValidationError(f"{key}: the {part} must be text")
    if "id" in entry and not (_is_count(entry["id"]) and entry["id"] > 0):
        raise ValidationError(f"{key}: the id must be a whole number")


def _check_topic(key: str, name) -> None:
    _check_value(key, Topic._meta.get_field("name"), name)
    if not name.strip():
        raise ValidationError(f"{key}: a topic needs a name")


CITATION_KEYS = {"source_id", "source", "url", "title", "note", "position"}


def _check_citation(key: str, citation) -> None:
    if not isinstance(citation, dict) or not set(citation) <= CITATION_KEYS:
        raise ValidationError(f"{key}: expected a citation's {', '.join(sorted(CITATION_KEYS))}")
    if not (_is_count(citation.get("source_id")) and citation["source_id"] > 0):
        raise ValidationError(f"{key}: source_id must be a source's id")
    if not isinstance(citation.get("source", ""), str):
        raise ValidationError(f"{key}: the source's name must be text")
    for part in ("url", "title", "note"):
        if part in citation:
            _check_value(f"{key} {part}", Citation._meta.get_field(part), citation[part])
    if not _is_count(citation.get("position", 0)):
        raise ValidationError(f"{key} position: expected a whole number")


def record_revision(story: Story, user, note: str = "") -> StoryRevision:
    """Keep the story's current state as its next revision.

    Callers hold the story's row lock (the admin's save, restore), which keeps
    revision numbers in sequence; the unique constraint backs that up.
    """
    last = story.revisions.aggregate(n=Max("number"))["n"] or 0
    return StoryRevision.objects.create(
        story=story,
        number=last + 1,
        created_by=user if user is not None and user.is_authenticated else None,
        status=story.status,
        data=snapshot(story),
        note=note[:200],
    )


def ensure_baseline(story: Story, user) -> None:
    """Before the first admin save of a story made elsewhere (demo content,
    imports), keep its state as revision 1 so the first edit can be compared
    and undone."""
    if not story.revisions.exists():
        stored = Story.objects.get(pk=story.pk)
        record_revision(stored, None, note="As it was before its first edit in the admin")


# -- comparing ---------------------------------------------------------------


@dataclass
class FieldChange:
    key: str
    label: str
    before: str
    after: str
    # For multi-line values: ("-", line), ("+", line) or (" ", line); "…" marks
    # unchanged lines left out.
    lines: list[tuple[str, str]] = field(default_factory=list)


def _display(key: str, value) -> str:
    if key == "authors":
        return ", ".join(a["name"] for a in value or [])
    if key == "topics":
        return ", ".join(value or [])
    if key == "citations":
        parts = ("source", "title", "url", "note")
        return "\n".join(" · ".join(c.get(p) for p in parts if c.get(p)) for c in value or [])
    # Browsers post text areas with CRLF; a line ending is not an edit.
    return (value or "").replace("\r\n", "\n")


def _line_diff(before: str, after: str, context: int = 1) -> list[tuple[str, str]]:
    old, new = before.splitlines(), after.splitlines()
    lines: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
        if tag == "equal":
            same = old[i1:i2]
            if len(same) > 2 * context + 1:
                head = same[:context] if lines else []
                tail = same[-context:] if i2 < len(old) else []
                lines += [(" ", s) for s in head] + [("…", "")] + [(" ", s) for s in tail]
            else:
                lines += [(" ", s) for s in same]
            continue
        lines += [("-", s) for s in old[i1:i2]]
        lines += [("+", s) for s in new[j1:j2]]
    return lines


def diff(before: dict, after: dict) -> list[FieldChange]:
    """Field-by-field differences between two snapshots, in form order."""
    changes = []
    for key, label in FIELD_LABELS.items():
        old, new = _display(key, before.get(key)), _display(key, after.get(key))
        if old == new:
            continue
        multiline = "\n" in old or "\n" in new
        changes.append(FieldChange(key, label, old, new, _line_diff(old, new) if multiline else []))
    return changes


# -- edit conflicts ----------------------------------------------------------


def _name(user) -> str:
    if user is None:
        return "Someone"
    return display_name(user)


def _when(moment: datetime) -> str:
    return clock.format_time(moment)


@dataclass
class EditConflict:
    """What happened to a story after someone opened it in a form."""

    events: list[str]
    changes: list[FieldChange]
    # The story as the form showed it and as it is now (snapshots), so a
    # refused form can take in what others changed and its user did not.
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)

    @property
    def who(self) -> str:
        return "; ".join(self.events) or "Someone changed this story"

    @property
    def message(self) -> str:
        return (
            f"Your changes were not saved: {self.who} after you opened this story, and "
            "saving now would overwrite that. Their changes are shown below and your edits "
            "are still in the form: compare, adjust and save again."
        )

    def refusal(self, not_done: str) -> str:
        """The same news for a decision taken on a page that is out of date."""
        return (
            f"{not_done}: {self.who} after you opened this story, so you decided on a "
            "version that is no longer current. Read the story as it is now, then decide again."
        )


def describe_conflict(
    story_pk: int, seen_version: int, opened_at: datetime | None = None
) -> EditConflict:
    """Who changed the story since a form showed it at seen_version (opened at
    opened_at), and what changed in its content."""
    current = Story.objects.get(pk=story_pk)
    revisions = StoryRevision.objects.filter(story_id=story_pk)
    later = list(
        revisions.filter(data__version__gt=seen_version)
        .select_related("created_by")
        .order_by("number")
    )
    base = revisions.filter(data__version__lte=seen_version).order_by("-number").first()
    events = [
        f"{_name(r.created_by)} "
        + (r.note[0].lower() + r.note[1:] if r.note.startswith("Restored") else "saved it")
        + f" at {_when(r.created_at)}"
        for r in later
    ]
    since = opened_at or (base.created_at if base else current.updated_at)
    audit = AuditEntry.objects.filter(story_id=story_pk, created_at__gt=since).select_related(
        "actor"
    )
    for entry in audit.order_by("created_at", "pk"):
        verb = AuditEntry.Action.told(entry.action)
        events.append(f"{_name(entry.actor)} {verb} at {_when(entry.created_at)}")
    now = snapshot(current)
    changes = diff(base.data, now) if base else []
    return EditConflict(events=events, changes=changes, before=base.data if base else {}, after=now)


# -- pruning -----------------------------------------------------------------


def revisions_to_keep(story_revisions: list[StoryRevision], published_at, keep_latest: int):
    """Of one story's revisions (newest first), those pruning must spare: the
    newest keep_latest, every one saved while the story was published, and the
    one readers first saw when it was published."""
    keep = {r.pk for r in story_revisions[:keep_latest]}
    keep |= {r.pk for r in story_revisions if r.status == Story.Status.PUBLISHED}
    if published_at is not None:
        went_live = next((r for r in story_revisions if r.created_at <= published_at), None)
        if went_live is not None:
            keep.add(went_live.pk)
    return keep


def prune_revisions(keep_latest: int = 1, older_than: datetime | None = None) -> int:
    """Delete revisions nobody needs; returns how many were deleted."""
    if keep_latest < 1:
        raise ValueError("At least the latest revision of each story is kept.")
    deleted = 0
    story_ids = StoryRevision.objects.values_list("story_id", flat=True).distinct()
    for story in Story.objects.filter(pk__in=story_ids).only("pk", "published_at").iterator():
        with transaction.atomic():
            ordered = list(
                StoryRevision.objects.filter(story=story)
                .only("pk", "status", "created_at", "number")
                .order_by("-number")
            )
            keep = revisions_to_keep(ordered, story.published_at, keep_latest)
            doomed = [
                r.pk
                for r in ordered
                if r.pk not in keep and (older_than is None or r.created_at < older_than)
            ]
            if doomed:
                deleted += StoryRevision.objects.filter(pk__in=doomed).delete()[0]
    return deleted
