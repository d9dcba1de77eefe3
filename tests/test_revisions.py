"""Revisions: kept on every admin save, compared field by field, restored as
a new revision, pruned without losing the published or latest ones."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from stories.editorial import revisions, workflow
from stories.models import Citation, Story, StoryRevision
from tests.factories import SourceFactory, StoryFactory, published_issue
from tests.story_admin import change_url, messages_of, story_form_data

pytestmark = pytest.mark.django_db


def compare_url(story, a, b):
    return reverse("admin:stories_story_revision_compare", args=[story.pk]) + f"?a={a}&b={b}"


def restore_url(story, number):
    return reverse("admin:stories_story_revision_restore", args=[story.pk, number])


def seen(story) -> dict:
    """What the compare page posts with "Restore": the story's version it showed."""
    return {"based_on_version": story.version}


def test_adding_a_story_in_the_admin_keeps_its_first_revision(client, writer):
    client.force_login(writer)
    response = client.post(
        reverse("admin:stories_story_add"),
        {
            "headline": "OpenAI ships a new model",
            "slug": "",
            "dek": "",
            "authors": [writer.pk],
            "body": "Draft body",
            "citations-TOTAL_FORMS": "0",
            "citations-INITIAL_FORMS": "0",
            "guest_bylines-TOTAL_FORMS": "0",
            "guest_bylines-INITIAL_FORMS": "0",
            "topics-TOTAL_FORMS": "0",
            "topics-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    story = Story.objects.get(headline="OpenAI ships a new model")
    (revision,) = story.revisions.all()
    assert revision.number == 1
    assert revision.created_by == writer
    assert revision.data["body"] == "Draft body"
    assert revision.data["authors"] == [{"username": "writer", "name": writer.get_full_name()}]


def test_every_admin_save_keeps_a_snapshot_with_topics_citations_and_bylines(client, editor):
    story = StoryFactory(headline="Before", cited=False)
    story.topics.add("DeepSeek")
    Citation.objects.create(story=story, source=SourceFactory(name="Reuters"), title="Scoop")
    client.force_login(editor)

    client.post(change_url(story), story_form_data(client, story, headline="After"))

    baseline, saved = story.revisions.order_by("number")
    assert baseline.data["headline"] == "Before"
    assert baseline.note.startswith("As it was before its first edit")
    assert saved.data["headline"] == "After"
    assert saved.created_by == editor
    assert saved.data["topics"] == ["DeepSeek"]
    assert [c["source"] for c in saved.data["citations"]] == ["Reuters"]
    assert saved.data["version"] == Story.objects.get(pk=story.pk).version

    client.post(change_url(story), story_form_data(client, story, dek="Third save"))
    assert story.revisions.count() == 3


def test_diff_lists_changed_fields_in_form_order():
    before = {"headline": "A", "body": "one\ntwo", "topics": ["AI"], "authors": []}
    after = {"headline": "B", "body": "one\nthree", "topics": ["AI", "Chips"], "authors": []}
    changes = revisions.diff(before, after)
    assert [(c.key, c.before, c.after) for c in changes] == [
        ("headline", "A", "B"),
        ("topics", "AI", "AI, Chips"),
        ("body", "one\ntwo", "one\nthree"),
    ]
    assert changes[2].lines == [(" ", "one"), ("-", "two"), ("+", "three")]


def test_long_unchanged_stretches_are_shortened_in_a_text_diff():
    body = "\n".join(f"paragraph {n}" for n in range(20))
    changed = body.replace("paragraph 10", "paragraph ten")
    (change,) = revisions.diff({"body": body}, {"body": changed})
    assert ("-", "paragraph 10") in change.lines
    assert ("+", "paragraph ten") in change.lines
    assert len(change.lines) < 10


def test_admin_compares_any_two_revisions_field_by_field(client, editor):
    story = StoryFactory(headline="First", dek="Same dek")
    client.force_login(editor)
    for headline in ["Second", "Third"]:
        client.post(change_url(story), story_form_data(client, story, headline=headline))

    response = client.get(compare_url(story, 3, 1))

    assert response.status_code == 200
    changes = response.context["changes"]
    assert [(c.label, c.before, c.after) for c in changes] == [("Headline", "First", "Third")]
    page = response.content.decode()
    assert "Revision 1" in page and "Revision 3" in page
    assert "Restore revision 1" in page


def test_history_page_lists_revisions_for_comparison(client, editor):
    story = StoryFactory()
    client.force_login(editor)
    client.post(change_url(story), story_form_data(client, story, headline="Edited"))
    page = client.get(reverse("admin:stories_story_history", args=[story.pk])).content.decode()
    assert 'id="revision-1"' in page and 'id="revision-2"' in page
    assert "Compare the two selected revisions" in page


@pytest.mark.parametrize("object_id", ["abc", "1.5", "99999999999999999999999", "424242"])
def test_history_page_of_a_story_that_does_not_exist_says_so(client, editor, object_id):
    client.force_login(editor)

    response = client.get(reverse("admin:stories_story_history", args=[object_id]), follow=True)

    assert response.redirect_chain == [(reverse("admin:index"), 302)]
    assert messages_of(response) == [
        f"story with ID “{object_id}” doesn’t exist. Perhaps it was deleted?"
    ]


def test_restore_saves_the_old_content_as_a_new_revision(client, editor):
    story = StoryFactory(headline="Original", cited=False)
    story.topics.add("Chips")
    Citation.objects.create(story=story, source=SourceFactory(name="FT"), title="Original report")
    client.force_login(editor)
    data = story_form_data(client, story, headline="Rewritten")
    data["topics-0-DELETE"] = "on"
    data["citations-0-DELETE"] = "on"
    client.post(change_url(story), data)
    assert story.topics.count() == 0 and story.citations.count() == 0

    story.refresh_from_db()
    response = client.post(restore_url(story, 1), seen(story), follow=True)

    assert "Restored revision 1; it is saved as revision 3." in messages_of(response)
    story.refresh_from_db()
    assert story.headline == "Original"
    assert list(story.topics.names()) == ["Chips"]
    assert [c.title for c in story.citations.all()] == ["Original report"]
    assert list(story.revisions.order_by("number").values_list("number", "note")) == [
        (1, "As it was before its first edit in the admin"),
        (2, ""),
        (3, "Restored revision 1"),
    ]


def test_restore_is_refused_when_the_user_may_not_edit_the_story(client, writer):
    story = StoryFactory(created_by=writer, headline="Submitted")
    revisions.record_revision(story, writer)
    workflow.submit_for_review(writer, story)
    client.force_login(writer)
    story.refresh_from_db()
    response = client.post(restore_url(story, 1), seen(story), follow=True)
    assert any("writers can edit it again" in m for m in messages_of(response))
    assert story.revisions.count() == 1


def test_restore_needs_a_post(client, editor):
    story = StoryFactory()
    revisions.record_revision(story, editor)
    client.force_login(editor)
    assert client.get(restore_url(story, 1)).status_code == 405


# -- pruning -----------------------------------------------------------------


def _revisions_over_days(story, user, days):
    """One revision a day, starting days ago, so ages differ as in real use."""
    start = timezone.now() - timedelta(days=days)
    for n in range(days):
        with time_machine.travel(start + timedelta(days=n), tick=False):
            revisions.record_revision(story, user)


def test_prune_keeps_the_latest_and_the_published_revisions(editor):
    issue = published_issue(1)
    story = issue.stories.get()
    story.revisions.all().delete()
    # Ten days of drafting before publication, then two edits to the live story.
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        story.status = Story.Status.DRAFT  # a snapshot's status is all that matters here
        _revisions_over_days(story, editor, 10)
    went_live = story.revisions.order_by("-number").first()
    Story.objects.filter(pk=story.pk).update(published_at=went_live.created_at)
    story.refresh_from_db()
    revisions.record_revision(story, editor)
    revisions.record_revision(story, editor)
    latest = story.revisions.order_by("-number").first()

    call_command("prune_revisions", "--keep-latest=1", "--older-than-days=0")

    kept = set(story.revisions.values_list("pk", flat=True))
    published = set(story.revisions.filter(status="published").values_list("pk", flat=True))
    assert kept == {went_live.pk, latest.pk} | published
    assert len(published) == 2


def test_prune_leaves_recent_revisions_alone(editor):
    story = StoryFactory()
    _revisions_over_days(story, editor, 40)

    call_command("prune_revisions", "--keep-latest=1", "--older-than-days=30")

    # One a day from 40 days ago to yesterday: the 29 younger than 30 days stay.
    ages = [(timezone.now() - r.created_at).days for r in story.revisions.all()]
    assert len(ages) == 29
    assert max(ages) < 30


def test_prune_refuses_to_delete_every_revision():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_revisions", "--keep-latest=0")


def test_prune_reports_how_many_it_deleted(editor, capsys):
    story = StoryFactory()
    for _ in range(4):
        revisions.record_revision(story, editor)
    call_command("prune_revisions", "--keep-latest=2", "--older-than-days=0")
    assert "Deleted 2 revisions." in capsys.readouterr().out
    assert list(StoryRevision.objects.values_list("number", flat=True)) == [4, 3]


def test_line_endings_from_a_browser_are_not_a_change():
    assert revisions.diff({"body": "one\ntwo"}, {"body": "one\r\ntwo"}) == []


def test_compare_page_offers_restore_only_for_older_content(client, editor):
    story = StoryFactory(headline="First")
    client.force_login(editor)
    client.post(change_url(story), story_form_data(client, story, headline="Second"))
    page = client.get(compare_url(story, 1, 2)).content.decode()
    assert "Restore revision 1" in page
    assert "Restore revision 2" not in page  # it is what the story already says


def test_admin_change_log_names_only_fields_the_editor_changed(client, editor):
    from django.contrib.admin.models import LogEntry

    story = StoryFactory()
    client.force_login(editor)
    client.post(change_url(story), story_form_data(client, story, dek="New dek"))
    assert LogEntry.objects.get().get_change_message() == "Changed Dek (subtitle)."


def test_restore_from_a_page_older_than_the_story_is_refused_naming_who_saved(client, editor):
    from tests.factories import user_in

    story = StoryFactory(headline="First")
    client.force_login(editor)
    client.post(change_url(story), story_form_data(client, story, headline="Second"))
    page = client.get(compare_url(story, 1, 2)).content.decode()
    form = page[page.index(restore_url(story, 1)) :]
    seen = dict(re.findall(r'name="(based_on_version|opened_at)" value="([^"]*)"', form[:600]))
    other = Client()
    other.force_login(user_in("Editors", username="late", first_name="Lee", last_name="Late"))
    other.post(change_url(story), story_form_data(other, story, headline="Third, by Lee"))

    response = client.post(restore_url(story, 1), seen, follow=True)

    (message,) = messages_of(response)
    assert message.startswith("Revision 1 was not restored: Lee Late saved it at ")
    assert "after you opened this story" in message
    story.refresh_from_db()
    assert story.headline == "Third, by Lee"
    assert story.revisions.count() == 3


def test_restore_that_does_not_say_what_it_saw_is_refused(client, editor):
    story = StoryFactory(headline="First")
    client.force_login(editor)
    client.post(change_url(story), story_form_data(client, story, headline="Second"))
    response = client.post(restore_url(story, 1), follow=True)
    assert any("did not say which version" in m for m in messages_of(response))
    story.refresh_from_db()
    assert story.headline == "Second"


# -- people in snapshots -----------------------------------------------------


def test_migration_names_the_bylines_of_existing_snapshots_by_username(writer, editor):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("stories.migrations.0007_revision_bylines_by_username")
    story = StoryFactory(created_by=writer)
    old_format = [
        {"id": writer.pk, "name": "Wren Writer"},
        {"id": 424242, "name": "Someone since deleted"},
        {"id": editor.pk, "name": "Eddie Editor"},
    ]
    revision = StoryRevision.objects.create(
        story=story, number=1, data={"headline": "Old", "authors": old_format}
    )

    migration.forwards(apps, None)

    revision.refresh_from_db()
    assert revision.data == {
        "headline": "Old",
        "authors": [
            {"name": "Someone since deleted"},
            {"username": "editor", "name": "Eddie Editor"},
            {"username": "writer", "name": "Wren Writer"},
        ],
    }
    migration.backwards(apps, None)
    revision.refresh_from_db()
    assert revision.data["authors"] == sorted(
        [{"id": writer.pk, "name": "Wren Writer"}, {"id": editor.pk, "name": "Eddie Editor"}],
        key=lambda person: person["id"],
    )


def test_a_snapshot_from_before_usernames_still_compares_and_restores(client, writer, editor):
    story = StoryFactory(headline="First", created_by=writer, authors=[writer])
    old = revisions.snapshot(story)
    old["authors"] = [{"id": writer.pk, "name": writer.get_full_name()}]
    StoryRevision.objects.create(story=story, number=1, data=old)
    story.authors.set([editor])
    revisions.record_revision(Story.objects.get(pk=story.pk), editor)
    client.force_login(editor)

    page = client.get(compare_url(story, 1, 2))
    (change,) = page.context["changes"]
    assert (change.label, change.before, change.after) == (
        "Bylines",
        writer.get_full_name(),
        editor.get_full_name(),
    )
    story.refresh_from_db()
    client.post(restore_url(story, 1), seen(story))

    assert list(story.authors.all()) == [writer]


def test_restoring_an_address_another_story_took_since_is_refused_with_a_sentence(client, editor):
    story = StoryFactory(headline="First", slug="first")
    client.force_login(editor)
    client.post(change_url(story), story_form_data(client, story, slug="renamed"))
    StoryFactory(headline="Another story", slug="first")
    story.refresh_from_db()

    response = client.post(restore_url(story, 1), seen(story), follow=True)

    assert messages_of(response)[-1] == (
        "Revision 1 was not restored: its address (first) now belongs to the story "
        "“Another story”. Give one of the two another slug, then restore again."
    )
    story.refresh_from_db()
    assert story.slug == "renamed" and story.revisions.count() == 2
