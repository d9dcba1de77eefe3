"""Feeds: RSS 2.0 and Atom for issues and per topic, JSON Feed 1.1 for issues,
validated structurally; discovery links; only published content, on time."""

import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from tests.factories import (
    CorrectionFactory,
    TopicFactory,
    approved_story,
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
    assert item.findtext("title") == f"#{topic_issue.number}: Week of R1"
    assert item.findtext("link") == f"{SITE}/issues/{topic_issue.number}/"
    guid = item.find("guid")
    assert guid.text == f"{SITE}/issues/{topic_issue.number}/"
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
    assert entry.findtext(f"{ATOM}id") == f"{SITE}/issues/{topic_issue.number}/"
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
    assert isinstance(item["id"], str) and item["id"] == f"{SITE}/issues/{topic_issue.number}/"
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
        CorrectionFactory(story=story)
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
    issue = scheduled_issue(stories=[approved_story(headline="Embargoed")], in_minutes=30)
    issue.stories.get().topics.add(TopicFactory(name="General"))
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
    for url in ["/", f"/issues/{topic_issue.number}/", "/search/", "/issues/"]:
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

    def add_issue(stories: int) -> None:
        issue = published_issue(stories)
        for story in issue.stories.all():
            story.topics.add(topic)

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
