"""The table of story transitions (stories/editorial/workflow.py): every status
is covered by it, each step does what its row says, and the admin's buttons
are exactly its rows the user may take from the story's status."""

import re

import pytest

from stories.editorial import workflow
from stories.editorial.workflow import STORY_TRANSITIONS
from stories.models import AuditEntry, Story
from tests.factories import StoryFactory, published_issue, user_in
from tests.story_admin import change_url, transition_url

pytestmark = pytest.mark.django_db

S = Story.Status
ROLES = ("writer", "editor", "publisher")


@pytest.fixture
def second_editor(db):
    return user_in("Editors", username="second-editor")


def story_in(status: str, writer, second_editor) -> Story:
    """A story by writer brought to status through the workflow by an editor
    other than the one whose buttons are looked at. A withdrawn story stays in
    an issue readers see, so that it may be reinstated."""
    story = StoryFactory(created_by=writer)
    if status != S.DRAFT:
        workflow.submit_for_review(writer, story)
    if status == S.CHANGES_REQUESTED:
        workflow.request_changes(second_editor, story, "More detail.")
    if status in (S.APPROVED, S.PUBLISHED, S.WITHDRAWN):
        workflow.approve(second_editor, story)
    if status in (S.PUBLISHED, S.WITHDRAWN):
        published_issue(stories=[Story.objects.get(pk=story.pk)])
    if status == S.WITHDRAWN:
        workflow.withdraw_story(second_editor, story, "Figures in doubt.")
    story.refresh_from_db()
    assert story.status == status
    return story


WORKFLOW_FORM = re.compile(
    r'<form method="post" action="([^"]*/workflow/[^"]*)"[^>]*>(.*?)</form>', re.S
)


def workflow_forms(page: str) -> list[tuple[str, str]]:
    """(action, inner HTML) of each workflow button's form on a story's page."""
    return WORKFLOW_FORM.findall(page)


def test_every_status_a_story_can_have_is_covered_by_the_table():
    sources = {status for step in STORY_TRANSITIONS for status in step.from_statuses}
    targets = {step.to_status for step in STORY_TRANSITIONS}
    # No status is a dead end, and each is reached by a step (a new story
    # starts as a draft).
    assert sources == set(S.values)
    assert targets | {Story._meta.get_field("status").default} == set(S.values)
    assert len({step.name for step in STORY_TRANSITIONS}) == len(STORY_TRANSITIONS)


@pytest.mark.parametrize("status", S.values)
@pytest.mark.parametrize("role", ROLES)
def test_the_admin_shows_exactly_the_buttons_the_table_allows(
    client, writer, editor, publisher, second_editor, role, status
):
    user = {"writer": writer, "editor": editor, "publisher": publisher}[role]
    story = story_in(status, writer, second_editor)
    client.force_login(user)

    forms = workflow_forms(client.get(change_url(story)).content.decode())

    expected = [
        step
        for step in STORY_TRANSITIONS
        if status in step.from_statuses
        and workflow.story_transition_refusal(user, story, step.name) is None
    ]
    assert [action for action, _ in forms] == [transition_url(story, s.name) for s in expected]
    for step, (_, form) in zip(expected, forms, strict=True):
        assert re.search(rf'<button type="submit"[^>]*>{re.escape(step.label)}</button>', form)
        assert ('name="based_on_version"' in form) == bool(step.not_done)
        assert ('name="comment"' in form) == bool(step.comment)
        if step.comment:
            assert f">{step.comment.label}</label>" in form
            assert (" required>" in form) == bool(step.comment.missing)


def test_every_row_of_the_table_is_a_button_for_someone(writer, editor, publisher, second_editor):
    # The matrix above would pass with a table the admin never offers.
    offered = {
        step.name
        for status in S.values
        for story in [story_in(status, writer, second_editor)]
        for user in (writer, editor, publisher)
        for step in workflow.offered_story_transitions(user, story)
    }
    assert offered == {step.name for step in STORY_TRANSITIONS}


@pytest.mark.parametrize("step", STORY_TRANSITIONS, ids=lambda step: step.name)
def test_each_step_leads_where_its_row_says_and_is_audited_as_it_says(
    writer, editor, publisher, second_editor, step
):
    status = step.from_statuses[0]
    story = story_in(status, writer, second_editor)
    user = publisher if step.permission == "stories.publish_issue" else editor

    step.perform(user, story, "Checked twice.")

    story.refresh_from_db()
    assert story.status == step.to_status
    entry = AuditEntry.objects.filter(story=story).latest("pk")
    assert (entry.action, entry.from_status, entry.to_status) == (
        step.audit_action,
        status,
        step.to_status,
    )
