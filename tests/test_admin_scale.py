"""The story changelist at archive scale: no count of every story on each
load, a capped count of the filtered ones, filters and a date hierarchy that
do not read every row, and (on PostgreSQL) an indexed search."""

import re
from datetime import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stories.admin.stories import CappedCountPaginator
from stories.models import Topic
from tests.factories import StoryFactory, TopicFactory, published_issue

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/stories/story/"


def _queries(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


def test_the_changelist_costs_the_same_with_more_stories(admin_client):
    published_issue(2)
    admin_client.get(CHANGELIST)
    few = _queries(admin_client, CHANGELIST)
    published_issue(12)
    StoryFactory.create_batch(5)
    assert len(_queries(admin_client, CHANGELIST)) == len(few)


def test_the_changelist_never_counts_every_story_beside_the_page(admin_client):
    published_issue(3)
    sql = _queries(admin_client, CHANGELIST + "?status__exact=published")
    counts = [q for q in sql if "COUNT(" in q.upper()]
    # One count, of the filtered stories, bounded by the cap.
    assert len(counts) == 1 and "LIMIT" in counts[0].upper(), counts


def test_past_the_cap_the_list_says_there_are_more_rather_than_a_count(admin_client, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "CAP", 2)
    published_issue(4)
    html = admin_client.get(CHANGELIST).content.decode()
    assert "More than 2 stories" in html
    monkeypatch.setattr(CappedCountPaginator, "CAP", 50)
    assert "4 stories" in admin_client.get(CHANGELIST).content.decode()


def test_the_date_hierarchy_offers_the_years_from_the_first_story_to_the_last(admin_client):
    zone = timezone.get_current_timezone()
    for year in (2021, 2024):
        with time_machine.travel(datetime(year, 6, 1, 12, tzinfo=zone), tick=False):
            StoryFactory()
    html = admin_client.get(CHANGELIST).content.decode()
    for year in (2021, 2022, 2023, 2024):
        assert f"created_at__year={year}" in html, year
    # A year's months are still the months that hold stories.
    html = admin_client.get(CHANGELIST + "?created_at__year=2021").content.decode()
    assert "created_at__month=6" in html and "created_at__month=7" not in html


def test_filtering_by_a_topic_lists_each_story_once_without_distinct(admin_client):
    topic, other = TopicFactory(name="Carried"), TopicFactory(name="Other")
    story = StoryFactory(headline="Twice tagged")
    story.topics.add(topic, other)
    StoryFactory(headline="Untagged")
    sql = _queries(admin_client, f"{CHANGELIST}?topics__id__exact={topic.pk}")
    assert not [q for q in sql if 'SELECT DISTINCT "stories_story"."id"' in q]
    response = admin_client.get(f"{CHANGELIST}?topics__id__exact={topic.pk}")
    assert response.context["cl"].result_count == 1
    assert admin_client.get(f"{CHANGELIST}?topics__id__exact=abc").status_code in (200, 302)


def test_the_topic_filter_offers_only_topics_some_story_carries(admin_client):
    story = StoryFactory()
    story.topics.add(TopicFactory(name="Carried"))
    TopicFactory(name="Nobody's")
    html = admin_client.get(CHANGELIST).content.decode()
    carried = Topic.objects.get(name="Carried")
    assert f"topics__id__exact={carried.pk}" in html
    assert "Nobody&#x27;s" not in html


@pytest.mark.postgres
def test_admin_search_is_served_by_trigram_indexes(admin_client, on_postgres):
    StoryFactory(headline="DeepSeek ships a model")
    # The count and the page (the date hierarchy's walks stop at a match).
    sql = [
        q
        for q in _queries(admin_client, CHANGELIST + "?q=deepseek")
        if "LIKE" in q.upper() and re.search(r"LIMIT (100|10001)\b", q)
    ]
    assert sql, "the search ran no count or page query"
    with connection.cursor() as cursor:
        # On a test's few rows any plan is cheap: leave the planner only
        # bitmap scans, which the trigram indexes are if they serve the search.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        for query in sql:
            cursor.execute("EXPLAIN " + query)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan on stories_story " not in plan, plan
            assert "stories_story_headline_trgm" in plan, plan
