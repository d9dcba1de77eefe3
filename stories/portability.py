"""Export the newsroom's content to a versioned JSON file and restore it.

This is the one place outside stories/workflow.py that writes status fields:
a restore must bring back each story's and issue's status, timestamps,
version number and rendered HTML exactly as they were, so rows are written
raw (``save_base(raw=True)``, as Django's loaddata does) without going
through the workflow, ``save()`` or the auto-timestamps. It only ever writes
into an empty newsroom, so no transition is skipped or replayed.

File layout (format version 2; version 1, from before newsletters, is read too)::

    {"format": "newsroom-content", "version": 2, "exported_at": "...",
     "counts": {"stories": 12, ...},
     "users": [{"username": ..., "first_name": ..., "groups": [...]}, ...],
     "media": ["lead-images/2025/01/x.jpg", ...],
     "sources": [{"model": "stories.source", "pk": 1, "fields": {...}}, ...],
     ... one list per entry of SECTIONS, in that order ...}

People are referred to by username, so the file can be restored into a
database whose accounts have other ids. Passwords are never exported:
accounts the import has to create get no usable password. Models left out
on purpose are listed, with the reason, in NOT_EXPORTED.

The search index is derived from the stories, so it is not in the file: the
raw saves of a restore skip Story.save(), which keeps it, and the import
therefore rebuilds it for the restored stories before it commits.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import serializers
from django.core.files.storage import default_storage
from django.core.management.color import no_style
from django.core.serializers.base import DeserializationError
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from stories.cache import content_changed
from stories.models import (
    AuditEntry,
    Citation,
    Correction,
    Issue,
    IssueItem,
    Newsletter,
    PreviewLink,
    RenderedIssue,
    RenderedStory,
    SearchDocument,
    Source,
    Story,
    StoryRevision,
    TaggedTopic,
    Topic,
)
from stories.models.search import rebuild_index

FORMAT = "newsroom-content"
FORMAT_VERSION = 2
# Version 1 files come from before newsletters: their issues go to the
# restored newsroom's default newsletter.
READABLE_VERSIONS = (1, 2)
# In an order where everything a row points to is restored before it.
SECTIONS = {
    "newsletters": Newsletter,
    "sources": Source,
    "topics": Topic,
    "stories": Story,
    "story_topics": TaggedTopic,
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
    RenderedStory: "derived from the stories; rendered again by each story's next reader",
    RenderedIssue: "derived from the issues' stories; rendered again by each issue's next reader",
}
USER_FIELDS = ("username", "first_name", "last_name", "email", "is_staff", "is_active")
BATCH = 500

Progress = Callable[[str, int, int], None]


class ImportRefused(Exception):
    """The file cannot be restored here; the message says why and what to do."""


def _encode(value: Any) -> Any:
    # Full microseconds: Django's JSON encoder keeps only milliseconds, and a
    # restore must give back the timestamps exactly.
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_encode, ensure_ascii=False)


def _queryset(model):
    queryset = model._default_manager.order_by("pk")
    if model is Story:
        queryset = queryset.prefetch_related("authors")
    return queryset


def _records(model) -> Iterator[dict]:
    batch = []
    for obj in _queryset(model).iterator(chunk_size=BATCH):
        batch.append(obj)
        if len(batch) == BATCH:
            yield from serializers.serialize("python", batch, use_natural_foreign_keys=True)
            batch = []
    yield from serializers.serialize("python", batch, use_natural_foreign_keys=True)


def _users() -> list[dict]:
    users = get_user_model().objects.order_by("username").prefetch_related("groups")
    return [
        {
            **{field: getattr(user, field) for field in USER_FIELDS},
            "groups": sorted(group.name for group in user.groups.all()),
        }
        for user in users
    ]


def _media() -> list[str]:
    paths = set()
    for name, renditions in Story.objects.exclude(lead_image="").values_list(
        "lead_image", "lead_image_renditions"
    ):
        paths.add(name)
        paths.update(str(path) for path in (renditions or {}).values())
    return sorted(paths)


def export_content(out: IO[str], progress: Progress | None = None) -> dict[str, int]:
    """Write every section to out as one JSON document; return the counts."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            # One snapshot for the whole file, even while editors keep working.
            # (Inside a caller's transaction, the caller's snapshot applies.)
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        counts = {name: model._default_manager.count() for name, model in SECTIONS.items()}
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "exported_at": timezone.now(),
            "counts": counts,
            "users": _users(),
            "media": _media(),
        }
        # Sections are written record by record, so a large newsroom is never
        # held in memory as one string.
        out.write(_dumps(header)[:-1])
        for name, model in SECTIONS.items():
            out.write(f", {_dumps(name)}: [")
            for done, record in enumerate(_records(model), start=1):
                out.write(("\n" if done == 1 else ",\n") + _dumps(record))
                if progress and (done % BATCH == 0 or done == counts[name]):
                    progress(name, done, counts[name])
            out.write("]")
        out.write("}\n")
    return counts


def _check_format(data: Any) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportRefused("This is not a Newsroom content export (no 'newsroom-content' format).")
    version = data.get("version")
    if version == 1 and "newsletters" not in data:
        data["newsletters"] = []
    if version not in READABLE_VERSIONS:
        raise ImportRefused(
            f"This export uses format version {version!r}; this Newsroom reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}. Import it with the Newsroom release "
            "that wrote it."
        )
    missing = [name for name in SECTIONS if not isinstance(data.get(name), list)]
    if missing:
        raise ImportRefused(f"The export is incomplete: no {', '.join(missing)} section.")


def _check_empty() -> None:
    # A migrated database has its default newsletter and nothing else; the
    # file's newsletters replace it (_clear_unused_newsletters).
    present = {
        name: model._default_manager.count()
        for name, model in SECTIONS.items()
        if model is not Newsletter and model._default_manager.exists()
    }
    if present:
        listed = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in present.items())
        raise ImportRefused(
            f"The database already holds content ({listed}). import_content only restores "
            "into an empty newsroom: create a new database, run 'manage.py migrate', then import."
        )


def _clear_unused_newsletters(data: dict) -> None:
    """Make way for the file's newsletters: drop the migration's default one,
    which nothing uses yet in an empty newsroom. A version 1 file has no
    newsletters, so its issues go to the default one, which then stays."""
    if not data["newsletters"]:
        default = Newsletter.objects.default()
        if default is None:
            raise ImportRefused(
                "This export comes from before newsletters and this database has no default "
                "newsletter to file its issues under: run 'manage.py migrate' on a new database."
            )
        for record in data["issues"]:
            if isinstance(record, dict) and isinstance(record.get("fields"), dict):
                record["fields"].setdefault("newsletter", default.pk)
        return
    try:
        Newsletter.objects.all().delete()
    except ProtectedError:
        raise ImportRefused(
            "The database already has subscribers on its newsletters. import_content only "
            "restores into an empty newsroom: create a new database, run 'manage.py migrate', "
            "then import."
        ) from None


def _restore_users(users: Iterable[dict]) -> int:
    User = get_user_model()
    groups = {group.name: group for group in Group.objects.all()}
    created = 0
    for data in users:
        if User.objects.filter(username=data["username"]).exists():
            continue  # an account made since (say, by createsuperuser) is kept as it is
        user = User(**{field: data[field] for field in USER_FIELDS if field in data})
        user.set_unusable_password()
        user.save()
        user.groups.set(groups[name] for name in data.get("groups", []) if name in groups)
        created += 1
    return created


def _reset_sequences() -> None:
    # Rows came with their ids; make the next id PostgreSQL hands out follow them.
    statements = connection.ops.sequence_reset_sql(no_style(), list(SECTIONS.values()))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def import_content(data: dict, progress: Progress | None = None) -> dict[str, Any]:
    """Restore an export into an empty newsroom, all or nothing."""
    _check_format(data)
    with transaction.atomic():
        _check_empty()
        _clear_unused_newsletters(data)
        created_users = _restore_users(data.get("users", []))
        counts = {}
        for name in SECTIONS:
            records = data[name]
            try:
                for done, item in enumerate(serializers.deserialize("python", records), start=1):
                    item.save()  # save_base(raw=True): fields exactly as exported
                    if progress and (done % BATCH == 0 or done == len(records)):
                        progress(name, done, len(records))
            except DeserializationError as error:
                raise ImportRefused(f"The {name} section cannot be restored: {error}") from None
            counts[name] = len(records)
        try:
            # Foreign keys are checked at commit; check now to say which row is wrong.
            connection.check_constraints(table_names=[m._meta.db_table for m in SECTIONS.values()])
        except IntegrityError as error:
            raise ImportRefused(f"The export does not hold together: {error}") from None
        _reset_sequences()
        indexed = rebuild_index(progress=progress)
        transaction.on_commit(content_changed)
    missing_media = [path for path in data.get("media", []) if not default_storage.exists(path)]
    return {
        "counts": counts,
        "created_users": created_users,
        "indexed": indexed,
        "missing_media": missing_media,
    }
