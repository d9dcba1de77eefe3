"""Issue.objects.published() and Story.objects.published(): the one gate."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from stories.editorial import workflow
from stories.models import Issue, IssueItem, Story
from tests.factories import (
    IssueFactory,
    StoryFactory,
    approved_story,
    issue_with_stories,
    published_issue,
    scheduled_issue,
    user_in,
)

pytestmark = pytest.mark.django_db


def visible_issues():
    return set(Issue.objects.published())


def visible_stories(now=None):
    stories = set(Story.objects.published(now))
    # The items' side of the same rule, which story pages read: every test
    # here holds the two to the same stories.
    assert {item.story for item in IssueItem.objects.public(now)} == stories
    return stories


def test_draft_issue_and_its_stories_are_hidden():
    issue = issue_with_stories(2)
    assert issue not in visible_issues()
    assert not visible_stories()


def test_published_issue_and_its_stories_are_visible():
    issue = published_issue(2)
    assert visible_issues() == {issue}
    assert visible_stories() == set(issue.stories.all())


@pytest.mark.parametrize("state", ["draft", "in_review", "changes_requested", "approved"])
def test_stories_outside_any_published_issue_are_hidden(state, editor):
    story = StoryFactory()
    if state != "draft":
        workflow.submit_for_review(story.created_by, story)
    if state == "changes_requested":
        workflow.request_changes(editor, story, "Needs a source.")
    if state == "approved":
        workflow.approve(editor, story)
    story.refresh_from_db()
    assert story.status == state
    published_issue(1)  # another issue being live changes nothing for this story
    assert story not in visible_stories()


def test_scheduled_issue_is_hidden_before_its_minute_and_visible_from_it():
    issue = scheduled_issue(1, in_minutes=30)
    story = issue.stories.get()
    assert issue not in visible_issues() and story not in visible_stories()
    with time_machine.travel(issue.publish_at - timedelta(seconds=1)):
        assert issue not in visible_issues()
    with time_machine.travel(issue.publish_at):
        # No job has run: the gate itself compares with now.
        assert Issue.objects.get(pk=issue.pk).status == Issue.Status.SCHEDULED
        assert issue in visible_issues() and story in visible_stories()


def test_withdrawn_issue_and_its_stories_are_hidden():
    issue = published_issue(2)
    workflow.withdraw_issue(user_in("Publishers", username="p"), issue, "Legal asked us to.")
    assert not visible_issues() and not visible_stories()


def test_withdrawn_story_is_hidden_though_its_issue_is_live(editor):
    issue = published_issue(2)
    pulled, kept = issue.stories.order_by("pk")
    workflow.withdraw_story(editor, pulled, "The claim did not hold up.")
    assert visible_stories() == {kept}
    assert issue in visible_issues()


def test_story_in_two_issues_stays_visible_when_one_is_withdrawn():
    story = approved_story()
    first = published_issue(stories=[story])
    second = published_issue(stories=[story])
    workflow.withdraw_issue(user_in("Publishers", username="p"), first, "Duplicate send.")
    assert visible_issues() == {second}
    assert story in visible_stories()


def test_story_added_to_a_draft_issue_is_not_visible_through_it():
    story = approved_story()
    IssueFactory()  # a draft issue, holding nothing
    published_issue(1)
    draft = issue_with_stories(stories=[story])
    assert draft not in visible_issues()
    assert story not in visible_stories()


def test_gate_accepts_an_explicit_now():
    issue = scheduled_issue(1, in_minutes=5)
    later = timezone.now() + timedelta(minutes=10)
    assert issue in set(Issue.objects.published(now=later))
    assert issue not in visible_issues()
    assert visible_stories(later) == set(issue.stories.all())
    assert not visible_stories()
