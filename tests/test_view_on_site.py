"""The admin offers "View on site" only for what readers can open now; a draft
or an issue whose minute has not come is seen through "Preview" instead."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from tests.factories import (
    IssueFactory,
    StoryFactory,
    approved_story,
    published_issue,
    scheduled_issue,
)

pytestmark = pytest.mark.django_db


def object_tools(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    tools = html[html.index('<ul class="object-tools">') :]
    return tools[: tools.index("</ul>")]


def story_tools(client, story) -> str:
    return object_tools(client, reverse("admin:stories_story_change", args=[story.pk]))


def issue_tools(client, issue) -> str:
    return object_tools(client, reverse("admin:stories_issue_change", args=[issue.pk]))


def test_editor_gets_no_view_on_site_for_a_draft_only_a_preview(client, editor):
    story = StoryFactory()
    client.force_login(editor)
    tools = story_tools(client, story)
    assert "View on site" not in tools
    assert f'href="/preview/story/{story.pk}/"' in tools and "History" in tools


def test_editor_gets_no_view_on_site_for_an_approved_story_in_no_published_issue(client, editor):
    client.force_login(editor)
    assert "View on site" not in story_tools(client, approved_story())
    assert "View on site" not in story_tools(client, scheduled_issue(1).stories.get())


def test_editor_views_a_published_story_on_the_site(client, editor):
    story = published_issue(1).stories.get()
    client.force_login(editor)
    tools = story_tools(client, story)
    assert 'class="viewsitelink"' in tools
    # The link leads to the page readers see.
    href = tools.split('class="viewsitelink"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert client.get(href)["Location"].endswith(story.get_absolute_url())


def test_publisher_gets_view_on_site_for_an_issue_from_its_minute_on(client, publisher):
    issue = scheduled_issue(1, in_minutes=30)
    client.force_login(publisher)
    assert "View on site" not in issue_tools(client, issue)
    assert "Preview" in issue_tools(client, issue)
    with time_machine.travel(issue.publish_at + timedelta(seconds=1)):
        assert 'class="viewsitelink"' in issue_tools(client, issue)


def test_publisher_gets_view_on_site_for_a_published_issue_not_a_draft(client, publisher):
    client.force_login(publisher)
    assert "View on site" not in issue_tools(client, IssueFactory())
    assert 'class="viewsitelink"' in issue_tools(client, published_issue(1))


def test_other_models_keep_djangos_view_on_site(admin_client):
    from tests.factories import SourceFactory

    source = SourceFactory()
    tools = object_tools(admin_client, reverse("admin:stories_source_change", args=[source.pk]))
    assert 'class="viewsitelink"' in tools
