"""The issue archive at /issues/: newest first, grouped by month, filtered,
and paged by keyset so a deep page costs what the first one does."""

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from stories.editorial import workflow
from tests.factories import (
    TopicFactory,
    approved_story,
    published_issue,
    scheduled_issue,
    unpublished_stories,
    user_in,
)

pytestmark = pytest.mark.django_db


def day(text: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(text))


def numbers(body: str) -> list[int]:
    return [int(n) for n in re.findall(r'<span class="issue-number">#(\d+)</span>', body)]


def next_link(body: str, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]*)"', body)
    return match.group(1).replace("&amp;", "&") if match else None


def test_archive_lists_published_issues_newest_first_grouped_by_month(client):
    published_issue(number=1, as_of=day("2025-01-05 09:00"))
    published_issue(number=2, as_of=day("2025-01-20 09:00"))
    published_issue(number=3, as_of=day("2025-03-02 09:00"))
    body = client.get("/issues/").content.decode()
    assert numbers(body) == [3, 2, 1]
    assert re.findall(r"<h2>(\w+ \d{4})</h2>", body) == ["March 2025", "January 2025"]


def test_archive_shows_each_issue_with_its_visible_stories(client):
    issue = published_issue(2, number=7, as_of=day("2025-01-05 09:00"))
    body = client.get("/issues/").content.decode()
    for story in issue.stories.all():
        assert story.headline in body


def test_unpublished_issues_and_stories_are_not_in_the_archive(client):
    hidden = unpublished_stories("zeppelin")
    scheduled_issue(number=90, headline="Zeppelin scheduled issue")
    published_issue(number=1, as_of=day("2025-01-05 09:00"))
    body = client.get("/issues/").content.decode()
    # The issue that held the withdrawn story stays listed, without it.
    assert 1 in numbers(body) and 90 not in numbers(body)
    assert "zeppelin" not in body.lower()
    assert all(story.headline not in body for story in hidden.values())


def test_keyset_pages_walk_the_whole_archive_both_ways(client):
    start = day("2024-01-01 09:00")
    for n in range(1, 46):
        published_issue(number=n, as_of=start + timedelta(days=n))
    first = client.get("/issues/").content.decode()
    assert numbers(first) == list(range(45, 25, -1))
    assert next_link(first, "prev") is None
    second = client.get("/issues/" + next_link(first, "next")).content.decode()
    assert numbers(second) == list(range(25, 5, -1))
    third = client.get("/issues/" + next_link(second, "next")).content.decode()
    assert numbers(third) == list(range(5, 0, -1)) and next_link(third, "next") is None
    back = client.get("/issues/" + next_link(third, "prev")).content.decode()
    assert numbers(back) == list(range(25, 5, -1))


def test_oldest_first_pages_forward_in_time(client):
    start = day("2024-01-01 09:00")
    for n in range(1, 26):
        published_issue(number=n, as_of=start + timedelta(days=n))
    first = client.get("/issues/", {"sort": "oldest"}).content.decode()
    assert numbers(first) == list(range(1, 21))
    second = client.get("/issues/" + next_link(first, "next")).content.decode()
    assert numbers(second) == list(range(21, 26))


def test_issues_published_in_the_same_minute_are_neither_lost_nor_repeated(client):
    same = day("2024-05-01 09:00")
    for n in range(1, 26):
        published_issue(number=n, as_of=same)
    first = client.get("/issues/").content.decode()
    second = client.get("/issues/" + next_link(first, "next")).content.decode()
    assert numbers(first) + numbers(second) == list(range(25, 0, -1))


def test_archive_filters_by_topic_and_source_and_date(client):
    topic = TopicFactory(name="Mistral")
    tagged = approved_story()
    tagged.topics.add(topic)
    published_issue(stories=[tagged], number=1, as_of=day("2025-01-05 09:00"))
    published_issue(number=2, as_of=day("2025-02-05 09:00"))
    source = tagged.citations.get().source
    assert numbers(client.get("/issues/", {"topic": "mistral"}).content.decode()) == [1]
    assert numbers(client.get("/issues/", {"source": source.slug}).content.decode()) == [1]
    both = {"topic": "mistral", "source": source.slug, "date_after": "2025-02-01"}
    assert numbers(client.get("/issues/", both).content.decode()) == []
    february = client.get("/issues/", {"date_after": "2025-02-01"}).content.decode()
    assert numbers(february) == [2]
    assert "From 2025-02-01" in february


def test_topic_of_a_withdrawn_story_does_not_match_its_issue(client):
    topic = TopicFactory(name="Mistral")
    issue = published_issue(2, number=1, as_of=day("2025-01-05 09:00"))
    other = published_issue(1, number=2, as_of=day("2025-02-05 09:00"))
    pulled = issue.stories.first()
    pulled.topics.add(topic)
    other.stories.get().topics.add(topic)
    workflow.withdraw_story(user_in("Editors", username="e"), pulled, "Wrong.")
    assert numbers(client.get("/issues/", {"topic": "mistral"}).content.decode()) == [2]


@pytest.mark.parametrize(
    "cursor", ["after=garbage", "before=1.2.3", "after=99999999999999999999.1"]
)
def test_a_broken_page_address_shows_the_first_page_with_a_notice(client, cursor):
    published_issue(number=1, as_of=day("2025-01-05 09:00"))
    response = client.get(f"/issues/?{cursor}")
    assert response.status_code == 200
    assert numbers(response.content.decode()) == [1]
    assert "not valid" in response.content.decode()


def test_archive_query_count_is_the_same_for_any_size_and_any_page(
    client, django_assert_num_queries
):
    def pages_cost_the_same() -> None:
        client.get("/issues/")  # warm the cached filter choices
        # 1 page of issues (a keyset range scan), 1 their visible stories.
        with django_assert_num_queries(2):
            first = client.get("/issues/").content.decode()
        with django_assert_num_queries(2):
            client.get("/issues/" + next_link(first, "next"))

    start = day("2024-01-01 09:00")
    for n in range(1, 23):
        published_issue(number=n, as_of=start + timedelta(days=n))
    pages_cost_the_same()
    for n in range(23, 65):
        published_issue(2, number=n, as_of=start + timedelta(days=n))
    pages_cost_the_same()
