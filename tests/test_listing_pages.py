"""Topic, source and author pages: newest first, paged by keyset (a position
of date and id, stories/reader/listing.py), at a fixed cost whatever the
number of stories behind them."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stories.editorial import workflow
from stories.models import Story
from stories.reader import listing
from stories.reader.listing import decode_cursor, encode_cursor
from tests.factories import (
    SourceFactory,
    TopicFactory,
    approved_story,
    published_issue,
    scheduled_issue,
    user_in,
)

pytestmark = pytest.mark.django_db


def _archive(n: int, topic, source, author) -> list[Story]:
    """n published stories on topic from source by author, one issue a day,
    oldest first; two stories share each issue's moment to test ties."""
    stories = []
    now = timezone.now()
    for day in range(0, n, 2):
        pair = [approved_story(headline=f"Story {day + k}") for k in range(min(2, n - day))]
        for story in pair:
            story.topics.add(topic)
            story.citations.create(source=source, url="https://example.com/")
            story.authors.set([author])
        published_issue(stories=pair, as_of=now - timedelta(days=n - day))
        stories += pair
    return stories


@pytest.fixture
def newsroom(monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 3)
    topic, source = TopicFactory(name="DeepSeek"), SourceFactory(name="The Wire")
    author = user_in("Writers", username="wren")
    stories = _archive(8, topic, source, author)
    newest_first = sorted(stories, key=lambda s: (Story.objects.get(pk=s.pk).listed_at, s.pk))
    return {
        "urls": [topic.get_absolute_url(), source.get_absolute_url(), "/authors/wren/"],
        "newest_first": [s.headline for s in reversed(newest_first)],
    }


def _headlines(response) -> list[str]:
    return [story.headline for story in response.context["page"]]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_older_and_newer_links_walk_the_whole_listing_in_order(client, newsroom, which):
    url = newsroom["urls"][which]
    pages, response = [], client.get(url)
    while True:
        pages.append(_headlines(response))
        older = response.context["page"].older
        if older is None:
            break
        assert f'href="?{older}"' in response.content.decode()
        response = client.get(f"{url}?{older}")
    assert [h for page in pages for h in page] == newsroom["newest_first"]
    assert [len(page) for page in pages] == [3, 3, 2]
    # And back up with the Newer links, page by page.
    back = [_headlines(response)]
    while (newer := response.context["page"].newer) is not None:
        response = client.get(f"{url}?{newer}")
        back.append(_headlines(response))
    assert back == pages[::-1]
    assert response.context["page"].newer is None


def test_a_later_page_has_its_own_title_and_canonical_address(client, newsroom):
    url = newsroom["urls"][0]
    older = client.get(url).context["page"].older
    meta = client.get(f"{url}?{older}").context["meta"]
    assert meta.path == f"{url}?{older}"
    assert meta.title.startswith("DeepSeek, stories before ")


def test_the_first_page_has_no_newer_link_and_shows_no_count(client, newsroom):
    html = client.get(newsroom["urls"][0]).content.decode()
    assert "Newer stories" not in html and "Older stories" in html
    assert "8 stories" not in html


def test_a_cursor_is_written_one_way_and_read_back_exactly():
    story = Story(pk=42, listed_at=timezone.now().replace(microsecond=120))
    raw = encode_cursor(story)
    assert raw.endswith("Z,42")
    assert decode_cursor(raw) == (story.listed_at, 42)
    for spelling in [
        raw.replace("Z,", "+00:00,"),
        raw.replace(",42", ",042"),
        raw + " ",
        "2025-06-01T09:00:00.5Z,1",
        "2025-06-01 09:00:00Z,1",
        "2025-02-30T09:00:00Z,1",
        "0001-01-01T00:00:00Z,1",
        "2025-06-01T09:00:00Z,0",
        "2025-06-01T09:00:00Z,1" + "0" * 30,
    ]:
        assert decode_cursor(spelling) is None, spelling


def test_a_position_past_the_oldest_story_is_not_found(client, newsroom):
    url = newsroom["urls"][0]
    assert client.get(f"{url}?before=1901-01-01T00:00:00Z,1").status_code == 404
    # Newer than the newest: an empty page too.
    assert client.get(f"{url}?after=2999-01-01T00:00:00Z,1").status_code == 404


def test_an_invalid_position_says_so_and_shows_the_newest_stories(client, newsroom):
    url = newsroom["urls"][0]
    response = client.get(f"{url}?before=yesterday")
    assert response.status_code == 200
    assert "That page address is not valid" in response.content.decode()
    assert _headlines(response) == newsroom["newest_first"][:3]
    assert "no-store" in response["Cache-Control"]


def test_old_page_numbers_lead_to_the_newest_stories(client, newsroom):
    for url in newsroom["urls"]:
        response = client.get(f"{url}?page=3")
        assert response.status_code == 301 and response.url == url


@pytest.mark.parametrize("n", [4, 24])
def test_a_listing_page_costs_three_queries_with_no_count_or_offset(
    client, monkeypatch, django_assert_num_queries, n
):
    monkeypatch.setattr(listing, "PAGE_SIZE", 3)
    topic, source = TopicFactory(name="Mistral"), SourceFactory(name="Wire")
    _archive(n, topic, source, user_in("Writers", username="ada"))
    for url in [topic.get_absolute_url(), source.get_absolute_url(), "/authors/ada/"]:
        client.get(url)  # the schedule horizon, read once per server
        older = client.get(url).context["page"].older
        for address in [url, f"{url}?{older}"]:
            # 1 the topic, source or author; 2 the ids of its stories, up to
            # SMALL_LISTING; 3 one page of its stories
            with django_assert_num_queries(3), CaptureQueriesContext(connection) as ctx:
                assert client.get(address).status_code == 200
            sql = " ".join(q["sql"].upper() for q in ctx.captured_queries)
            assert "COUNT(" not in sql and "OFFSET" not in sql
            assert f"LIMIT {listing.SMALL_LISTING + 1}" in ctx.captured_queries[1]["sql"]


def test_listed_at_is_the_first_public_issue_time_and_follows_the_schedule():
    story = approved_story()
    assert Story.objects.get(pk=story.pk).listed_at is None
    issue = scheduled_issue(stories=[story], in_minutes=90)
    assert Story.objects.get(pk=story.pk).listed_at == issue.publish_at
    earlier = published_issue(stories=[story], as_of=timezone.now() - timedelta(days=3))
    assert Story.objects.get(pk=story.pk).listed_at == earlier.publish_at
    workflow.withdraw_issue(user_in("Publishers"), earlier, "Pulled.")
    assert Story.objects.get(pk=story.pk).listed_at == issue.publish_at
    workflow.unschedule_issue(user_in("Publishers"), issue)
    assert Story.objects.get(pk=story.pk).listed_at is None


def test_a_story_not_public_yet_is_not_listed(client):
    topic = TopicFactory(name="Sora")
    story = approved_story(headline="Not yet")
    story.topics.add(topic)
    scheduled_issue(stories=[story], in_minutes=90)
    assert client.get(topic.get_absolute_url()).status_code == 404


# -- the plans: read in order from an index, never a scan ----------------------

SCANNED_TABLES = ("stories_story", "stories_taggedtopic", "stories_issueitem", "stories_issue")


def _plans(client, url: str) -> list[str]:
    """PostgreSQL's plan of every query url runs, with sequential scans and
    sorts made as costly as the planner allows: on a test's few rows it
    would otherwise scan, whatever the indexes. A plan that still scans a
    table or sorts has no index that serves the query."""
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_incremental_sort = off")
        for query in ctx.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def _assert_read_from_indexes(plan: str) -> None:
    for table in SCANNED_TABLES:
        assert f"Seq Scan on {table} " not in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.postgres
def test_listing_pages_read_their_stories_in_order_from_the_listing_index(
    client, on_postgres, newsroom, monkeypatch
):
    # Listings larger than SMALL_LISTING walk the listing index.
    monkeypatch.setattr(listing, "SMALL_LISTING", 0)
    for url in newsroom["urls"]:
        client.get(url)  # the schedule horizon
        older = client.get(url).context["page"].older
        for address in [url, f"{url}?{older}"]:
            *_, stories = _plans(client, address)
            assert "story_listing" in stories, stories
            _assert_read_from_indexes(stories)


@pytest.mark.postgres
def test_the_archive_reads_its_issues_in_order_from_the_archive_index(
    client, on_postgres, newsroom, monkeypatch
):
    from stories.discovery import views as discovery_views

    monkeypatch.setattr(discovery_views, "ISSUES_PER_PAGE", 2)
    client.get("/issues/")
    after = client.get("/issues/").context["next_cursor"]
    for address in ["/issues/", f"/issues/?after={after}"]:
        plans = [plan for plan in _plans(client, address) if "stories_issue " in plan]
        issues = next(plan for plan in plans if "issue_archive" in plan)
        _assert_read_from_indexes(issues)
