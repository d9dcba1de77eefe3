"""Check a content backup file, whole, before anything of it is written.

A file is untrusted input: it may come from another server, an old release,
a hand edit or someone who means harm. check_content() turns it into a Plan
of unsaved rows only if every part is what export_content writes:

- each section holds records of its own model only, with the fields of
  backup_format.FIELDS and nothing else (no auth.user, no auth.group, no
  password or is_superuser anywhere);
- every value has its JSON type and passes the model field's own checks,
  as a form's would (choices, lengths, URL schemes, slugs);
- ids are unique within a section, unique fields and constraints hold, and
  every reference points at a record of the file (people at its users);
- times carry their UTC offset; media paths are relative, normalised paths
  inside media storage, images are named as images, and the media list
  names exactly the files the records refer to;
- rendered HTML is never taken from the file: it is rendered again from the
  Markdown by the project's renderer.

The first thing wrong stops the import with ImportRefused, a sentence naming
the record (section, position, id) and the field.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import PurePosixPath
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.template.defaultfilters import filesizeformat
from django.utils.dateparse import parse_datetime
from PIL import Image

from stories.backup_format import (
    ADDED_LATER,
    FIELDS,
    FORMAT,
    READABLE_VERSIONS,
    RENDERED,
    ROLES,
    SECTIONS,
    USER_FIELDS,
    ImportRefused,
    story_files,
)
from stories.editorial import revisions
from stories.images import FORMATS
from stories.models import Story, Topic
from stories.rendering import render_markdown

# Far above any newsroom's export (40,000 stories make about 200 MB), and
# small enough that reading a file cannot take the server's memory with it.
MAX_FILE_BYTES = 512 * 1024 * 1024
HEADER = ("format", "version", "exported_at", "counts", "users", "media")
# Real values nest two or three levels (a revision's citations); anything
# deeper is not a value of this format.
MAX_JSON_DEPTH = 8
TIME_EXAMPLE = "2025-01-31T09:00:00+00:00"


class _Invalid(Exception):
    """A value is wrong; the caller knows which record (and, unless field
    says, which field) it is."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass
class Row:
    """One record, checked and ready to be saved raw."""

    obj: models.Model
    where: str
    # People are resolved to ids only when the accounts exist: {attname: username}.
    people: dict[str, str] = field(default_factory=dict)
    authors: list[str] = field(default_factory=list)


@dataclass
class Plan:
    users: dict[str, dict]
    rows: dict[str, list[Row]]
    media: list[str]


def _refuse(where: str, message: str) -> ImportRefused:
    message = message.strip()
    if not message.endswith((".", "?", "!")):
        message += "."
    return ImportRefused(f"{where}: {message} Nothing was imported.")


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


# -- reading -----------------------------------------------------------------


def _object(pairs: list[tuple[str, Any]]) -> dict:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key {_show(repeated)} appears twice in one object")
    return value


def _constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def read_export(stream: IO[bytes], name: str, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The JSON value in stream, read up to max_bytes; ImportRefused otherwise."""
    raw = stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ImportRefused(
            f"{name} is larger than {filesizeformat(max_bytes)} ({max_bytes:,} bytes), the most "
            "an import reads; nothing was imported. If it really is a backup of this size, "
            "raise the limit with --max-bytes."
        )
    try:
        text = raw.decode("utf-8")
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except UnicodeDecodeError as error:
        raise ImportRefused(
            f"{name} is not valid JSON (it is not UTF-8 text: byte {error.start} cannot be read)."
        ) from None
    except RecursionError:
        raise ImportRefused(
            f"{name} is not valid JSON for an import: it nests deeper than any export does."
        ) from None
    except ValueError as error:  # JSONDecodeError, repeated keys, NaN, 5,000-digit numbers
        raise ImportRefused(f"{name} is not valid JSON ({error}).") from None


# -- the header ----------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_header(data: Any) -> None:
    """The file is an export of a version this release reads, and whole."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportRefused("This is not a Newsroom content export (no 'newsroom-content' format).")
    version = data.get("version")
    if not _is_int(version) or version not in READABLE_VERSIONS:
        readable = " and ".join(str(v) for v in READABLE_VERSIONS)
        raise ImportRefused(
            f"This export uses format version {_show(version)}; this Newsroom reads versions "
            f"{readable}. Import it with the Newsroom release that wrote it."
        )
    unknown = [key for key in data if key not in HEADER and key not in SECTIONS]
    if unknown:
        raise ImportRefused(
            f"The file has a {_show(unknown[0])} entry, which no export writes; an import "
            "restores only the sections of its format. Nothing was imported."
        )
    missing = [name for name in SECTIONS if not isinstance(data.get(name), list)]
    if missing:
        raise ImportRefused(f"The export is incomplete: no {', '.join(missing)} section.")
    for key, kind in (("users", list), ("media", list), ("counts", dict), ("exported_at", str)):
        if not isinstance(data.get(key), kind):
            raise ImportRefused(
                f"The export's {key} entry is missing or not a {kind.__name__}; the file is "
                "not one export_content wrote. Nothing was imported."
            )
    counts = data["counts"]
    for name in SECTIONS:
        if counts.get(name) != len(data[name]) or not _is_int(counts.get(name)):
            raise ImportRefused(
                f"The export says it holds {_show(counts.get(name))} {name.replace('_', ' ')} "
                f"but its {name} section has {len(data[name])} records: the file was cut short "
                "or edited. Nothing was imported."
            )


# -- values ------------------------------------------------------------------


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise _Invalid("it holds a NUL character, which no text is stored with")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Invalid("it holds a broken character (a lone UTF-16 surrogate)") from None
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected text, not {_show(value)}")
    return _clean_text(value)


def _json_text(value: Any, depth: int = 0) -> None:
    """Every string in a JSON value is text a database stores."""
    if depth > MAX_JSON_DEPTH:
        raise _Invalid("it nests deeper than any value an export writes")
    if isinstance(value, str):
        _clean_text(value)
    elif isinstance(value, list):
        for item in value:
            _json_text(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _clean_text(key)
            _json_text(item, depth + 1)


def _whole_number(value: Any) -> int:
    if not _is_int(value):
        raise _Invalid(f"expected a whole number, not {_show(value)}")
    return value


def _time(value: Any):
    if not isinstance(value, str):
        raise _Invalid(f"expected a time such as {TIME_EXAMPLE}, not {_show(value)}")
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise _Invalid(f"{_show(value)} is not a time such as {TIME_EXAMPLE}")
    if moment.tzinfo is None:
        raise _Invalid(
            f"{_show(value)} has no UTC offset; export_content writes times as {TIME_EXAMPLE}"
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise _Invalid(f"{_show(value)} is outside the times a database can store") from None


_DRIVE = re.compile(r"^[A-Za-z]:")


def media_path(value: Any) -> str:
    """A path inside media storage: relative, normalised (no '.', '..' or
    empty parts), forward slashes, no control characters."""
    if not isinstance(value, str) or not value:
        raise _Invalid(f"expected a file's path in media storage, not {_show(value)}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise _Invalid(f"the path {_show(value)} holds a control character")
    _clean_text(value)
    if value.startswith("/") or "\\" in value or _DRIVE.match(value):
        raise _Invalid(
            f"the path {_show(value)} is not relative to media storage "
            "(it should read like lead-images/2025/01/photo.jpg)"
        )
    if any(part in ("", ".", "..") for part in value.split("/")):
        raise _Invalid(
            f"the path {_show(value)} is not a plain path inside media storage "
            "(no '..', '.' or empty parts)"
        )
    return value


# Lead images are stored under the name of what they are (stories.images
# accepts these formats only); a file a page would show as an image must say
# so by its name, so nothing else (an .svg or .html in media) is served as one.
IMAGE_EXTENSIONS = frozenset(
    extension
    for extension, kind in Image.registered_extensions().items()
    if kind in {image_format.pillow for image_format in FORMATS}
)


def image_path(value: Any) -> str:
    """A media_path() whose name says it is a JPEG, PNG, WebP or GIF image."""
    media_path(value)
    if PurePosixPath(value).suffix.lower() not in IMAGE_EXTENSIONS:
        accepted = ", ".join(image_format.label for image_format in FORMATS)
        raise _Invalid(f"the file {_show(value)} is not named as an image ({accepted})")
    return value


def _renditions(value: Any) -> dict:
    """A story's lead_image_renditions as stories.images.make_renditions writes it."""
    if value == {}:
        return value
    if not isinstance(value, dict) or set(value) != {"source", "width", "height", "files"}:
        raise _Invalid("expected {} or the source, width, height and files of the image's copies")
    image_path(value["source"])
    for key in ("width", "height"):
        if not _is_int(value[key]) or value[key] < 1:
            raise _Invalid(f"the image's {key} must be a whole number of pixels")
    if not isinstance(value["files"], dict):
        raise _Invalid("the copies must be an object of {width: path}")
    for width, path in value["files"].items():
        if not width.isascii() or not width.isdigit() or int(width) < 1:
            raise _Invalid(f"the copy {_show(width)} is not named by its width in pixels")
        image_path(path)
    return value


# -- records -----------------------------------------------------------------


def _unique_sets(model) -> list[tuple[str, ...]]:
    """Attribute names whose values must be unique together: the database's
    unique columns and constraints, checked here to name the record."""
    meta = model._meta
    sets = [(f.attname,) for f in meta.local_fields if f.unique]
    sets += [
        tuple(meta.get_field(n).attname for n in c.fields) for c in meta.total_unique_constraints
    ]
    sets += [tuple(meta.get_field(n).attname for n in names) for names in meta.unique_together]
    return sets


class _Checker:
    def __init__(self, data: dict):
        self.version = data["version"]
        self.users = _check_users(data["users"])
        self.pks: dict[type, set[int]] = {model: set() for model in SECTIONS.values()}
        self.topic_ids: dict[str, int] = {}
        self.taken: dict[tuple, str] = {}
        self.files: dict[str, str] = {}  # path -> the first record that needs it
        self.names = _unique_names(self.users)

    # -- references

    def _person(self, value: Any) -> str:
        if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str):
            raise _Invalid(f"expected a person as [username], not {_show(value)}")
        if value[0] not in self.users:
            raise _Invalid(f"{_show(value[0])} is not among the file's users")
        return value[0]

    def _topic(self, value: Any) -> int:
        if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str):
            raise _Invalid(f"expected a topic as [name], not {_show(value)}")
        if value[0] not in self.topic_ids:
            raise _Invalid(f"no topic named {_show(value[0])} in the file's topics")
        return self.topic_ids[value[0]]

    def _reference(self, model, value: Any) -> int:
        if not _is_int(value):
            raise _Invalid(f"expected the id of a {model._meta.verbose_name}, not {_show(value)}")
        if value not in self.pks[model]:
            raise _Invalid(f"no {model._meta.verbose_name} {value} in the file")
        return value

    # -- fields

    def _set(self, row: Row, f, value: Any) -> None:
        self._decode(row, f, value)
        # Django's own check of choices skips fields no form edits (a status).
        chosen = getattr(row.obj, f.attname, None)
        if f.choices and chosen not in {choice for choice, _ in f.flatchoices}:
            raise _Invalid(f"Value {_show(chosen)} is not a valid choice.")

    def _decode(self, row: Row, f, value: Any) -> None:
        obj = row.obj
        if f.many_to_many:
            if not isinstance(value, list):
                raise _Invalid(
                    f"expected a list of people as [[username], ...], not {_show(value)}"
                )
            row.authors = [self._person(person) for person in value]
            if len(set(row.authors)) != len(row.authors):
                raise _Invalid("it names the same person twice")
        elif value is None:
            if not f.null:
                raise _Invalid("it may not be null")
            setattr(obj, f.attname, None)
        elif f.is_relation:
            if f.related_model is get_user_model():
                row.people[f.attname] = self._person(value)
            elif f.related_model is Topic:
                setattr(obj, f.attname, self._topic(value))
            else:
                setattr(obj, f.attname, self._reference(f.related_model, value))
        elif isinstance(f, models.BooleanField):
            if not isinstance(value, bool):
                raise _Invalid(f"expected true or false, not {_show(value)}")
            setattr(obj, f.attname, value)
        elif isinstance(f, models.DateTimeField):
            setattr(obj, f.attname, _time(value))
        elif isinstance(f, models.IntegerField):
            setattr(obj, f.attname, _whole_number(value))
        elif isinstance(f, models.FileField):
            setattr(obj, f.attname, "" if value == "" else image_path(value))
            if len(value) > f.max_length:
                raise _Invalid(f"the path is longer than {f.max_length} characters")
        elif isinstance(f, models.JSONField):
            _json_text(value)
            setattr(obj, f.attname, value)
        elif isinstance(f, models.CharField | models.TextField):
            setattr(obj, f.attname, _text(value))
        else:  # a field of a new kind: decide how a file carries it before accepting it
            raise _Invalid("this kind of field cannot be restored")

    def record(self, name: str, model, index: int, record: Any) -> Row:
        label = model._meta.label_lower
        where = f"{name} record {index}"
        if not isinstance(record, dict) or set(record) != {"model", "pk", "fields"}:
            raise _refuse(where, "expected an object of model, pk and fields")
        if record["model"] != label:
            raise _refuse(
                where,
                f"it is a {_show(record['model'])} record, and the {name} section holds "
                f"{label} records only; an import restores nothing else",
            )
        pk = record["pk"]
        if not _is_int(pk) or pk < 1:
            raise _refuse(where, f"its pk must be a whole number above 0, not {_show(pk)}")
        where = f"{name} record {index} ({label} pk {pk})"
        fields = record["fields"]
        if not isinstance(fields, dict):
            raise _refuse(where, "its fields must be an object")
        ignored = set(RENDERED.get(model, {}).values())
        unknown = [key for key in fields if key not in FIELDS[model] and key not in ignored]
        if unknown:
            raise _refuse(
                f"{where}, field {_show(unknown[0])}",
                "not a field of the format; an import never sets it",
            )
        row = Row(obj=model(pk=pk), where=where)
        for field_name in FIELDS[model]:
            if field_name not in fields:
                if field_name in ADDED_LATER.get(model, ()):
                    continue  # the model's default, as before the field existed
                raise _refuse(f"{where}, field {field_name}", "missing")
            try:
                self._set(row, model._meta.get_field(field_name), fields[field_name])
            except _Invalid as error:
                raise _refuse(f"{where}, field {field_name}", str(error)) from None
        for source, target in RENDERED.get(model, {}).items():
            setattr(row.obj, target, render_markdown(getattr(row.obj, source)))
        relations = {f.name for f in model._meta.fields if f.is_relation}
        try:
            row.obj.clean_fields(exclude=relations)
        except ValidationError as error:
            field_name, messages = next(iter(error.message_dict.items()))
            raise _refuse(f"{where}, field {field_name}", " ".join(messages)) from None
        check = getattr(self, f"_check_{model._meta.model_name}", None)
        if check:
            try:
                check(row)
            except _Invalid as error:
                raise _refuse(f"{where}, field {error.field}", str(error)) from None
        self._unique(model, row)
        self.pks[model].add(pk)
        return row

    def _unique(self, model, row: Row) -> None:
        for attnames in _unique_sets(model):
            values = tuple(getattr(row.obj, a) for a in attnames)
            if None in values:
                continue
            key = (model, attnames, values)
            if key in self.taken:
                names = " and ".join("pk" if a == "id" else a.removesuffix("_id") for a in attnames)
                shown = ", ".join(_show(v) for v in values)
                raise _refuse(
                    f"{row.where}, field {names}",
                    f"{shown} is already used by {self.taken[key]}",
                )
            self.taken[key] = row.where

    def _needs(self, paths, where: str) -> None:
        for path in paths:
            self.files.setdefault(path, where)

    # -- rules of one model beyond its fields

    def _check_topic(self, row: Row) -> None:
        self.topic_ids.setdefault(row.obj.name, row.obj.pk)

    def _check_story(self, row: Row) -> None:
        story = row.obj
        if not story.slug:
            raise _Invalid("a story needs its address; export_content always writes one", "slug")
        try:
            renditions = _renditions(story.lead_image_renditions)
        except _Invalid as error:
            raise _Invalid(str(error), "lead_image_renditions") from None
        self._needs(
            story_files(story.lead_image.name, renditions), f"{row.where}, field lead_image"
        )

    def _check_storyrevision(self, row: Row) -> None:
        revision = row.obj
        if revision.status and revision.status not in Story.Status.values:
            raise _Invalid(f"{_show(revision.status)} is not a story status", "status")
        try:
            revisions.check_snapshot(revision.data)
        except ValidationError as error:
            raise _Invalid(" ".join(error.messages), "data") from None
        image = revision.data.get("lead_image") or ""
        if image:
            try:
                image_path(image)
            except _Invalid as error:
                raise _Invalid(f"lead_image: {error}", "data") from None
            self._needs([image], f"{row.where}, field data")
        authors = revision.data.get("authors", [])
        if self.version == 1:
            revision.data["authors"] = _legacy_people(authors, self.names)
        elif any("id" in person for person in authors):
            raise _Invalid("version 2 snapshots name people by username, not by id", "data")

    def check_media(self, listed: list) -> list[str]:
        """The media list names exactly the files the records need."""
        if self.version == 1:
            # Version 1 listed image sizes and a dict's text among the paths;
            # the records say which files are needed.
            return sorted(self.files)
        seen = set()
        for index, path in enumerate(listed, start=1):
            where = f"media entry {index}"
            try:
                media_path(path)
            except _Invalid as error:
                raise _refuse(where, str(error)) from None
            if path in seen:
                raise _refuse(where, f"{_show(path)} is listed twice")
            if path not in self.files:
                raise _refuse(where, f"no record refers to {_show(path)}")
            seen.add(path)
        for path, where in self.files.items():
            if path not in seen:
                raise _refuse(where, f"the file's media list leaves out {_show(path)}")
        return sorted(seen)


def _unique_names(users: dict[str, dict]) -> dict[str, str]:
    """Each name a person is shown by, to that person's username, when only
    one person of the file is shown by it."""
    owners: dict[str, set[str]] = {}
    for username, data in users.items():
        name = f"{data['first_name']} {data['last_name']}".strip() or username
        owners.setdefault(name, set()).add(username)
    return {name: next(iter(who)) for name, who in owners.items() if len(who) == 1}


def _legacy_people(entries: list[dict], names: dict[str, str]) -> list[dict]:
    """Version 1 snapshots named people by their id in the database that
    wrote the file, which means nothing here. The name they kept identifies
    the person when exactly one of the file's users is shown by it; anyone
    else keeps the name alone, so restoring that revision can never give a
    byline to the wrong person."""
    people = []
    for entry in entries:
        if "username" in entry:
            people.append(entry)
            continue
        name = entry.get("name", "")
        people.append({"username": names[name], "name": name} if name in names else {"name": name})
    return sorted(people, key=lambda person: person.get("username", ""))


def _check_users(entries: list) -> dict[str, dict]:
    User = get_user_model()
    expected = (*USER_FIELDS, "groups")
    users: dict[str, dict] = {}
    for index, entry in enumerate(entries, start=1):
        where = f"users record {index}"
        if not isinstance(entry, dict):
            raise _refuse(where, f"expected an object of {', '.join(expected)}")
        if isinstance(entry.get("username"), str):
            where = f"users record {index} ({_show(entry['username'])})"
        unknown = [key for key in entry if key not in expected]
        if unknown:
            raise _refuse(
                f"{where}, field {_show(unknown[0])}",
                "not a field of the format; an import never sets it",
            )
        missing = [key for key in expected if key not in entry]
        if missing:
            raise _refuse(f"{where}, field {missing[0]}", "missing")
        for key in USER_FIELDS:
            try:
                if not key.startswith("is_"):
                    _text(entry[key])
                elif not isinstance(entry[key], bool):
                    raise _Invalid(f"expected true or false, not {_show(entry[key])}")
            except _Invalid as error:
                raise _refuse(f"{where}, field {key}", str(error)) from None
        groups = entry["groups"]
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise _refuse(f"{where}, field groups", "expected a list of group names")
        others = [group for group in groups if group not in ROLES]
        if others:
            raise _refuse(
                f"{where}, field groups",
                f"{_show(others[0])} is not one of the newsroom's roles ({', '.join(ROLES)}); "
                "an import puts people in those only",
            )
        username = entry["username"]
        if User.normalize_username(username) != username:
            raise _refuse(f"{where}, field username", "not written as usernames are stored")
        user = User(**{key: entry[key] for key in USER_FIELDS})
        user.set_unusable_password()
        try:
            user.clean_fields()
        except ValidationError as error:
            field_name, messages = next(iter(error.message_dict.items()))
            raise _refuse(f"{where}, field {field_name}", " ".join(messages)) from None
        if username in users:
            raise _refuse(where, f"the username {_show(username)} is listed twice")
        users[username] = {**{key: entry[key] for key in USER_FIELDS}, "groups": sorted(groups)}
    return users


def check_content(data: dict) -> Plan:
    """Every record of a file that passed check_header, checked; nothing written."""
    checker = _Checker(data)
    rows = {}
    for name, model in SECTIONS.items():
        rows[name] = [
            checker.record(name, model, index, record)
            for index, record in enumerate(data[name], start=1)
        ]
    media = checker.check_media(data["media"])
    return Plan(users=checker.users, rows=rows, media=media)
