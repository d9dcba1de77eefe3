"""Export the newsroom's content to a versioned JSON file and restore it.

This is the one place outside stories/editorial/workflow.py that writes status fields:
a restore must bring back each story's and issue's status, timestamps and
version number exactly as they were, so rows are written raw
(``save_base(raw=True)``, as Django's loaddata does) without going through
the workflow, ``save()`` or the auto-timestamps. It only ever writes into an
empty newsroom, so no transition is skipped or replayed.

File layout (format version 2)::

    {"format": "newsroom-content", "version": 2, "exported_at": "...",
     "counts": {"stories": 12, ...},
     "users": [{"username": ..., "first_name": ..., "groups": [...]}, ...],
     "media": ["lead-images/2025/01/x.jpg", "lead-images/renditions/x-480w.webp", ...],
     "sources": [{"model": "stories.source", "pk": 1, "fields": {...}}, ...],
     ... one list per entry of SECTIONS, in that order ...}

Version 2 names people in revision snapshots by username (version 1 used
user ids, which a restore does not keep) and lists in ``media`` every file
the content refers to: lead images, their resized copies and the images of
older revisions. Version 1 files are still read (backup_checks._legacy_people).

A file is untrusted input, checked whole before anything is written
(stories/backup_checks.py): each section holds only its own model's records
with only the fields of FIELDS, each value must be one the model's form would
take, references must point at records of the file, media paths must stay
inside media storage, and Markdown is rendered again rather than HTML taken
from the file. A refusal names the record and the field; the restore itself
is one transaction.

People are referred to by username, so the file can be restored into a
database whose accounts have other ids. An account that already exists is
the same person and is kept exactly as it is. An account the import has to
create gets no usable password (nobody can sign in as it, and Django's
password reset skips such accounts until an operator sets one with
``changepassword``), is never a superuser, is given no permissions of its
own, and joins no group but the newsroom's three roles (Writers, Editors,
Publishers); its staff flag is kept so that bylines stay choosable in the
byline picker, which offers staff only. Models left out on purpose are
listed, with the reason, in NOT_EXPORTED.

The search index is derived from the stories, so it is not in the file: the
raw saves of a restore skip Story.save(), and the import ends in
stories/publishing/changes.py's content_restored, which rebuilds the index,
the listing dates and the listing entries for the restored stories before it
commits.
"""

import json
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import serializers
from django.core.exceptions import SuspiciousOperation
from django.core.files.storage import default_storage
from django.core.management.color import no_style
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from stories import backup_checks
from stories.backup_format import (
    BATCH,
    FIELDS,
    FORMAT,
    FORMAT_VERSION,
    NOT_EXPORTED,
    ROLES,
    SECTIONS,
    USER_FIELDS,
    ImportRefused,
    Progress,
    story_files,
)
from stories.models import Newsletter, Story, StoryRevision
from stories.publishing.changes import content_restored

# The format is defined in backup_format; the commands and tests read it here.
__all__ = [
    "FORMAT_VERSION",
    "NOT_EXPORTED",
    "SECTIONS",
    "ImportRefused",
    "export_content",
    "import_content",
]

# -- exporting ---------------------------------------------------------------


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
    def serialize(objects):
        return serializers.serialize(
            "python", objects, use_natural_foreign_keys=True, fields=FIELDS[model]
        )

    batch = []
    for obj in _queryset(model).iterator(chunk_size=BATCH):
        batch.append(obj)
        if len(batch) == BATCH:
            yield from serialize(batch)
            batch = []
    yield from serialize(batch)


def _users() -> list[dict]:
    users = get_user_model().objects.order_by("username").prefetch_related("groups")
    return [
        {
            **{field: getattr(user, field) for field in USER_FIELDS},
            # Only the editorial roles: other groups (the audience team's access
            # to subscribers) are granted by people, never by a file.
            "groups": sorted(group.name for group in user.groups.all() if group.name in ROLES),
        }
        for user in users
    ]


def _media() -> list[str]:
    paths = set()
    for name, renditions in Story.objects.exclude(lead_image="").values_list(
        "lead_image", "lead_image_renditions"
    ):
        paths |= story_files(name, renditions)
    # Restoring an older revision brings its image back.
    images = StoryRevision.objects.values_list("data__lead_image", flat=True).distinct()
    paths.update(name for name in images if isinstance(name, str) and name)
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


# -- importing ---------------------------------------------------------------


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


def _file_version_1_under_default_newsletter(data: dict) -> None:
    """Version 1 files come from before newsletters: their issues are filed
    under this database's default newsletter, which the file then carries
    as if it had been exported with it."""
    default = Newsletter.objects.default()
    if default is None:
        raise ImportRefused(
            "This export comes from before newsletters and this database has no default "
            "newsletter to file its issues under: run 'manage.py migrate' on a new database."
        )
    data["newsletters"] = json.loads(_dumps(list(_records(Newsletter))))
    if isinstance(data.get("counts"), dict):
        data["counts"]["newsletters"] = len(data["newsletters"])
    for record in data["issues"]:
        if isinstance(record, dict) and isinstance(record.get("fields"), dict):
            record["fields"].setdefault("newsletter", default.pk)


def _clear_unused_newsletters() -> None:
    """Make way for the file's newsletters: the migration's default one has
    no issues in an empty newsroom, and subscribers would stop the delete."""
    try:
        Newsletter.objects.all().delete()
    except ProtectedError:
        raise ImportRefused(
            "The database already has subscribers on its newsletters. import_content only "
            "restores into an empty newsroom: create a new database, run 'manage.py migrate', "
            "then import."
        ) from None


def _missing_media(paths: list[str]) -> list[str]:
    # Read before anything is written: a storage that fails here leaves the
    # database as it was. Every path was checked to stay inside media storage.
    try:
        return [path for path in paths if not default_storage.exists(path)]
    except (OSError, SuspiciousOperation) as error:
        raise ImportRefused(
            f"Media storage could not be read ({error}); nothing was imported. "
            "Check DJANGO_MEDIA_ROOT or the media bucket's settings and try again."
        ) from None


def _restore_users(users: dict[str, dict]) -> tuple[dict[str, int], int]:
    """Each person's id here, by username; and how many accounts were created."""
    User = get_user_model()
    ids = dict(User.objects.filter(username__in=list(users)).values_list("username", "pk"))
    roles = {group.name: group for group in Group.objects.filter(name__in=ROLES)}
    created = 0
    for username, data in users.items():
        if username in ids:
            continue  # an account made since (say, by createsuperuser) is kept as it is
        user = User(**{field: data[field] for field in USER_FIELDS})
        user.set_unusable_password()
        user.save()
        user.groups.set(roles[name] for name in data["groups"] if name in roles)
        ids[username] = user.pk
        created += 1
    return ids, created


def _reset_sequences() -> None:
    # Rows came with their ids; make the next id PostgreSQL hands out follow them.
    statements = connection.ops.sequence_reset_sql(no_style(), list(SECTIONS.values()))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _write(
    plan: backup_checks.Plan, user_ids: dict[str, int], progress: Progress | None
) -> dict[str, int]:
    Byline = Story.authors.through
    counts = {}
    for name in SECTIONS:
        rows = plan.rows[name]
        for done, row in enumerate(rows, start=1):
            for attname, username in row.people.items():
                setattr(row.obj, attname, user_ids[username])
            try:
                # Raw: status, timestamps and version exactly as exported.
                models.Model.save_base(row.obj, raw=True, force_insert=True)
            except DatabaseError as error:
                raise ImportRefused(
                    f"{row.where}: the database refused it ({error}). Nothing was imported."
                ) from None
            if progress and (done % BATCH == 0 or done == len(rows)):
                progress(name, done, len(rows))
        bylines = [
            Byline(story_id=row.obj.pk, user_id=user_ids[username])
            for row in rows
            for username in row.authors
        ]
        Byline.objects.bulk_create(bylines, batch_size=BATCH)
        counts[name] = len(rows)
    return counts


def import_content(data: Any, progress: Progress | None = None) -> dict[str, Any]:
    """Restore an export into an empty newsroom, all or nothing.

    Everything is checked before anything is written: a refusal
    (ImportRefused) names the record and the field and leaves the database
    as it was."""
    if isinstance(data, dict) and data.get("version") == 1 and "newsletters" not in data:
        _file_version_1_under_default_newsletter(data)
    backup_checks.check_header(data)
    _check_empty()  # before the slow checks, so a wrong database is said at once
    plan = backup_checks.check_content(data)
    missing_media = _missing_media(plan.media)
    with transaction.atomic():
        _check_empty()  # again, under the transaction that writes
        _clear_unused_newsletters()
        user_ids, created_users = _restore_users(plan.users)
        counts = _write(plan, user_ids, progress)
        try:
            # Every reference was checked; this is the database's own word on it.
            connection.check_constraints(table_names=[m._meta.db_table for m in SECTIONS.values()])
        except IntegrityError as error:
            raise ImportRefused(f"The export does not hold together: {error}") from None
        _reset_sequences()
        indexed = content_restored(progress)
    return {
        "counts": counts,
        "created_users": created_users,
        "indexed": indexed,
        "missing_media": missing_media,
    }
