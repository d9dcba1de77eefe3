"""import_content treats a backup file as untrusted input: only its own
models and fields, values a form would take, no HTML from the file, no
privileged accounts, media paths inside media storage, all or nothing, and a
sentence naming the record and the field for whatever is refused."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction

from stories.models import AuditEntry, Issue, Newsletter, Story
from stories.portability import SECTIONS
from tests.factories import CorrectionFactory, IssueFactory, published_issue

pytestmark = pytest.mark.django_db


def export() -> str:
    out = io.StringIO()
    call_command("export_content", stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture(scope="module")
def exported(django_db_setup, django_db_blocker) -> str:
    """A small newsroom's export: two published stories with a citation each,
    a topic, a correction, a revision, and a draft issue beside the published
    one. Made once for the module and rolled back, so each test starts from
    an empty newsroom with the file in hand."""
    from stories.editorial.revisions import record_revision

    with django_db_blocker.unblock(), transaction.atomic():
        issue = published_issue(2)
        story = issue.stories.order_by("pk").first()
        story.topics.add("DeepSeek")
        CorrectionFactory(story=story)
        record_revision(Story.objects.get(pk=story.pk), story.created_by)
        IssueFactory()
        text = export()
        transaction.set_rollback(True)
    return text


@pytest.fixture
def backup(exported, db) -> dict:
    """The export as parsed JSON, for a test to change; the database is empty."""
    assert nothing_restored()
    return json.loads(exported)


def import_file(tmp_path, data, *args) -> str:
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(data))
    out = io.StringIO()
    call_command("import_content", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def nothing_restored() -> bool:
    # A migrated database holds its default newsletter, and only that.
    return (
        not get_user_model().objects.exists()
        and list(Newsletter.objects.values_list("is_default", flat=True)) == [True]
        and not any(
            model._default_manager.exists()
            for model in SECTIONS.values()
            if model is not Newsletter
        )
    )


def refusal(tmp_path, data, *args) -> str:
    """The sentence the import refuses data with; nothing of it may be written."""
    with pytest.raises(CommandError) as refused:
        import_file(tmp_path, data, *args)
    assert nothing_restored()
    return str(refused.value)


def where(data: dict, section: str, index: int = 0) -> str:
    """How a refusal names data[section][index]."""
    record = data[section][index]
    return f"{section} record {index + 1} ({record['model']} pk {record['pk']})"


def add(data: dict, section: str, record) -> None:
    data[section].append(record)
    data["counts"][section] += 1


SUPERUSER = {
    "model": "auth.user",
    "pk": 9001,
    "fields": {
        "username": "mallory",
        "password": "pbkdf2_sha256$1000000$salt$c29tZWhhc2g=",
        "is_superuser": True,
        "is_staff": True,
        "is_active": True,
    },
}


@pytest.mark.parametrize(
    "record",
    [
        SUPERUSER,
        {"model": "auth.group", "pk": 77, "fields": {"name": "Root"}},
        {"model": "auth.permission", "pk": 77, "fields": {"name": "x", "codename": "x"}},
        {"model": "stories.previewlink", "pk": 1, "fields": {}},
        {"model": "stories.story", "pk": 4242, "fields": {}},
    ],
    ids=["auth.user", "auth.group", "auth.permission", "previewlink", "story-among-sources"],
)
def test_a_record_of_another_model_among_the_sources_is_refused_by_name(backup, tmp_path, record):
    add(backup, "sources", record)

    sentence = refusal(tmp_path, backup)

    index = len(backup["sources"])
    assert sentence == (
        f"sources record {index}: it is a '{record['model']}' record, and the sources section "
        "holds stories.source records only; an import restores nothing else. "
        "Nothing was imported."
    )
    assert not get_user_model().objects.filter(username="mallory").exists()


def test_a_section_the_format_does_not_have_is_refused(backup, tmp_path):
    backup["auth_users"] = [SUPERUSER]
    assert "has a 'auth_users' entry, which no export writes" in refusal(tmp_path, backup)


@pytest.mark.parametrize("field", ["is_superuser", "password", "user_permissions"])
def test_an_account_field_outside_the_format_is_refused(backup, tmp_path, field):
    backup["users"][0][field] = True
    username = backup["users"][0]["username"]
    assert refusal(tmp_path, backup) == (
        f"users record 1 ('{username}'), field '{field}': not a field of the format; "
        "an import never sets it. Nothing was imported."
    )


def test_a_field_outside_the_format_is_refused_in_any_record(backup, tmp_path):
    backup["stories"][0]["fields"]["is_superuser"] = True
    assert refusal(tmp_path, backup) == (
        f"{where(backup, 'stories')}, field 'is_superuser': not a field of the format; "
        "an import never sets it. Nothing was imported."
    )


def test_an_account_is_never_put_in_a_group_other_than_the_newsrooms_roles(backup, tmp_path):
    from django.contrib.auth.models import Group, Permission

    Group.objects.create(name="Administrators").permissions.set(Permission.objects.all())
    backup["users"][0]["groups"] = ["Editors", "Administrators"]
    username = backup["users"][0]["username"]
    with pytest.raises(CommandError) as refused:
        import_file(tmp_path, backup)
    assert str(refused.value) == (
        f"users record 1 ('{username}'), field groups: 'Administrators' is not one of the "
        "newsroom's roles (Writers, Editors, Publishers); an import puts people in those only. "
        "Nothing was imported."
    )
    assert not get_user_model().objects.exists()


def test_accounts_an_import_creates_cannot_sign_in_and_hold_no_privileges(backup, tmp_path):
    for person in backup["users"]:
        person["is_staff"] = True

    import_file(tmp_path, backup)

    created = get_user_model().objects.all()
    assert created.count() == len(backup["users"])
    for user in created:
        assert not user.has_usable_password()
        assert not user.is_superuser and not user.user_permissions.exists()
        assert set(user.groups.values_list("name", flat=True)) <= {
            "Writers",
            "Editors",
            "Publishers",
        }


def test_rendered_html_in_the_file_is_ignored_and_rendered_again_from_the_markdown(
    backup, tmp_path
):
    from stories.models import Correction
    from stories.rendering import render_markdown

    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:x">y</a>'
    story = backup["stories"][0]["fields"]
    for target in Story.MARKDOWN_FIELDS.values():
        story[target] = hostile
    backup["issues"][0]["fields"]["intro_html"] = hostile
    backup["issues"][0]["fields"]["closing_tldr_html"] = hostile
    backup["corrections"][0]["fields"]["text_html"] = hostile

    import_file(tmp_path, backup)

    restored = Story.objects.get(pk=backup["stories"][0]["pk"])
    for source, target in Story.MARKDOWN_FIELDS.items():
        assert getattr(restored, target) == render_markdown(story[source])
    assert "<strong>bold</strong>" in restored.body_html
    issue = Issue.objects.get(pk=backup["issues"][0]["pk"])
    assert issue.intro_html == render_markdown(issue.intro) != ""
    assert issue.closing_tldr_html == ""
    correction = Correction.objects.get()
    assert correction.text_html == render_markdown(correction.text) != ""
    for html in (restored.body_html, issue.intro_html, correction.text_html):
        assert "<script" not in html and "onerror" not in html and "javascript:" not in html


def test_the_export_does_not_carry_rendered_html(backup):
    fields = {key for section in SECTIONS for r in backup[section] for key in r["fields"]}
    assert not any(key.endswith("_html") for key in fields)


TOO_LONG = "x" * 201


@pytest.mark.parametrize(
    "section, field, value, message",
    [
        ("citations", "url", "javascript:alert(document.cookie)", "Enter a valid URL."),
        ("sources", "url", "javascript:alert(1)", "Enter a valid URL."),
        ("stories", "status", "bogus", "Value 'bogus' is not a valid choice."),
        ("issues", "status", "live", "Value 'live' is not a valid choice."),
        ("stories", "version", True, "expected a whole number, not True"),
        ("issues", "version", "3", "expected a whole number, not '3'"),
        ("citations", "position", -1, "Ensure this value is greater than or equal to 0."),
        ("stories", "headline", TOO_LONG, "at most 200 characters (it has 201)"),
        ("stories", "headline", "", "This field cannot be blank."),
        ("stories", "headline", None, "it may not be null"),
        ("stories", "headline", ["list"], "expected text, not ['list']"),
        ("stories", "body", "a\x00b", "it holds a NUL character"),
        ("stories", "dek", "\ud800", "it holds a broken character"),
        ("stories", "slug", "not a slug!", "Enter a valid “slug”"),
        ("stories", "slug", "", "a story needs its address"),
        ("topics", "slug", "", "This field cannot be blank."),
        ("stories", "created_at", "yesterday", "'yesterday' is not a time such as"),
        ("stories", "created_at", 1700000000, "expected a time such as"),
        ("stories", "created_at", "2025-01-31T09:00:00", "has no UTC offset"),
        ("stories", "published_at", "0001-01-01T00:00:00+01:00", "outside the times"),
        ("stories", "created_by", 1, "expected a person as [username], not 1"),
        ("stories", "created_by", ["nobody"], "'nobody' is not among the file's users"),
        ("stories", "authors", [["nobody"]], "'nobody' is not among the file's users"),
        ("stories", "authors", "writer", "expected a list of people"),
        ("story_topics", "tag", ["Nope"], "no topic named 'Nope' in the file's topics"),
        ("citations", "story", 424242, "no story 424242 in the file"),
        ("citations", "story", "1", "expected the id of a story, not '1'"),
        ("story_revisions", "status", "bogus", "'bogus' is not a story status"),
        ("story_revisions", "data", {"authors": "bob"}, "authors: expected a list"),
        ("story_revisions", "data", {"password": "x"}, "password: not a field a snapshot"),
        ("story_revisions", "data", {"headline": TOO_LONG}, "headline: Ensure this value"),
        ("story_revisions", "data", ["headline"], "a snapshot is an object"),
        (
            "story_revisions",
            "data",
            {"citations": [{"source_id": 1, "url": "javascript:alert(1)"}]},
            "citations 1 url: Enter a valid URL.",
        ),
        (
            "story_revisions",
            "data",
            {"authors": [{"id": 3, "name": "Someone"}]},
            "version 2 snapshots name people by username",
        ),
        ("stories", "lead_image_renditions", {"files": {}}, "expected {} or the source"),
        (
            "stories",
            "lead_image_renditions",
            {"source": "a.jpg", "width": 1600, "height": 900, "files": {"big": "a-big.webp"}},
            "the copy 'big' is not named by its width",
        ),
    ],
)
def test_a_value_a_form_would_refuse_is_refused_naming_the_record_and_field(
    backup, tmp_path, section, field, value, message
):
    backup[section][0]["fields"][field] = value

    sentence = refusal(tmp_path, backup)

    assert sentence.startswith(f"{where(backup, section)}, field {field}: ")
    assert message in sentence
    assert sentence.endswith("Nothing was imported.")


def test_duplicate_primary_keys_are_refused_rather_than_merged(backup, tmp_path):
    copy = json.loads(json.dumps(backup["stories"][0]))
    copy["fields"]["slug"] = "another-address"
    add(backup, "stories", copy)

    assert refusal(tmp_path, backup) == (
        f"stories record {len(backup['stories'])} (stories.story pk {copy['pk']}), field pk: "
        f"{copy['pk']} is already used by {where(backup, 'stories')}. Nothing was imported."
    )


@pytest.mark.parametrize(
    "section, field",
    [("stories", "slug"), ("issues", "number"), ("sources", "name"), ("issue_items", "story")],
)
def test_values_that_must_be_unique_are_refused_when_repeated(backup, tmp_path, section, field):
    first, second = backup[section][0]["fields"], backup[section][1]["fields"]
    second[field] = first[field]
    if section == "issue_items":
        second["issue"] = first["issue"]
        field = "issue and story"
    if section == "issues":  # numbers are unique within a newsletter
        second["newsletter"] = first["newsletter"]
        field = "newsletter and number"

    sentence = refusal(tmp_path, backup)

    assert sentence.startswith(f"{where(backup, section, 1)}, field {field}: ")
    assert f"is already used by {where(backup, section, 0)}" in sentence


HOSTILE_PATHS = [
    "../../../../etc/passwd",
    "/etc/passwd",
    "lead-images/../../../etc/passwd",
    "lead-images/./x.jpg",
    "lead-images//x.jpg",
    "lead-images\\..\\x.jpg",
    "C:/Windows/win.ini",
    "lead-images/x\x00.jpg",
    "lead-images/x\n.jpg",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_a_lead_image_outside_media_storage_is_refused_before_anything_is_read_or_written(
    backup, tmp_path, path, monkeypatch
):
    from django.core.files.storage import default_storage

    def never(*args, **kwargs):
        raise AssertionError("media storage was read for a file that failed its checks")

    monkeypatch.setattr(default_storage, "exists", never)
    backup["stories"][0]["fields"]["lead_image"] = path
    backup["stories"][0]["fields"]["lead_image_alt"] = "An image"

    sentence = refusal(tmp_path, backup)

    assert sentence.startswith(f"{where(backup, 'stories')}, field lead_image: ")
    assert "media storage" in sentence or "control character" in sentence


@pytest.mark.parametrize("path", ["lead-images/x.svg", "lead-images/x.html", "lead-images/x"])
def test_a_lead_image_not_named_as_an_image_is_refused(backup, tmp_path, path):
    backup["stories"][0]["fields"]["lead_image"] = path
    backup["stories"][0]["fields"]["lead_image_alt"] = "An image"
    backup["media"] = [path]

    assert refusal(tmp_path, backup) == (
        f"{where(backup, 'stories')}, field lead_image: the file '{path}' is not named as an "
        "image (JPEG, PNG, WebP, GIF). Nothing was imported."
    )


@pytest.mark.parametrize("path", ["../outside.webp", "/tmp/x.webp", "", "x.webp.svg"])
def test_a_rendition_outside_media_storage_is_refused(backup, tmp_path, path):
    story = backup["stories"][0]["fields"]
    story["lead_image"] = "lead-images/2025/01/photo.jpg"
    story["lead_image_alt"] = "A photo"
    story["lead_image_renditions"] = {
        "source": story["lead_image"],
        "width": 1600,
        "height": 900,
        "files": {"480": path},
    }
    sentence = refusal(tmp_path, backup)
    assert sentence.startswith(f"{where(backup, 'stories')}, field lead_image_renditions: ")


def test_a_revision_whose_image_is_outside_media_storage_is_refused(backup, tmp_path):
    backup["story_revisions"][0]["fields"]["data"]["lead_image"] = "../../../etc/passwd"
    sentence = refusal(tmp_path, backup)
    assert sentence.startswith(f"{where(backup, 'story_revisions')}, field data: lead_image: ")


def mutate(change):
    """A change made in place to an export, as a function that gives the new file."""

    def changed(data):
        change(data)
        return data

    return changed


def first(section):
    return lambda data: data[section][0]


BAD_AT_EVERY_LEVEL = {
    # name: (the export changed, part of the refusal)
    "a list": (lambda d: [d], "This is not a Newsroom content export"),
    "no format": (mutate(lambda d: d.pop("format")), "This is not a Newsroom content export"),
    "version true": (
        mutate(lambda d: d.update(version=True)),
        "This export uses format version True",
    ),
    "version text": (mutate(lambda d: d.update(version="2")), "format version '2'"),
    "version 3": (mutate(lambda d: d.update(version=3)), "format version 3"),
    "section object": (
        mutate(lambda d: d.update(stories={})),
        "The export is incomplete: no stories section.",
    ),
    "section gone": (mutate(lambda d: d.pop("issues")), "The export is incomplete: no issues"),
    "users object": (mutate(lambda d: d.update(users={})), "The export's users entry is missing"),
    "media text": (mutate(lambda d: d.update(media="x")), "The export's media entry is missing"),
    "counts gone": (mutate(lambda d: d.pop("counts")), "The export's counts entry is missing"),
    "count wrong": (
        mutate(lambda d: d["counts"].update(stories=3)),
        "The export says it holds 3 stories but its stories section has 2 records",
    ),
    "record list": (
        mutate(lambda d: d["sources"].__setitem__(0, ["stories.source", 1])),
        "sources record 1: expected an object of model, pk and fields",
    ),
    "record no pk": (
        mutate(lambda d: first("sources")(d).pop("pk")),
        "sources record 1: expected an object of model, pk and fields",
    ),
    "pk text": (
        mutate(lambda d: first("sources")(d).update(pk="1")),
        "sources record 1: its pk must be a whole number above 0, not '1'",
    ),
    "pk zero": (
        mutate(lambda d: first("sources")(d).update(pk=0)),
        "sources record 1: its pk must be a whole number above 0, not 0",
    ),
    "pk huge": (
        mutate(lambda d: first("sources")(d).update(pk=2**70)),
        "field id: Ensure this value is less than or equal to",
    ),
    "fields list": (
        mutate(lambda d: first("sources")(d).update(fields=[])),
        "its fields must be an object",
    ),
    "field missing": (
        mutate(lambda d: first("sources")(d)["fields"].pop("slug")),
        "field slug: missing.",
    ),
    "user text": (
        mutate(lambda d: d["users"].__setitem__(0, "admin")),
        "users record 1: expected an object",
    ),
    "user without username": (
        mutate(lambda d: d["users"][0].pop("username")),
        "users record 1, field username: missing.",
    ),
    "username list": (
        mutate(lambda d: d["users"][0].update(username=["x"])),
        "users record 1, field username: expected text, not ['x'].",
    ),
    "staff text": (
        mutate(lambda d: d["users"][0].update(is_staff="yes")),
        "field is_staff: expected true or false, not 'yes'.",
    ),
    "bad username": (
        mutate(lambda d: d["users"][0].update(username="no spaces allowed")),
        "users record 1 ('no spaces allowed'), field username: Enter a valid username.",
    ),
    "user twice": (
        mutate(lambda d: d["users"].append(dict(d["users"][0]))),
        "is listed twice",
    ),
    "groups text": (
        mutate(lambda d: d["users"][0].update(groups="Editors")),
        "field groups: expected a list of group names",
    ),
    "media entry list": (
        mutate(lambda d: d["media"].append(["x"])),
        "media entry 1: expected a file's path in media storage",
    ),
    "media outside": (
        mutate(lambda d: d["media"].append("../../etc/passwd")),
        "media entry 1: the path '../../etc/passwd' is not a plain path",
    ),
    "media no record needs": (
        mutate(lambda d: d["media"].append("lead-images/unrelated.jpg")),
        "media entry 1: no record refers to 'lead-images/unrelated.jpg'",
    ),
    "json too deep": (
        mutate(
            lambda d: first("story_revisions")(d)["fields"]["data"].update(
                topics=[[[[[[[[[[["deep"]]]]]]]]]]]
            )
        ),
        "field data: it nests deeper than any value an export writes",
    ),
}


@pytest.mark.parametrize("case", BAD_AT_EVERY_LEVEL)
def test_a_malformed_file_is_refused_with_a_sentence_at_every_level(backup, tmp_path, case):
    change, part = BAD_AT_EVERY_LEVEL[case]
    assert part in refusal(tmp_path, change(backup))


@pytest.mark.parametrize(
    "content, start",
    [
        (b"[" * 100_000, "nests deeper than any export does"),
        (b'{"format": 1' + b"1" * 5000 + b"}", "is not valid JSON"),
        (b'{"format": NaN}', "is not valid JSON (NaN is not a number JSON allows)"),
        (b'{"format": "x", "format": "newsroom-content"}', "the key 'format' appears twice"),
        (b'{"format": "\xff\xfe"}', "is not valid JSON (it is not UTF-8 text: byte 12"),
        (b"\xef\xbb\xbf{}", "is not valid JSON"),
        (b"", "is not valid JSON"),
    ],
    ids=["deep", "huge-number", "nan", "repeated-key", "not-utf8", "bom", "empty"],
)
def test_a_file_that_is_not_sound_json_is_refused_with_a_sentence(tmp_path, content, start):
    path = tmp_path / "hostile.json"
    path.write_bytes(content)
    with pytest.raises(CommandError) as refused:
        call_command("import_content", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert str(refused.value).startswith(str(path))
    assert start in str(refused.value)
    assert nothing_restored()


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read_whole(backup, tmp_path):
    size = len(json.dumps(backup).encode())
    sentence = refusal(tmp_path, backup, f"--max-bytes={size - 1}")
    assert f"({size - 1:,} bytes), the most an import reads" in sentence
    assert "raise the limit with --max-bytes" in sentence
    import_file(tmp_path, backup, f"--max-bytes={size}")
    assert Story.objects.count() == 2


@pytest.mark.parametrize("limit", ["-5", "0", "lots", "9" * 40])
def test_a_size_limit_that_is_not_a_number_of_bytes_is_refused_with_a_sentence(
    backup, tmp_path, limit
):
    sentence = refusal(tmp_path, backup, f"--max-bytes={limit}")
    assert sentence == (f"Error: argument --max-bytes: '{limit}' is not a number of bytes above 0")


def test_an_import_the_database_refuses_midway_leaves_nothing_behind(backup, tmp_path, monkeypatch):
    from django.db import DatabaseError, models

    save_base = models.Model.save_base

    def disk_full_at_the_audit_trail(obj, *args, **kwargs):
        if isinstance(obj, AuditEntry):
            raise DatabaseError("could not extend file: No space left on device")
        return save_base(obj, *args, **kwargs)

    monkeypatch.setattr(models.Model, "save_base", disk_full_at_the_audit_trail)

    assert refusal(tmp_path, backup) == (
        f"{where(backup, 'audit_trail')}: the database refused it "
        "(could not extend file: No space left on device). Nothing was imported."
    )


def test_media_storage_that_fails_leaves_nothing_committed(backup, tmp_path, monkeypatch):
    from django.core.files.storage import default_storage

    story = backup["stories"][0]["fields"]
    story["lead_image"], story["lead_image_alt"] = "lead-images/2025/01/photo.jpg", "A photo"
    backup["media"] = ["lead-images/2025/01/photo.jpg"]

    def unreachable(name):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(default_storage, "exists", unreachable)

    assert refusal(tmp_path, backup) == (
        "Media storage could not be read ([Errno 5] Input/output error); nothing was "
        "imported. Check DJANGO_MEDIA_ROOT or the media bucket's settings and try again."
    )
