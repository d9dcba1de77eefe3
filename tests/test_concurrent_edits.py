"""No lost edits: a save over a change its author did not see is refused,
with who changed what, and the refused input stays in the form."""

import re
import threading
from dataclasses import replace

import pytest
from django.db import connection
from django.test import Client

from stories.editorial import workflow
from stories.models import AuditEntry, Story
from tests.factories import StoryFactory, ensure_editorial_groups, user_in
from tests.story_admin import (
    change_url,
    form_as_shown,
    messages_of,
    story_form_data,
    transition_url,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_editor(db):
    return user_in("Editors", username="second-editor", first_name="Sam", last_name="Second")


@pytest.fixture
def two_tabs(editor, second_editor):
    first, second = Client(), Client()
    first.force_login(editor)
    second.force_login(second_editor)
    return first, second


def test_second_save_from_the_same_version_is_refused_and_names_who_saved(two_tabs, writer, editor):
    story = StoryFactory(created_by=writer, headline="Original headline", body="Original body")
    first, second = two_tabs
    first_data = story_form_data(first, story, headline="Headline from the first tab")
    second_data = story_form_data(second, story, body="Body from the second tab")

    assert first.post(change_url(story), first_data).status_code == 302
    refused = second.post(change_url(story), second_data)

    assert refused.status_code == 200
    page = refused.content.decode()
    who = editor.get_full_name()
    assert f"Your changes were not saved: {who} saved it at" in page
    conflict = refused.context["adminform"].form.conflict
    assert [(c.label, c.before, c.after) for c in conflict.changes] == [
        ("Headline", "Original headline", "Headline from the first tab")
    ]
    assert "Headline from the first tab" in page  # shown in the comparison
    story.refresh_from_db()
    assert story.headline == "Headline from the first tab"
    assert story.body == "Original body"


def test_refused_input_stays_in_the_form(two_tabs, writer):
    story = StoryFactory(created_by=writer, body="Original body")
    first, second = two_tabs
    first_data = story_form_data(first, story, dek="First tab's dek")
    second_data = story_form_data(second, story, body="Second tab's careful rewrite")
    first.post(change_url(story), first_data)

    refused = second.post(change_url(story), second_data)

    form = refused.context["adminform"].form
    assert form["body"].value() == "Second tab's careful rewrite"
    assert "Second tab&#x27;s careful rewrite" in refused.content.decode()


def test_saving_again_after_seeing_the_conflict_is_accepted(two_tabs, writer):
    story = StoryFactory(created_by=writer, body="Original body")
    first, second = two_tabs
    first_data = story_form_data(first, story, dek="First tab's dek")
    second_data = story_form_data(second, story, body="Second tab's body")
    first.post(change_url(story), first_data)
    refused = second.post(change_url(story), second_data)
    # What the browser posts after the refusal: the same input, now based on
    # the version the comparison was made against.
    form = refused.context["adminform"].form
    second_data["based_on_version"] = form["based_on_version"].value()
    second_data["dek"] = "First tab's dek"  # merged by hand after reading the comparison

    assert second.post(change_url(story), second_data).status_code == 302
    story.refresh_from_db()
    assert (story.dek, story.body) == ("First tab's dek", "Second tab's body")


def test_saving_the_refused_form_again_keeps_what_the_other_tab_changed(two_tabs, writer):
    story = StoryFactory(created_by=writer, headline="Original headline", tldr="")
    first, second = two_tabs
    first_data = story_form_data(first, story, tldr="A TL;DR from the first tab")
    second_data = story_form_data(second, story, headline="Headline from the second tab")
    assert first.post(change_url(story), first_data).status_code == 302

    refused = second.post(change_url(story), second_data)
    assert "Their changes to TL;DR are now in the form below" in refused.content.decode()
    # The browser posts the refused form again as it is shown.
    assert second.post(change_url(story), form_as_shown(refused)).status_code == 302

    story.refresh_from_db()
    assert (story.headline, story.tldr) == (
        "Headline from the second tab",
        "A TL;DR from the first tab",
    )


def test_a_field_changed_in_both_tabs_keeps_yours_in_the_form_and_says_so(two_tabs, writer):
    story = StoryFactory(created_by=writer, body="Original body")
    first, second = two_tabs
    first_data = story_form_data(first, story, body="First tab's body")
    second_data = story_form_data(second, story, body="Second tab's body")
    first.post(change_url(story), first_data)

    refused = second.post(change_url(story), second_data)
    assert "You both changed Body: the form keeps yours" in refused.content.decode()
    assert refused.context["adminform"].form["body"].value() == "Second tab's body"
    assert second.post(change_url(story), form_as_shown(refused)).status_code == 302
    story.refresh_from_db()
    assert story.body == "Second tab's body"  # a deliberate choice, made after seeing theirs


def test_bylines_changed_in_between_are_taken_into_the_refused_form(two_tabs, writer, editor):
    story = StoryFactory(created_by=writer, authors=[writer])
    first, second = two_tabs
    first_data = story_form_data(first, story, authors=[writer.pk, editor.pk])
    second_data = story_form_data(second, story, dek="A dek from the second tab")
    first.post(change_url(story), first_data)

    refused = second.post(change_url(story), second_data)
    assert second.post(change_url(story), form_as_shown(refused)).status_code == 302
    story.refresh_from_db()
    assert set(story.authors.all()) == {writer, editor}
    assert story.dek == "A dek from the second tab"


def test_topic_rows_changed_in_between_mean_the_form_must_be_reloaded(two_tabs, writer):
    story = StoryFactory(created_by=writer, headline="Original headline")
    story.topics.add("DeepSeek")
    first, second = two_tabs
    first_data = story_form_data(first, story, **{"topics-0-DELETE": "on"})
    second_data = story_form_data(second, story, headline="Headline from the second tab")
    assert first.post(change_url(story), first_data).status_code == 302
    assert list(story.topics.names()) == []

    refused = second.post(change_url(story), second_data)
    assert "They also changed Topics, which this form cannot take in" in refused.content.decode()
    again = second.post(change_url(story), form_as_shown(refused))
    assert again.status_code == 200  # refused again: it would put the topic back
    story.refresh_from_db()
    assert story.headline == "Original headline" and list(story.topics.names()) == []


def test_a_status_change_since_opening_also_refuses_the_save(two_tabs, writer, second_editor):
    story = StoryFactory(created_by=writer)
    workflow.submit_for_review(writer, story)
    first, _ = two_tabs
    stale = story_form_data(first, story, dek="Edited while someone approved it")
    workflow.approve(second_editor, story)

    refused = first.post(change_url(story), stale)

    assert refused.status_code == 200
    assert "Sam Second approved it at" in refused.content.decode()
    story.refresh_from_db()
    assert story.dek != "Edited while someone approved it"
    assert story.status == Story.Status.APPROVED


def test_a_post_without_the_version_it_started_from_is_refused(client, editor, writer):
    story = StoryFactory(created_by=writer, dek="Kept")
    client.force_login(editor)
    data = story_form_data(client, story, dek="From a form that forgot its version")
    del data["based_on_version"]
    response = client.post(change_url(story), data)
    assert response.status_code == 200
    assert "did not say which version" in response.content.decode()
    story.refresh_from_db()
    assert story.dek == "Kept"


# When a tampered or garbled page says it was opened: well formed but
# impossible (month 13, 30 February, an offset past a day, a time before the
# first year once moved to UTC). The refusal still names who saved, from the
# version alone.
IMPOSSIBLE_OPENING_TIMES = [
    "2025-13-01T00:00",
    "2025-02-30T09:00:00+00:00",
    "2025-06-01T09:00:00+99:00",
    "0001-01-01T00:00:00+01:00",
]


@pytest.mark.parametrize("opened_at", IMPOSSIBLE_OPENING_TIMES)
def test_a_stale_save_from_a_page_with_an_impossible_opening_time_is_refused_not_an_error(
    two_tabs, writer, opened_at
):
    story = StoryFactory(created_by=writer, dek="Original dek")
    first, second = two_tabs
    stale = story_form_data(first, story, dek="From the first tab")
    second.post(change_url(story), story_form_data(second, story, dek="From the second tab"))

    refused = first.post(change_url(story), {**stale, "opened_at": opened_at})

    assert refused.status_code == 200
    assert "Your changes were not saved: Sam Second saved it at" in refused.content.decode()
    story.refresh_from_db()
    assert story.dek == "From the second tab"


def test_conflict_on_a_story_never_saved_in_the_admin_still_shows_what_changed(two_tabs, writer):
    # Demo and imported stories have no revisions until their first admin save.
    story = StoryFactory(created_by=writer, dek="Imported dek")
    assert not story.revisions.exists()
    first, second = two_tabs
    first_data = story_form_data(first, story, dek="Dek from the first tab")
    second_data = story_form_data(second, story, body="Body from the second tab")
    first.post(change_url(story), first_data)

    refused = second.post(change_url(story), second_data)

    changes = refused.context["adminform"].form.conflict.changes
    assert [(c.key, c.before, c.after) for c in changes] == [
        ("dek", "Imported dek", "Dek from the first tab")
    ]


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_saves_from_one_version_let_exactly_one_through(on_postgres):
    ensure_editorial_groups()
    writer = user_in("Writers", username="writer")
    editor = user_in("Editors", username="editor")
    second_editor = user_in("Editors", username="second-editor")
    story = StoryFactory(created_by=writer)
    clients = []
    for user in (editor, second_editor):
        c = Client()
        c.force_login(user)
        clients.append(c)
    forms = [
        story_form_data(clients[0], story, dek="From the first editor"),
        story_form_data(clients[1], story, dek="From the second editor"),
    ]
    start = threading.Barrier(2)
    statuses = [None, None]

    def save(i):
        try:
            start.wait(timeout=10)
            statuses[i] = clients[i].post(change_url(story), forms[i]).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(statuses) == [200, 302]
    story.refresh_from_db()
    winner = statuses.index(302)
    assert story.dek == forms[winner]["dek"]


# -- decisions on an out-of-date page ----------------------------------------


def panel_form(page: str, transition: str) -> dict:
    """The hidden fields of a workflow button's form, as the browser posts them."""
    start = page.index(f"/workflow/{transition}/")
    form = page[start : page.index("</form>", start)]
    return dict(
        re.findall(
            r'<input type="hidden" name="(based_on_version|opened_at)" value="([^"]*)"', form
        )
    )


def in_review(writer):
    return workflow.submit_for_review(writer, StoryFactory(created_by=writer, dek="First dek"))


@pytest.mark.parametrize(
    ("transition", "refused"),
    [("approve", "Not approved"), ("request_changes", "Changes were not requested")],
)
def test_a_review_decision_on_a_page_older_than_the_story_is_refused_naming_who_changed_it(
    two_tabs, writer, transition, refused
):
    story = in_review(writer)
    first, second = two_tabs
    page = first.get(change_url(story)).content.decode()
    seen = panel_form(page, transition)
    assert seen["based_on_version"] == str(story.version)
    second.post(change_url(story), story_form_data(second, story, dek="A claim added late"))

    response = first.post(
        transition_url(story, transition), {**seen, "comment": "Looks right."}, follow=True
    )

    shown = messages_of(response)
    assert shown[0].startswith(f"{refused}: Sam Second saved it at ")
    assert "after you opened this story" in shown[0]
    assert "Your comment was not recorded; here it is to copy: Looks right." in shown
    story.refresh_from_db()
    assert story.status == Story.Status.IN_REVIEW
    assert not AuditEntry.objects.filter(story=story).exclude(action="submitted").exists()


@pytest.mark.parametrize("opened_at", IMPOSSIBLE_OPENING_TIMES)
def test_a_review_decision_from_a_page_with_an_impossible_opening_time_is_answered(
    two_tabs, writer, opened_at
):
    story = in_review(writer)
    first, second = two_tabs
    seen = panel_form(first.get(change_url(story)).content.decode(), "approve")
    second.post(change_url(story), story_form_data(second, story, dek="A claim added late"))

    response = first.post(
        transition_url(story, "approve"), {**seen, "opened_at": opened_at}, follow=True
    )

    assert response.status_code == 200
    assert messages_of(response)[0].startswith("Not approved: Sam Second saved it at ")
    story.refresh_from_db()
    assert story.status == Story.Status.IN_REVIEW


def test_a_review_decision_on_the_current_page_goes_through(client, editor, writer):
    story = in_review(writer)
    client.force_login(editor)
    seen = panel_form(client.get(change_url(story)).content.decode(), "approve")
    client.post(transition_url(story, "approve"), seen)
    story.refresh_from_db()
    assert story.status == Story.Status.APPROVED


def test_a_status_change_since_the_page_was_opened_is_named_too(two_tabs, writer, second_editor):
    story = in_review(writer)
    first, _ = two_tabs
    seen = panel_form(first.get(change_url(story)).content.decode(), "request_changes")
    workflow.approve(second_editor, story)

    response = first.post(
        transition_url(story, "request_changes"), {**seen, "comment": "Cut it."}, follow=True
    )

    assert messages_of(response)[0].startswith(
        "Changes were not requested: Sam Second approved it at "
    )
    story.refresh_from_db()
    assert story.status == Story.Status.APPROVED


def test_a_review_decision_that_does_not_say_what_it_saw_is_refused(client, editor, writer):
    story = in_review(writer)
    client.force_login(editor)
    response = client.post(transition_url(story, "approve"), follow=True)
    assert messages_of(response) == [
        "This page did not say which version of the story it showed, so nothing was done. "
        "Reload the story and try again."
    ]
    story.refresh_from_db()
    assert story.status == Story.Status.IN_REVIEW


def test_the_admin_asks_the_page_for_its_version_for_each_decision_the_workflow_names(
    client, writer, monkeypatch
):
    # The admin takes the decisions from the workflow's table of transitions
    # rather than keeping its own list, so a decision added there is checked
    # here too.
    monkeypatch.setattr(
        workflow,
        "STORY_TRANSITIONS",
        tuple(
            replace(step, not_done="Not submitted") if step.name == "submit" else step
            for step in workflow.STORY_TRANSITIONS
        ),
    )
    story = StoryFactory(created_by=writer)
    client.force_login(writer)

    response = client.post(transition_url(story, "submit"), follow=True)

    assert messages_of(response)[0].startswith("This page did not say which version")
    story.refresh_from_db()
    assert story.status == Story.Status.DRAFT


def test_the_workflow_refuses_a_decision_on_an_older_version_under_the_row_lock(writer, editor):
    story = in_review(writer)
    seen = story.version
    Story.objects.get(pk=story.pk).save()  # someone saved it since
    with pytest.raises(workflow.WorkflowError, match="^Not approved: "):
        workflow.approve(editor, story, based_on_version=seen)
    story.refresh_from_db()
    assert story.status == Story.Status.IN_REVIEW
