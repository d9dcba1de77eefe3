"""Feeds: RSS 2.0 and Atom for issues and per topic, JSON Feed 1.1 for issues,
validated structurally; discovery links; only published content, on time."""

import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import feedparser
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from tests.factories import (
    TopicFactory,
    approved_story,
    correction_added,
    published_issue,
    scheduled_issue,
    unpublished_stories,
)

pytestmark = pytest.mark.django_db

SITE = "https://news.example"
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
ISSUE_FEEDS = ["/feeds/issues.rss", "/feeds/issues.atom", "/feeds/issues.json"]


@pytest.fixture(autouse=True)
def _site(settings, tmp_path):
    settings.SITE_URL = SITE
    settings.MEDIA_ROOT = tmp_path


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "navy").save(buffer, "PNG")
    return SimpleUploadedFile("satellite.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def topic_issue():
    """A published issue of two stories on one topic, the first with a lead image."""
    topic = TopicFactory(name="DeepSeek")
    pictured = approved_story(
        headline="AI's Sputnik Moment",
        dek="DeepSeek shakes the industry",
        body="Read [the analysis](/stories/other/) first.",
    )
    pictured.lead_image = png()
    pictured.lead_image_alt = "A satellite"
    pictured.lead_image_credit = "Grok | DeepSeek Satellite"
    pictured.save()
    plain = approved_story(headline="The sequel")
    for story in (pictured, plain):
        story.topics.add(topic)
    return published_issue(stories=[pictured, plain], headline="Week of R1")


def get(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, url
    return response


def parse_xml(client, url: str) -> ET.Element:
    return ET.fromstring(get(client, url).content)


def test_issues_rss_is_valid_rss_2_with_full_content(client, topic_issue):
    root = parse_xml(client, "/feeds/issues.rss")
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    for required in ("title", "link", "description"):
        assert channel.findtext(required)
    assert channel.findtext("link") == f"{SITE}/issues/"
    (item,) = channel.findall("item")
    # Issues of several newsletters share the feed: each title names its own.
    newsletter = topic_issue.newsletter.name
    assert item.findtext("title") == f"{newsletter} #{topic_issue.number}: Week of R1"
    assert item.findtext("link") == f"{SITE}{topic_issue.get_absolute_url()}"
    guid = item.find("guid")
    assert guid.text == f"{SITE}{topic_issue.get_absolute_url()}"
    assert guid.get("isPermaLink", "true") == "true"
    assert item.findtext("pubDate")
    content = item.findtext(CONTENT)
    assert "AI&#x27;s Sputnik Moment" in content and "The sequel" in content
    assert f'href="{SITE}/stories/other/"' in content  # site links made absolute
    enclosure = item.find("enclosure")
    assert enclosure.get("url").startswith(f"{SITE}/") and enclosure.get("type") == "image/png"
    assert int(enclosure.get("length")) > 0


def test_issues_atom_is_valid_atom_with_full_content(client, topic_issue):
    feed = parse_xml(client, "/feeds/issues.atom")
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert feed.findtext(f"{ATOM}{required}")
    assert feed.find(f"{ATOM}author/{ATOM}name").text
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link.get("href") == f"{SITE}/feeds/issues.atom"
    (entry,) = feed.findall(f"{ATOM}entry")
    for required in ("id", "title", "updated"):
        assert entry.findtext(f"{ATOM}{required}")
    assert entry.findtext(f"{ATOM}id") == f"{SITE}{topic_issue.get_absolute_url()}"
    assert entry.find(f"{ATOM}link[@rel='alternate']").get("href").startswith(SITE)
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "html" and "The sequel" in content.text
    assert entry.find(f"{ATOM}link[@rel='enclosure']").get("type") == "image/png"


def test_issues_json_feed_follows_json_feed_1_1(client, topic_issue):
    response = get(client, "/feeds/issues.json")
    assert response["Content-Type"].startswith("application/feed+json")
    feed = json.loads(response.content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] and feed["home_page_url"] == f"{SITE}/issues/"
    assert feed["feed_url"] == f"{SITE}/feeds/issues.json"
    assert isinstance(feed["items"], list)
    (item,) = feed["items"]
    assert isinstance(item["id"], str) and item["id"] == f"{SITE}{topic_issue.get_absolute_url()}"
    assert item["url"].startswith(SITE) and "The sequel" in item["content_html"]
    datetime.fromisoformat(item["date_published"])  # RFC 3339
    datetime.fromisoformat(item["date_modified"])
    assert item["tags"] == ["DeepSeek"]
    (attachment,) = item["attachments"]
    assert attachment["url"].startswith(f"{SITE}/") and attachment["mime_type"] == "image/png"
    assert attachment["size_in_bytes"] > 0 and item["image"] == attachment["url"]
    assert all(author["name"] for author in feed["authors"])


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_topic_feeds_hold_the_topics_stories_with_stable_ids(client, topic_issue, kind):
    url = f"/feeds/topics/deepseek.{kind}"
    body = get(client, url).content.decode()
    root = ET.fromstring(body)
    stories = {s.headline: s for s in topic_issue.stories.all()}
    if kind == "rss":
        items = root.find("channel").findall("item")
        ids = [i.findtext("guid") for i in items]
        titles = [i.findtext("title") for i in items]
    else:
        items = root.findall(f"{ATOM}entry")
        ids = [i.findtext(f"{ATOM}id") for i in items]
        titles = [i.findtext(f"{ATOM}title") for i in items]
    assert sorted(titles) == sorted(stories)
    assert sorted(ids) == sorted(f"tag:news.example,2025:story:{s.pk}" for s in stories.values())
    assert "DeepSeek shakes the industry" in body


def test_a_correction_updates_the_story_in_topic_feeds(client):
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        story = approved_story(headline="Corrected later")
        story.topics.add(TopicFactory(name="DeepSeek"))
        published_issue(stories=[story])
    corrected_at = timezone.now().replace(microsecond=0)
    with time_machine.travel(corrected_at, tick=False):
        correction_added(story)
    feed = parse_xml(client, "/feeds/topics/deepseek.atom")
    (entry,) = feed.findall(f"{ATOM}entry")
    assert datetime.fromisoformat(entry.findtext(f"{ATOM}updated")) == corrected_at
    assert datetime.fromisoformat(entry.findtext(f"{ATOM}published")) < corrected_at
    assert datetime.fromisoformat(feed.findtext(f"{ATOM}updated")) == corrected_at


def test_topic_feed_of_an_unknown_or_unpublished_topic_is_a_404(client):
    unpublished_stories("zeppelin")
    for kind in ("rss", "atom"):
        assert client.get(f"/feeds/topics/zeppelin-topic.{kind}").status_code == 404
        assert client.get(f"/feeds/topics/no-such-topic.{kind}").status_code == 404


@pytest.mark.parametrize(
    "url", [*ISSUE_FEEDS, "/feeds/topics/zeppelin-topic.rss", "/feeds/topics/general.atom"]
)
def test_unpublished_content_is_absent_from_every_feed(client, url):
    hidden = unpublished_stories("zeppelin")
    visible = approved_story(headline="Visible story")
    visible.topics.add(TopicFactory(name="General"))
    published_issue(stories=[visible])
    response = client.get(url)
    body = response.content.decode()
    assert response.status_code == (404 if "zeppelin" in url else 200)
    for story in hidden.values():
        assert story.headline not in body
    assert "zeppelin" not in body.lower()


def test_scheduled_issue_enters_the_feeds_at_its_minute(client):
    story = approved_story(headline="Embargoed")
    story.topics.add(TopicFactory(name="General"))
    issue = scheduled_issue(stories=[story], in_minutes=30)
    urls = [*ISSUE_FEEDS, "/feeds/topics/general.rss"]
    for url in urls:
        assert "Embargoed" not in client.get(url).content.decode()
    with time_machine.travel(issue.publish_at - timedelta(seconds=1)):
        for url in ISSUE_FEEDS:
            assert "Embargoed" not in get(client, url).content.decode()
    with time_machine.travel(issue.publish_at):
        for url in urls:
            assert "Embargoed" in get(client, url).content.decode()


def test_feed_discovery_links_are_on_every_public_page(client, topic_issue):
    for url in ["/", topic_issue.get_absolute_url(), "/search/", "/issues/"]:
        body = get(client, url).content.decode()
        assert 'type="application/rss+xml" title="The Newsroom: issues (RSS)"' in body
        assert f'href="{SITE}/feeds/issues.atom"' in body
        assert 'type="application/feed+json" title="The Newsroom: issues (JSON Feed)"' in body
    topic_page = get(client, "/topics/deepseek/").content.decode()
    assert f'href="{SITE}/feeds/topics/deepseek.rss"' in topic_page
    assert f'href="{SITE}/feeds/topics/deepseek.atom"' in topic_page


@pytest.mark.parametrize("url", [*ISSUE_FEEDS, "/feeds/topics/general.rss"])
def test_feed_query_count_does_not_grow_with_content(client, django_assert_num_queries, url):
    topic = TopicFactory(name="General")

    def add_issue(n: int) -> None:
        stories = [approved_story() for _ in range(n)]
        for story in stories:
            story.topics.add(topic)
        published_issue(stories=stories)

    # Issue feeds: 1 issues, 1 their visible items with stories, then authors,
    # topics and citations with sources. Topic feeds: 1 topic, 1 stories, the
    # same three prefetches.
    add_issue(1)
    with django_assert_num_queries(5):
        get(client, url)
    for _ in range(4):
        add_issue(5)
    with django_assert_num_queries(5):
        get(client, url)


# -- what a feed reader makes of them ------------------------------------------


@pytest.fixture
def newsroom(topic_issue):
    """Two published issues, three topics, and text that needs escaping."""
    awkward = approved_story(
        headline='Q&A: <R1> vs "V3" & what\'s next',
        dek="Less-than < and ampersand & in a dek",
        body="A body with **bold**, a [link](/topics/deepseek/) and an & sign.",
    )
    awkward.topics.add(TopicFactory(name="Training efficiency"), TopicFactory(name="Q&A"))
    published_issue(stories=[awkward], headline="Efficiency & its discontents")
    return topic_issue


def every_xml_feed() -> list[str]:
    from stories.models import Story, Topic

    topics = Topic.objects.filter(tagged_stories__content_object__in=Story.objects.published())
    urls = ["/feeds/issues.rss", "/feeds/issues.atom"]
    for slug in sorted(set(topics.values_list("slug", flat=True))):
        urls += [f"/feeds/topics/{slug}.rss", f"/feeds/topics/{slug}.atom"]
    return urls


def test_a_feed_reader_parses_every_rss_and_atom_feed_cleanly(client, newsroom):
    urls = every_xml_feed()
    assert len(urls) == 2 + 2 * 3  # issues, and the three topics of published stories
    for url in urls:
        response = get(client, url)
        parsed = feedparser.parse(
            response.content, response_headers={"content-type": response["Content-Type"]}
        )
        assert not parsed.bozo, (url, parsed.get("bozo_exception"))
        assert parsed.version == ("rss20" if url.endswith(".rss") else "atom10"), url
        assert parsed.feed.title and parsed.feed.link.startswith(SITE), url
        assert parsed.entries, url
        ids = [entry.id for entry in parsed.entries]
        assert len(set(ids)) == len(ids), url
        for entry in parsed.entries:
            assert entry.title, url
            assert entry.link.startswith(f"{SITE}/") and urlsplit(entry.link).path, url
            assert entry.id, url
            assert entry.get("published_parsed"), url
            assert any(c.value for c in entry.get("content", [])), url
    issues = feedparser.parse(get(client, "/feeds/issues.atom").content)
    titles = [entry.title for entry in issues.entries]
    assert any(title.endswith("Efficiency & its discontents") for title in titles)
    qa = feedparser.parse(get(client, "/feeds/topics/training-efficiency.rss").content)
    assert qa.entries[0].title == 'Q&A: <R1> vs "V3" & what\'s next'


def _is_rfc3339(value) -> bool:
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except (TypeError, ValueError):
        return False


def json_feed_problems(feed: dict) -> list[str]:
    """What in feed breaks JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""
    problems = []
    if feed.get("version") != "https://jsonfeed.org/version/1.1":
        problems.append("version is not the 1.1 URL")
    if not isinstance(feed.get("title"), str) or not feed["title"]:
        problems.append("no title")
    for key in ("home_page_url", "feed_url", "description", "language"):
        if key in feed and not isinstance(feed[key], str):
            problems.append(f"{key} is not a string")
    for author in feed.get("authors", []):
        if not {"name", "url", "avatar"} & set(author):
            problems.append("an author has no name, url or avatar")
    if not isinstance(feed.get("items"), list):
        return [*problems, "items is not an array"]
    for n, item in enumerate(feed["items"]):
        if not isinstance(item.get("id"), str) or not item["id"]:
            problems.append(f"item {n} has no string id")
        if not any(isinstance(item.get(k), str) for k in ("content_html", "content_text")):
            problems.append(f"item {n} has neither content_html nor content_text")
        for key in ("url", "title", "summary", "image"):
            if key in item and not isinstance(item[key], str):
                problems.append(f"item {n}: {key} is not a string")
        for key in ("date_published", "date_modified"):
            if key in item and not _is_rfc3339(item[key]):
                problems.append(f"item {n}: {key} is not an RFC 3339 date")
        if "tags" in item and not all(isinstance(t, str) for t in item["tags"]):
            problems.append(f"item {n}: tags are not strings")
        for attachment in item.get("attachments", []):
            if not (isinstance(attachment.get("url"), str) and attachment.get("mime_type")):
                problems.append(f"item {n}: an attachment lacks url or mime_type")
    return problems


def test_the_json_feed_meets_every_requirement_of_json_feed_1_1(client, newsroom):
    response = get(client, "/feeds/issues.json")
    feed = json.loads(response.content)
    assert json_feed_problems(feed) == []
    assert len(feed["items"]) == 2
    assert len({item["id"] for item in feed["items"]}) == 2
    assert all(item["url"].startswith(f"{SITE}/") for item in feed["items"])


def test_the_json_feed_check_does_catch_a_broken_feed():
    broken = {
        "version": "https://jsonfeed.org/version/1",
        "items": [{"id": 7, "url": "/x", "date_published": "yesterday"}],
    }
    assert json_feed_problems(broken) == [
        "version is not the 1.1 URL",
        "no title",
        "item 0 has no string id",
        "item 0 has neither content_html nor content_text",
        "item 0: date_published is not an RFC 3339 date",
    ]


def test_the_json_feed_names_its_icon_and_favicon(client, topic_issue):
    feed = json.loads(get(client, "/feeds/issues.json").content)
    for key in ("icon", "favicon"):
        assert feed[key].startswith(f"{SITE}/static/img/") and feed[key].endswith(".png")
        assert client.get(feed[key].removeprefix(SITE)).status_code == 200


@pytest.mark.parametrize("url", ["/feeds/issues.rss", "/feeds/issues.json"])
def test_feeds_write_the_image_credit_as_a_credit_line(client, topic_issue, url):
    body = get(client, url).content.decode()
    assert "Credit: Grok | DeepSeek Satellite" in body
    assert "(Grok | DeepSeek Satellite)" not in body


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_a_topic_feed_reads_its_newest_stories_in_listing_order_without_sorting_them_all(
    client, topic_issue, kind
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    topic = topic_issue.stories.first().topics.first()
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/feeds/topics/{topic.slug}.{kind}").status_code == 200
    items = next(q["sql"] for q in ctx.captured_queries if "LIMIT 20" in q["sql"])
    order = items.rsplit("ORDER BY", 1)[1]
    assert '"listed_at" DESC' in order and "COALESCE" not in order.upper()
