"""Topic, source and author pages: newest first, paged by keyset (a position
of date and id, stories/reader/listing.py), at a fixed cost whatever the
number of stories behind them."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stories.editorial import workflow
from stories.models import Contributor, GuestByline, ListingEntry, Story, Topic
from stories.publishing import changes
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
def test_a_listing_page_costs_two_queries_with_no_count_or_offset(
    client, monkeypatch, django_assert_num_queries, n
):
    monkeypatch.setattr(listing, "PAGE_SIZE", 3)
    topic, source = TopicFactory(name="Mistral"), SourceFactory(name="Wire")
    _archive(n, topic, source, user_in("Writers", username="ada"))
    for url in [topic.get_absolute_url(), source.get_absolute_url(), "/authors/ada/"]:
        client.get(url)  # the schedule horizon, read once per server
        older = client.get(url).context["page"].older
        for address in [url, f"{url}?{older}"]:
            # 1 the topic, source or author; 2 one page of its stories, read
            # through their listing entries
            with django_assert_num_queries(2), CaptureQueriesContext(connection) as ctx:
                assert client.get(address).status_code == 200
            sql = " ".join(q["sql"].upper() for q in ctx.captured_queries)
            assert "COUNT(" not in sql and "OFFSET" not in sql
            assert f"LIMIT {listing.PAGE_SIZE + 1}" in ctx.captured_queries[1]["sql"]


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


# -- listing entries: in step with the stories' links and listing dates ---------


def _entries(story) -> set[tuple]:
    return set(
        ListingEntry.objects.filter(story=story).values_list(
            "listed_at", "topic", "source", "author", "contributor"
        )
    )


def test_a_story_is_listed_under_each_topic_source_and_byline_from_its_listing_date():
    topic, source = TopicFactory(name="Chips"), SourceFactory(name="Wire")
    author, casey = user_in("Writers"), Contributor.objects.create(name="Casey")
    story = approved_story()
    story.topics.add(topic)
    story.authors.set([author])
    # The same source cited twice is one entry.
    story.citations.create(source=source, url="https://example.com/1")
    story.citations.create(source=source, url="https://example.com/2")
    GuestByline.objects.create(story=story, contributor=casey)
    assert _entries(story) == set()  # not listed: no entries
    issue = scheduled_issue(stories=[story], in_minutes=90)
    at = issue.publish_at
    sources = set(story.citations.values_list("source", flat=True))
    assert source.pk in sources
    assert _entries(story) == {
        (at, topic.pk, None, None, None),
        *((at, None, pk, None, None) for pk in sources),
        (at, None, None, author.pk, None),
        (at, None, None, None, casey.pk),
    }
    earlier = published_issue(stories=[story], as_of=timezone.now() - timedelta(days=3))
    assert {entry[0] for entry in _entries(story)} == {earlier.publish_at}
    workflow.withdraw_issue(user_in("Publishers"), earlier, "Pulled.")
    workflow.unschedule_issue(user_in("Publishers"), issue)
    assert _entries(story) == set()


def test_topics_proposed_or_removed_in_the_admin_move_a_listed_story_between_listings(client):
    from tests.story_admin import change_url, form_as_shown

    story = published_issue(1).stories.get()
    old_topic = TopicFactory(name="Old news")
    story.topics.add(old_topic)
    changes.story_changed(story)  # as the admin's save of the topic would
    assert _headlines(client.get(old_topic.get_absolute_url())) == [story.headline]
    client.force_login(user_in("Editors"))
    data = form_as_shown(client.get(change_url(story)), new_topics="Fresh topic")
    data["topics-0-DELETE"] = "on"
    assert client.post(change_url(story), data).status_code == 302
    client.logout()
    fresh = Topic.objects.get(name="Fresh topic")
    assert _headlines(client.get(fresh.get_absolute_url())) == [story.headline]
    assert client.get(old_topic.get_absolute_url()).status_code == 404


def test_a_restored_revision_takes_the_story_off_a_topic_it_no_longer_carries(client):
    from stories.editorial import revisions

    story = published_issue(1).stories.get()
    editor = user_in("Editors")
    revision = revisions.record_revision(story, editor)
    topic = TopicFactory(name="Later")
    story.topics.add(topic)
    changes.story_changed(story)
    assert client.get(topic.get_absolute_url()).status_code == 200
    story.refresh_from_db()
    workflow.restore_revision(editor, story, revision, based_on_version=story.version)
    assert client.get(topic.get_absolute_url()).status_code == 404


def test_entries_never_list_a_story_readers_may_not_see(client):
    """The entries order and bound a listing; the published gate still
    decides: a withdrawn story keeps its listing date and its entries."""
    topic = TopicFactory(name="Gated")
    kept, pulled = approved_story(headline="Kept"), approved_story(headline="Pulled")
    for story in (kept, pulled):
        story.topics.add(topic)
    published_issue(stories=[kept, pulled])
    workflow.withdraw_story(user_in("Editors"), Story.objects.get(pk=pulled.pk), "Wrong.")
    assert ListingEntry.objects.filter(story=pulled, topic=topic).exists()
    assert _headlines(client.get(topic.get_absolute_url())) == ["Kept"]


def test_a_story_not_public_yet_is_not_listed(client):
    topic = TopicFactory(name="Sora")
    story = approved_story(headline="Not yet")
    story.topics.add(topic)
    scheduled_issue(stories=[story], in_minutes=90)
    assert client.get(topic.get_absolute_url()).status_code == 404


# -- the plans: read in order from an index, never a scan ----------------------

SCANNED_TABLES = (
    "stories_story",
    "stories_listingentry",
    "stories_taggedtopic",
    "stories_issueitem",
    "stories_issue",
)


def _plans(client, url: str, *, as_planned: bool = False) -> list[str]:
    """PostgreSQL's plan of every query url runs, with sequential scans and
    sorts made as costly as the planner allows: on a test's few rows it
    would otherwise scan, whatever the indexes. A plan that still scans a
    table or sorts has no index that serves the query. as_planned: the
    plans the planner picks by itself, for an archive large enough and
    analysed."""
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    plans = []
    with connection.cursor() as cursor:
        if not as_planned:
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
def test_listing_pages_read_their_stories_in_order_from_their_kinds_listing_index(
    client, on_postgres, newsroom
):
    for url, kind in zip(newsroom["urls"], ["topic", "source", "author"], strict=True):
        client.get(url)  # the schedule horizon
        older = client.get(url).context["page"].older
        newer = client.get(f"{url}?{older}").context["page"].newer
        for address in [url, f"{url}?{older}", f"{url}?{newer}"]:
            *_, stories = _plans(client, address)
            # Index Scan or Index Scan Backward: read in the listing's order.
            assert f"using listing_{kind} on stories_listingentry" in stories, stories
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


@pytest.mark.postgres
def test_on_an_analysed_archive_every_listing_is_planned_as_one_range_of_its_index(
    client, on_postgres
):
    """Plans as the planner makes them from real statistics: 3,000 stories;
    topics, sources and authors of a few percent of them each, and one topic
    most stories carry. The first page and pages deep in each listing, both
    ways, read its entries in order from its kind's index and stop after a
    page: no sort of the listing, no scan of a table."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from stories.discovery.views import _encode_cursor as _encode_archive_cursor
    from stories.models import Issue, Source

    call_command(
        "generate_bench_data",
        stories=3000,
        topics=40,
        sources=40,
        authors=20,
        hot_topic="Everywhere",
        hot_share=0.9,
        subscribers=0,
        quiet=True,
    )
    hot = Topic.objects.get(name="Everywhere")
    topic = Topic.objects.exclude(pk=hot.pk).first()
    source = Source.objects.first()
    author = get_user_model().objects.get(username="bench-author-1")
    listings = [
        ("topic", hot, hot.get_absolute_url()),
        ("topic", topic, topic.get_absolute_url()),
        ("source", source, source.get_absolute_url()),
        ("author", author, f"/authors/{author.username}/"),
    ]
    for kind, listed_under, url in listings:
        # Positions with four fifths of the listing ahead in the page's
        # direction, where a sort would cost most. (Near an end the planner
        # rightly sorts the few rows left in the range.)
        stories = (
            Story.objects.published()
            .filter(**{f"listing_entries__{kind}": listed_under})
            .order_by("-listed_at", "-pk")
        )
        count = stories.count()
        before, after = (encode_cursor(stories[count * k // 5]) for k in (1, 4))
        client.get(url)  # the schedule horizon
        for address in [url, f"{url}?before={before}", f"{url}?after={after}"]:
            *_, page = _plans(client, address, as_planned=True)
            assert f"using listing_{kind} on stories_listingentry" in page, (address, page)
            _assert_read_from_indexes(page)
    # The archive, first page and a page with four fifths of it ahead (the
    # next page goes to older issues): its issues read in order
    # of publication from an index on it (ties of a minute, if any, put in
    # order of number as they come: an incremental sort, never a full one).
    issues = list(Issue.objects.published().order_by("publish_at", "number"))
    deep = _encode_archive_cursor(issues[len(issues) * 4 // 5])
    client.get("/issues/")
    for address in ["/issues/", f"/issues/?after={deep}"]:
        page = next(
            plan
            for plan in _plans(client, address, as_planned=True)
            if plan.startswith("Limit") and "on stories_issue " in plan
        )
        assert re.search(r"Index Scan (Backward )?using \w+ on stories_issue ", page), page
        assert not re.search(r"(?<!Incremental )Sort  ", page), page
        assert "Seq Scan on stories_issue " not in page, page


@pytest.mark.django_db
def test_a_listing_entry_lists_its_story_under_exactly_one_thing():
    from django.db import IntegrityError, transaction

    story = published_issue(1).stories.get()
    topic, contributor = Topic.objects.create(name="Chips"), Contributor.objects.create(name="Ann")
    for under in ({}, {"topic": topic, "contributor": contributor}):
        with pytest.raises(IntegrityError), transaction.atomic():
            ListingEntry.objects.create(story=story, listed_at=story.listed_at, **under)
    ListingEntry.objects.create(story=story, listed_at=story.listed_at, topic=topic)
