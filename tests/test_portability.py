"""export_content and import_content: a backup restores with nothing lost."""

import io
import json
import re

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.management import CommandError, call_command

from stories.backup_format import ROLES
from stories.models import AuditEntry, Issue, ListingEntry, SearchDocument, Story
from stories.portability import FORMAT_VERSION, NOT_EXPORTED, SECTIONS
from tests.factories import StoryFactory, ensure_editorial_groups, published_issue

# Real transactions: a restore is tried after a flush, which PostgreSQL refuses
# inside the usual per-test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def editorial_groups(transactional_db):
    ensure_editorial_groups()


@pytest.fixture
def demo(monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setenv("NEWSROOM_DEMO_PASSWORD", "demo-password-123")
    call_command("load_demo", stdout=io.StringIO())


def snapshot() -> dict:
    """Every field of every exported row, people by username."""
    from stories.backup_format import UNCARRIED

    rows = {
        name: serializers.serialize(
            "python", model._default_manager.order_by("pk"), use_natural_foreign_keys=True
        )
        for name, model in SECTIONS.items()
    }
    for name, model in SECTIONS.items():
        # Bookkeeping a restore gives afresh (a new render stamp, say).
        for row in rows[name]:
            for field in UNCARRIED.get(model, ()):
                row["fields"].pop(field)
    rows["users"] = [
        (u.username, u.first_name, u.last_name, u.email, u.is_staff, u.is_active)
        # The editorial roles: access to subscribers is never given by a file.
        + (sorted(u.groups.filter(name__in=ROLES).values_list("name", flat=True)),)
        for u in get_user_model().objects.order_by("username")
    ]
    return rows


def export(**options) -> str:
    out = io.StringIO()
    call_command("export_content", stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def fresh_database():
    """What a new server has after 'migrate': no rows, the editorial groups."""
    call_command("flush", interactive=False, verbosity=0)
    ensure_editorial_groups()


def search_index() -> list[tuple]:
    """The search rows' text; the import rebuilds them rather than restoring them."""
    return list(SearchDocument.objects.order_by("pk").values_list("pk", "headline", "dek", "body"))


def listings() -> set[tuple]:
    """Where each story is listed; the import rebuilds the entries rather
    than restoring them."""
    return set(
        ListingEntry.objects.values_list(
            "story__slug",
            "listed_at",
            "topic__slug",
            "source__slug",
            "author__username",
            "contributor__slug",
        )
    )


def found_by_search(client, word: str) -> list[str]:
    response = client.get("/search/", {"q": word})
    assert response.status_code == 200
    return re.findall(r'<h2><a href="([^"]*)">', response.content.decode())


def test_round_trip_of_the_demo_loses_nothing(demo, tmp_path, client):
    before = snapshot()
    indexed = search_index()
    listed = listings()
    assert len(before["stories"]) >= 10 and len(before["audit_trail"]) >= 30
    story = Story.objects.published().get(slug="ais-sputnik-moment")
    assert found_by_search(client, "Sputnik") == [story.get_absolute_url()]
    path = tmp_path / "backup.json"
    call_command("export_content", output=str(path), stderr=io.StringIO())
    fresh_database()
    assert Story.objects.count() == 0 and get_user_model().objects.count() == 0
    assert SearchDocument.objects.count() == 0

    out = io.StringIO()
    call_command("import_content", str(path), stdout=out, stderr=io.StringIO())

    after = snapshot()
    for section in before:
        assert after[section] == before[section], section
    assert "Restored" in out.getvalue()
    assert "Created 4 accounts without passwords" in out.getvalue()
    assert not get_user_model().objects.filter(groups__name="Audience").exists()
    # Search works again at once: the index is rebuilt, not left empty.
    assert search_index() == indexed
    assert f"Indexed {len(indexed)} stories for search." in out.getvalue()
    assert found_by_search(client, "Sputnik") == [story.get_absolute_url()]
    # And listed under its topics, sources and bylines again.
    assert listed and listings() == listed


def test_restored_rows_keep_status_timestamps_versions_and_rendered_html(demo, tmp_path):
    story = Story.objects.get(slug="ais-sputnik-moment")
    issue = Issue.objects.get(number=1)
    path = tmp_path / "backup.json"
    call_command("export_content", output=str(path), stderr=io.StringIO())
    fresh_database()
    call_command("import_content", str(path), stdout=io.StringIO(), stderr=io.StringIO())

    restored = Story.objects.get(pk=story.pk)
    assert restored.status == story.status == Story.Status.PUBLISHED
    assert restored.published_at == story.published_at  # to the microsecond
    assert restored.created_at == story.created_at and restored.updated_at == story.updated_at
    assert restored.version == story.version
    assert restored.key_points_html == story.key_points_html
    assert restored.lead_image.name == story.lead_image.name
    assert list(restored.authors.values_list("username", flat=True)) == ["writer"]
    assert Issue.objects.get(pk=issue.pk).publish_at == issue.publish_at
    assert Issue.objects.get(pk=issue.pk).status == Issue.Status.PUBLISHED


def test_new_rows_after_a_restore_get_fresh_ids(demo, tmp_path, writer):
    path = tmp_path / "backup.json"
    call_command("export_content", output=str(path), stderr=io.StringIO())
    highest = Story.objects.order_by("-pk").first().pk
    fresh_database()
    call_command("import_content", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    story = StoryFactory(created_by=get_user_model().objects.get(username="writer"))
    assert story.pk > highest


def test_export_is_versioned_json_with_usernames_and_media_but_no_passwords(demo):
    data = json.loads(export())
    assert data["format"] == "newsroom-content" and data["version"] == FORMAT_VERSION
    assert data["counts"]["stories"] == Story.objects.count() == len(data["stories"])
    usernames = {u["username"] for u in data["users"]}
    assert usernames == {"admin", "writer", "editor", "publisher"}
    assert all("password" not in u for u in data["users"])
    story = next(s for s in data["stories"] if s["fields"]["slug"] == "ais-sputnik-moment")
    assert story["fields"]["authors"] == [["writer"]]
    assert story["fields"]["lead_image"] in data["media"]
    # Full microseconds, not Django's usual milliseconds.
    assert len(story["fields"]["created_at"].split(".")[1]) == len("123456+00:00")


def test_export_shows_progress_per_section(demo, tmp_path):
    progress = io.StringIO()
    call_command("export_content", output=str(tmp_path / "b.json"), stderr=progress)
    lines = progress.getvalue().splitlines()
    assert f"  stories: {Story.objects.count()}/{Story.objects.count()}" in lines
    assert f"  audit_trail: {AuditEntry.objects.count()}/{AuditEntry.objects.count()}" in lines
    assert lines[-1].startswith("Exported ")


def test_import_refuses_a_database_that_already_has_content(demo, tmp_path):
    path = tmp_path / "backup.json"
    path.write_text(export())
    stories = Story.objects.count()
    with pytest.raises(CommandError, match="The database already holds content") as refused:
        call_command("import_content", str(path), stdout=io.StringIO())
    assert f"{stories} stories" in str(refused.value)
    assert "create a new database, run 'manage.py migrate', then import" in str(refused.value)
    assert Story.objects.count() == stories


def test_import_refuses_files_that_are_not_exports(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"stories": []}')
    with pytest.raises(CommandError, match="not a Newsroom content export"):
        call_command("import_content", str(path))
    path.write_text(json.dumps({"format": "newsroom-content", "version": 99}))
    with pytest.raises(
        CommandError, match="format version 99; this Newsroom reads versions 1 and 2"
    ):
        call_command("import_content", str(path))
    path.write_text("{not json")
    with pytest.raises(CommandError, match="is not valid JSON"):
        call_command("import_content", str(path))


def test_an_export_from_before_newsletters_restores_into_the_default_newsletter(demo, tmp_path):
    from tests.factories import default_newsletter

    data = json.loads(export())
    numbers = sorted(record["fields"]["number"] for record in data["issues"])
    # What a version 1 file looked like: no newsletters, issues without one.
    data["version"] = 1
    del data["newsletters"]
    for record in data["issues"]:
        del record["fields"]["newsletter"]
    # Nor stories written for a newsletter, contributors or sections.
    for record in data["stories"]:
        del record["fields"]["newsletter"], record["fields"]["section"]
    for name in ("contributors", "sections", "guest_bylines"):
        del data[name], data["counts"][name]
    fresh_database()
    default = default_newsletter()  # as 'migrate' makes it
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data))
    call_command("import_content", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert sorted(default.issues.values_list("number", flat=True)) == numbers


def test_an_export_from_before_issue_formats_restores_its_issues_as_digests(demo, tmp_path):
    data = json.loads(export())
    assert {record["fields"]["format"] for record in data["issues"]} >= {"essay", "post"}
    for record in data["issues"]:
        del record["fields"]["format"]
    fresh_database()
    path = tmp_path / "before-formats.json"
    path.write_text(json.dumps(data))
    call_command("import_content", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert set(Issue.objects.values_list("format", flat=True)) == {"digest"}


def test_a_failed_import_leaves_the_database_empty(demo, tmp_path):
    data = json.loads(export())
    data["issue_items"].append(
        {
            "model": "stories.issueitem",
            "pk": 99999,
            "fields": {"issue": data["issues"][0]["pk"], "story": 424242, "position": 9},
        }
    )
    data["counts"]["issue_items"] += 1
    fresh_database()
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CommandError) as refused:
        call_command("import_content", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert str(refused.value) == (
        f"issue_items record {len(data['issue_items'])} (stories.issueitem pk 99999), "
        "field story: no story 424242 in the file. Nothing was imported."
    )
    assert Story.objects.count() == 0 and Issue.objects.count() == 0
    assert get_user_model().objects.count() == 0


def test_import_warns_about_media_files_missing_from_storage(demo, tmp_path, settings):
    path = tmp_path / "backup.json"
    path.write_text(export())
    fresh_database()
    settings.MEDIA_ROOT = tmp_path / "empty-media"
    out = io.StringIO()
    call_command("import_content", str(path), stdout=out, stderr=io.StringIO())
    assert "media files the content refers to are not in media storage" in out.getvalue()


def test_import_keeps_existing_accounts_as_they_are(tmp_path, editor):
    published_issue(2)
    path = tmp_path / "backup.json"
    path.write_text(export())
    fresh_database()
    kept = get_user_model().objects.create_user("editor", password="kept password")
    call_command("import_content", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    editor = get_user_model().objects.get(username="editor")
    assert editor.pk == kept.pk
    assert editor.check_password("kept password")
    assert Issue.objects.count() == 1 and Story.objects.count() == 2


def test_round_trip_of_the_benchmark_data_loses_nothing(tmp_path, client):
    call_command(
        "generate_bench_data",
        issues=5,
        stories=30,
        topics=5,
        sources=5,
        authors=3,
        subscribers=0,
        quiet=True,
    )
    before = snapshot()
    indexed = search_index()
    assert len(before["stories"]) == 30 and len(before["issue_items"]) == 30
    assert len(before["citations"]) >= 30 and len(before["story_topics"]) >= 30
    assert len(indexed) == 30
    path = tmp_path / "bench.json"
    call_command("export_content", output=str(path), stderr=io.StringIO())
    fresh_database()
    assert not any(model._default_manager.exists() for model in SECTIONS.values())

    call_command("import_content", str(path), stdout=io.StringIO(), stderr=io.StringIO())

    after = snapshot()
    for section in before:
        assert after[section] == before[section], section
    assert search_index() == indexed
    story = Story.objects.published().order_by("pk").first()
    assert story.get_absolute_url() in found_by_search(client, f'"{story.headline}"')


def test_every_model_of_the_app_is_exported_or_left_out_for_a_stated_reason():
    models = set(apps.get_app_config("stories").get_models())
    exported, left_out = set(SECTIONS.values()), set(NOT_EXPORTED)
    assert exported.isdisjoint(left_out)
    assert models == exported | left_out, (
        "A model of the stories app is neither exported nor listed in NOT_EXPORTED: "
        f"{sorted(m.__name__ for m in models - exported - left_out)}"
    )
    assert all(reason.strip() for reason in NOT_EXPORTED.values())
    # Many-to-many links without a model of their own (bylines) travel with
    # their story; any other would need a section.
    links = [
        model
        for model in apps.get_app_config("stories").get_models(include_auto_created=True)
        if model._meta.auto_created
    ]
    assert Story.authors.through in links
    for link in links:
        assert link._meta.auto_created in exported, link.__name__


def test_the_format_names_every_field_of_each_exported_model():
    from stories.backup_format import FIELDS, RENDERED, UNCARRIED

    for model in SECTIONS.values():
        fields = {f.name for f in model._meta.local_fields if not f.primary_key}
        fields |= {
            f.name
            for f in model._meta.local_many_to_many
            if f.remote_field.through._meta.auto_created
        }
        carried = set(FIELDS[model]) | set(RENDERED.get(model, {}).values())
        assert carried | set(UNCARRIED.get(model, ())) == fields, model.__name__


# -- the media list ----------------------------------------------------------


def test_export_lists_every_file_the_content_depends_on(demo):
    from django.core.files.storage import default_storage

    from stories.models import StoryRevision

    story = Story.objects.get(slug="ais-sputnik-moment")
    renditions = story.lead_image_renditions["files"]
    assert len(renditions) >= 2
    StoryRevision.objects.create(
        story=story, number=1, data={"lead_image": "lead-images/2024/12/earlier.jpg"}
    )

    media = json.loads(export())["media"]

    assert media == sorted(
        {story.lead_image.name, *renditions.values(), "lead-images/2024/12/earlier.jpg"}
    )
    stored = [path for path in media if path != "lead-images/2024/12/earlier.jpg"]
    assert all(default_storage.exists(path) for path in stored)


def test_import_names_missing_renditions_by_their_paths(demo, tmp_path, settings):
    story = Story.objects.get(slug="ais-sputnik-moment")
    expected = sorted({story.lead_image.name, *story.lead_image_renditions["files"].values()})
    path = tmp_path / "backup.json"
    path.write_text(export())
    fresh_database()
    settings.MEDIA_ROOT = tmp_path / "empty-media"
    out = io.StringIO()

    call_command("import_content", str(path), stdout=out, stderr=io.StringIO())

    warning = out.getvalue()
    assert f"{len(expected)} media files the content refers to are not in media storage" in warning
    assert f"(e.g. {', '.join(expected[:5])})" in warning


def test_import_refuses_a_media_list_that_leaves_out_a_file_the_content_needs(demo, tmp_path):
    data = json.loads(export())
    story = next(s for s in data["stories"] if s["fields"]["lead_image"])
    left_out = story["fields"]["lead_image_renditions"]["files"]["480"]
    data["media"].remove(left_out)
    fresh_database()
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(data))
    index = data["stories"].index(story) + 1

    with pytest.raises(CommandError) as refused:
        call_command("import_content", str(path), stdout=io.StringIO(), stderr=io.StringIO())

    assert str(refused.value) == (
        f"stories record {index} (stories.story pk {story['pk']}), field lead_image: "
        f"the file's media list leaves out '{left_out}'. Nothing was imported."
    )
    assert Story.objects.count() == 0


def version_1(data: dict) -> dict:
    """data as the release before format 2 wrote it: rendered HTML in the
    records, revision bylines by user id, and a media list holding image
    sizes and a dict's text instead of the renditions' paths."""
    from stories.backup_format import RENDERED

    models = {model._meta.label_lower: model for model in SECTIONS.values()}
    for name in SECTIONS:
        for record in data[name]:
            model = models[record["model"]]
            for target in RENDERED.get(model, {}).values():
                record["fields"][target] = "<p>rendered by the old release</p>"
    for record in data["story_revisions"]:
        record["fields"]["data"]["authors"] = [
            {"id": 4000 + n, "name": person["name"]}
            for n, person in enumerate(record["fields"]["data"]["authors"])
        ]
    media = []
    for record in data["stories"]:
        fields = record["fields"]
        if fields["lead_image"]:
            renditions = fields["lead_image_renditions"]
            media += [str(renditions["width"]), str(renditions["height"]), fields["lead_image"]]
            media.append(str(renditions["files"]))
    data.update(version=1, media=media)
    return data


def test_a_version_1_export_still_restores(demo, tmp_path):
    from stories.editorial.revisions import record_revision
    from stories.rendering import render_markdown

    story = Story.objects.get(slug="ais-sputnik-moment")
    record_revision(story, None)
    before = snapshot()
    data = version_1(json.loads(export()))
    assert any(entry.isdigit() for entry in data["media"])
    fresh_database()
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data))

    out = io.StringIO()
    call_command("import_content", str(path), stdout=out, stderr=io.StringIO())

    after = snapshot()
    for section in ("sources", "topics", "stories", "issues", "issue_items", "audit_trail"):
        assert after[section] == before[section], section
    restored = Story.objects.get(slug="ais-sputnik-moment")
    assert restored.body_html == render_markdown(restored.body)
    # The bylines of the version 1 snapshot were matched by name.
    (revision,) = restored.revisions.all()
    assert revision.data["authors"] == [{"username": "writer", "name": "Wren Writer"}]
    assert "1600" not in out.getvalue()


# -- revisions after a restore -----------------------------------------------


def test_restoring_a_revision_after_an_import_gives_each_byline_to_the_same_person(tmp_path):
    from stories.editorial.revisions import record_revision
    from stories.editorial.workflow import restore_revision
    from tests.factories import UserFactory, user_in

    User = get_user_model()
    # Made in this order here; an import creates accounts by username, so
    # after a restore amy comes first and the ids change hands.
    zed = UserFactory(username="zed", first_name="Zed", last_name="Zulu", groups=["Writers"])
    amy = UserFactory(username="amy", first_name="Amy", last_name="Ames", groups=["Writers"])
    story = StoryFactory(created_by=zed, authors=[zed])
    record_revision(Story.objects.get(pk=story.pk), zed)
    story.authors.set([amy])
    record_revision(Story.objects.get(pk=story.pk), amy)
    path = tmp_path / "backup.json"
    call_command("export_content", output=str(path), stderr=io.StringIO())
    fresh_database()
    call_command("import_content", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert User.objects.get(username="zed").pk != zed.pk

    story = Story.objects.get(pk=story.pk)
    assert list(story.authors.values_list("username", flat=True)) == ["amy"]
    restore_revision(
        user_in("Editors", username="restorer"),
        story,
        story.revisions.get(number=1),
        based_on_version=story.version,
    )

    assert list(story.authors.values_list("username", flat=True)) == ["zed"]
