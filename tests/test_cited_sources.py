"""Editors can list every story that leans on a source: a "cited source"
filter on the story list, linked from each source's story count."""

import re

import pytest
from django.urls import reverse

from stories.models import Story
from tests.factories import CitationFactory, SourceFactory, StoryFactory

pytestmark = pytest.mark.django_db

STORIES = reverse("admin:stories_story_changelist")
SOURCES = reverse("admin:stories_source_changelist")


def listed(response) -> set[str]:
    return {story.headline for story in response.context["cl"].result_list}


@pytest.fixture
def reuters_stories():
    reuters = SourceFactory(name="Reuters")
    twice = StoryFactory(headline="Cites Reuters twice", cited=False)
    CitationFactory(story=twice, source=reuters)
    CitationFactory(story=twice, source=reuters, url="https://example.com/second")
    once = StoryFactory(headline="Cites Reuters and the FT", cited=False)
    CitationFactory(story=once, source=reuters)
    CitationFactory(story=once, source=SourceFactory(name="Financial Times"))
    StoryFactory(headline="Cites someone else")
    SourceFactory(name="Never cited")
    return reuters


def test_story_list_filters_by_cited_source(client, editor, reuters_stories):
    client.force_login(editor)
    response = client.get(STORIES, {"sources__id__exact": reuters_stories.pk})
    assert listed(response) == {"Cites Reuters twice", "Cites Reuters and the FT"}
    assert response.context["cl"].result_count == 2  # a story citing twice is listed once


def test_cited_source_filter_offers_only_sources_some_story_cites(client, editor, reuters_stories):
    client.force_login(editor)
    html = client.get(STORIES).content.decode()
    filters = html[html.index('id="changelist-filter"') :]
    section = filters[filters.index("By cited source") :]
    section = section[: section.index("</details>")]
    assert "Reuters" in section and "Financial Times" in section
    assert "Never cited" not in section


@pytest.mark.parametrize("role", ["writer", "editor", "publisher"])
def test_source_story_count_links_to_the_stories_that_cite_it(
    client, request, role, reuters_stories
):
    client.force_login(request.getfixturevalue(role))
    html = client.get(SOURCES).content.decode()
    row = html[html.index(">Reuters<") :]
    link = re.search(r'<td class="field-story_count"><a href="([^"]+)">2</a></td>', row)
    assert link, row[:500]
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert listed(response) == {"Cites Reuters twice", "Cites Reuters and the FT"}


def test_the_topic_filter_is_called_topic_as_on_the_site(client, editor, reuters_stories):
    Story.objects.get(headline="Cites someone else").topics.add("DeepSeek")
    client.force_login(editor)
    html = client.get(STORIES).content.decode()
    filters = html[html.index('id="changelist-filter"') :]
    assert "By topic" in filters and "By Tags" not in filters
