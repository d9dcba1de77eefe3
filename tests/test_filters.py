"""Filters on /search/: topics, source, author, date range and sort, alone,
combined and with a query; chips; invalid values ignored with a notice."""

import re
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from stories.editorial import workflow
from tests.factories import (
    CitationFactory,
    SourceFactory,
    StoryFactory,
    TopicFactory,
    UserFactory,
    approved_story,
    published_issue,
    scheduled_issue,
    unpublished_stories,
    user_in,
)

pytestmark = pytest.mark.django_db


def day(text: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(text))


@pytest.fixture
def newsroom():
    """Three published stories on different topics, sources, authors and days."""
    deepseek, openai = TopicFactory(name="DeepSeek"), TopicFactory(name="OpenAI")
    nyt, radar = SourceFactory(name="The New York Times"), SourceFactory(name="Sequence Radar")
    ana = UserFactory(username="ana", first_name="Ana", last_name="Lee")
    ben = UserFactory(username="ben", first_name="Ben", last_name="Ode")
    editor = user_in("Editors", username="filters-editor")
    stories = {}
    for key, topics, source, author, when in [
        ("sequel", [deepseek], nyt, ana, "2025-01-10 09:00"),
        ("sora", [openai], radar, ben, "2025-02-10 09:00"),
        ("both", [deepseek, openai], radar, ana, "2025-03-10 09:00"),
    ]:
        story = StoryFactory(headline=f"Model story {key}", cited=False, authors=[author])
        story.topics.add(*topics)
        CitationFactory(story=story, source=source)
        workflow.submit_for_review(story.created_by, story)
        workflow.approve(editor, story)
        published_issue(stories=[story], as_of=day(when))
        stories[key] = story
    return stories


def found(client, **params) -> list[str]:
    response = client.get("/search/", params)
    assert response.status_code == 200
    return re.findall(r'<h2><a href="[^"]*">Model story (\w+)</a></h2>', response.content.decode())


def test_each_filter_alone_narrows_the_results(client, newsroom):
    assert sorted(found(client, topic="deepseek")) == ["both", "sequel"]
    assert sorted(found(client, source="sequence-radar")) == ["both", "sora"]
    ana = newsroom["sequel"].authors.get()
    assert sorted(found(client, author=ana.pk)) == ["both", "sequel"]
    assert found(client, date_after="2025-02-01", date_before="2025-02-28") == ["sora"]


def test_several_topics_must_all_match(client, newsroom):
    assert found(client, topic=["deepseek", "openai"]) == ["both"]


def test_filters_combine_with_each_other_and_with_the_query(client, newsroom):
    assert found(client, topic="deepseek", source="sequence-radar") == ["both"]
    assert found(client, q="sequel", topic="deepseek") == ["sequel"]
    assert found(client, q="sequel", topic="openai") == []
    assert found(client, q="model", date_after="2025-03-01") == ["both"]


def test_date_range_includes_both_end_days(client, newsroom):
    assert found(client, date_after="2025-01-10", date_before="2025-01-10") == ["sequel"]


def test_sort_orders_by_publication_date(client, newsroom):
    assert found(client, q="model", sort="newest") == ["both", "sora", "sequel"]
    assert found(client, q="model", sort="oldest") == ["sequel", "sora", "both"]
    assert found(client, topic="deepseek") == ["both", "sequel"]  # no query: newest first


def test_active_filters_show_as_chips_that_remove_themselves(client, newsroom):
    body = client.get(
        "/search/", {"q": "model", "topic": ["deepseek", "openai"], "source": "sequence-radar"}
    ).content.decode()
    chips = dict(
        re.findall(
            r'<li class="chip"><span class="chip-label">([^<]*?)</span> <a href="([^"]*)"', body
        )
    )
    # Links keep the parameters in the one order pages read them (by name).
    assert chips == {
        "Topic: DeepSeek": "?q=model&amp;source=sequence-radar&amp;topic=openai",
        "Topic: OpenAI": "?q=model&amp;source=sequence-radar&amp;topic=deepseek",
        "Source: Sequence Radar": "?q=model&amp;topic=deepseek&amp;topic=openai",
    }


def test_filter_state_is_kept_in_the_form(client, newsroom):
    body = client.get("/search/", {"topic": "openai", "date_after": "2025-02-01"}).content.decode()
    assert '<option value="openai" selected>OpenAI</option>' in body
    assert 'name="date_after" value="2025-02-01"' in body


@pytest.mark.parametrize(
    "params, notice",
    [
        ({"topic": "no-such-topic"}, "topics filter was ignored"),
        ({"source": "'; DROP TABLE stories_story; --"}, "source filter was ignored"),
        ({"author": "not-a-number"}, "author filter was ignored"),
        ({"author": "99999999999999999999999"}, "author filter was ignored"),
        ({"date_after": "2025-13-45"}, "published between filter was ignored"),
        ({"date_before": "yesterday"}, "published between filter was ignored"),
        ({"sort": "price"}, "sort by filter was ignored"),
    ],
)
def test_invalid_filter_values_are_ignored_with_a_notice(client, newsroom, params, notice):
    response = client.get("/search/", {"q": "model", **params})
    assert response.status_code == 200
    assert notice in response.content.decode()
    assert sorted(found(client, q="model", **params)) == ["both", "sequel", "sora"]


def test_valid_filters_still_apply_beside_an_invalid_one(client, newsroom):
    assert found(client, topic="openai", date_after="bad") == ["both", "sora"]


def test_choices_never_name_topics_sources_or_authors_of_unpublished_stories(client, newsroom):
    unpublished_stories("zeppelin")
    body = client.get("/search/").content.decode()
    assert "DeepSeek" in body and "Sequence Radar" in body and "Ana Lee" in body
    assert "zeppelin" not in body.lower()
    response = client.get("/search/", {"topic": "zeppelin-topic"})
    assert "topics filter was ignored" in response.content.decode()


def test_a_story_in_a_due_scheduled_issue_sorts_by_the_issue_minute(client, newsroom):
    # published_at is only stamped by the publishing job; until then the
    # issue's minute is the story's date.
    story = approved_story(headline="Model story fresh")
    issue = scheduled_issue(stories=[story], in_minutes=1)
    with time_machine.travel(issue.publish_at + timedelta(minutes=1)):
        assert found(client, q="model", sort="newest")[0] == "fresh"
        assert found(client, q="model", date_after=f"{issue.publish_at:%Y-%m-%d}")[0] == "fresh"
