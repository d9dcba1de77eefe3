"""The admin never contradicts the public site: from a scheduled issue's
minute on, the issue and its stories read as live and published in the admin,
even before the scheduler has recorded the publication."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from stories.models import Story
from tests.factories import approved_story, issue_with_stories, scheduled_issue
from tests.story_admin import change_url as story_url

pytestmark = pytest.mark.django_db

NOON = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def london(settings):
    settings.TIME_ZONE = "Europe/London"
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def issue_at_one(london):
    """An issue with one story, scheduled for 13:00 UTC (14:00 in London)."""
    return scheduled_issue(1, in_minutes=60, headline="Out at two")


def issue_url(issue) -> str:
    return reverse("admin:stories_issue_change", args=[issue.pk])


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def changelist_status(client, url: str, headline: str) -> str:
    html = client.get(url).content.decode()
    row = next(row for row in html.split("<tr") if headline in row)
    return text(re.search(r'<td class="field-state">(.*?)</td>', row).group(1))


def test_the_issue_page_says_scheduled_before_the_minute_and_live_from_it(
    client, publisher, london, issue_at_one
):
    client.force_login(publisher)

    before = client.get(issue_url(issue_at_one)).content.decode()
    london.move_to(issue_at_one.publish_at)
    after = client.get(issue_url(issue_at_one)).content.decode()

    assert '<dd class="publication-state">Scheduled</dd>' in before
    assert '<dd class="publication-state">Live</dd>' in after
    assert client.get(issue_at_one.get_absolute_url()).status_code == 200  # as readers see


def test_the_issue_list_says_live_for_an_issue_whose_minute_has_come(
    client, publisher, london, issue_at_one
):
    scheduled_issue(1, in_minutes=180, headline="Out at four")
    client.force_login(publisher)
    url = reverse("admin:stories_issue_changelist")

    london.move_to(issue_at_one.publish_at + timedelta(seconds=1))

    assert changelist_status(client, url, "Out at two") == "Live"
    assert changelist_status(client, url, "Out at four") == "Scheduled"
    call_command("publish_scheduled")  # the scheduler's pass
    assert changelist_status(client, url, "Out at two") == "Published"


def test_a_story_in_a_live_issue_reads_published_with_why_it_is_read_only(
    client, editor, london, issue_at_one
):
    story = issue_at_one.stories.get()
    client.force_login(editor)

    before = text(client.get(story_url(story)).content.decode())
    london.move_to(issue_at_one.publish_at)
    after = text(client.get(story_url(story)).content.decode())

    assert "Status: Approved" in before
    assert f"in issue #{issue_at_one.number}, scheduled for publication" in before
    assert "Status: Published" in after
    assert "scheduled for publication" not in after
    assert (
        f"Read-only: This story went live with issue #{issue_at_one.number} at "
        "Sun 1 Jun 2025, 14:00 BST; it can be edited as a published story once that "
        "publication is recorded, within a minute."
    ) in after
    story.refresh_from_db()
    assert story.status == Story.Status.APPROVED  # the scheduler has not run: the clock says it


def test_the_story_list_says_published_for_stories_readers_can_read(
    client, editor, london, issue_at_one
):
    approved_story(headline="Approved, in no issue")
    issue_with_stories(1, stories=[approved_story(headline="Approved, in a draft issue")])
    live = issue_at_one.stories.get()
    client.force_login(editor)
    url = reverse("admin:stories_story_changelist")

    london.move_to(issue_at_one.publish_at)

    assert changelist_status(client, url, live.headline) == "Published"
    assert changelist_status(client, url, "Approved, in no issue") == "Approved"
    assert changelist_status(client, url, "Approved, in a draft issue") == "Approved"
