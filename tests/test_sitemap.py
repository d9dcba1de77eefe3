"""The sitemap index, its sections with lastmod, and robots.txt."""

import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

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
NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
SECTIONS = ["issues", "stories", "topics", "sources"]


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


def locations(client, section: str) -> dict[str, str]:
    """URL -> lastmod of one sitemap section."""
    response = client.get(f"/sitemap-{section}.xml")
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.tag == f"{NS}urlset"
    return {u.findtext(f"{NS}loc"): u.findtext(f"{NS}lastmod") for u in root.findall(f"{NS}url")}


def everything(client) -> dict[str, str]:
    found = {}
    for section in SECTIONS:
        found.update(locations(client, section))
    return found


@pytest.fixture
def issue():
    story = approved_story(headline="Visible")
    story.topics.add(TopicFactory(name="DeepSeek"))
    return published_issue(stories=[story], number=400)


def test_sitemap_index_lists_every_section_with_lastmod(client, issue):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    root = ET.fromstring(response.content)
    assert root.tag == f"{NS}sitemapindex"
    entries = {s.findtext(f"{NS}loc"): s.findtext(f"{NS}lastmod") for s in root}
    assert set(entries) == {f"{SITE}/sitemap-{section}.xml" for section in SECTIONS}
    assert all(entries.values())


def test_sections_hold_published_issues_stories_topics_and_sources_with_lastmod(client, issue):
    story = issue.stories.get()
    source = story.citations.get().source
    found = everything(client)
    assert set(found) == {
        f"{SITE}{issue.get_absolute_url()}",
        f"{SITE}{story.get_absolute_url()}",
        f"{SITE}/topics/deepseek/",
        f"{SITE}{source.get_absolute_url()}",
    }
    assert all(found.values())


def test_unpublished_content_is_absent_from_the_sitemap(client, issue):
    hidden = unpublished_stories("zeppelin")
    scheduled_issue(number=900)
    found = " ".join(everything(client))
    assert "/issues/900/" not in found and "zeppelin" not in found
    for story in hidden.values():
        assert story.slug not in found


def test_scheduled_issue_enters_the_sitemap_at_its_minute(client):
    issue = scheduled_issue(stories=[approved_story(headline="Embargoed")], in_minutes=30)
    story = issue.stories.get()
    expected = {f"{SITE}{issue.get_absolute_url()}", f"{SITE}{story.get_absolute_url()}"}
    with time_machine.travel(issue.publish_at - timedelta(seconds=1)):
        assert not expected & set(everything(client))
    with time_machine.travel(issue.publish_at):
        assert expected <= set(everything(client))


def test_a_correction_moves_the_lastmod_of_its_story_and_of_the_pages_listing_it(client):
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        story = approved_story(headline="Visible")
        story.topics.add(TopicFactory(name="DeepSeek"))
        published_issue(stories=[story], number=400)
    corrected_at = timezone.now().replace(microsecond=0)
    with time_machine.travel(corrected_at, tick=False):
        correction_added(story)
    source = story.citations.get().source
    found = everything(client)
    for url in (story.get_absolute_url(), "/topics/deepseek/", source.get_absolute_url()):
        assert datetime.fromisoformat(found[SITE + url]) == corrected_at, url
    index = ET.fromstring(client.get("/sitemap.xml").content)
    lastmods = {s.findtext(f"{NS}loc"): s.findtext(f"{NS}lastmod") for s in index}
    for section in ("stories", "topics", "sources"):
        lastmod = lastmods[f"{SITE}/sitemap-{section}.xml"]
        assert datetime.fromisoformat(lastmod) == corrected_at, section


def test_robots_txt_points_to_the_sitemap_and_keeps_previews_and_admin_out(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "Disallow: /p/" in lines and "Disallow: /admin/" in lines
    assert f"Sitemap: {SITE}/sitemap.xml" in lines


def test_robots_txt_disallows_every_preview_address_the_site_actually_serves(client):
    """Share links and staff previews, from the URL patterns themselves: a
    change of prefix there must not leave previews crawlable."""
    disallowed = [
        line.removeprefix("Disallow:").strip()
        for line in client.get("/robots.txt").content.decode().splitlines()
        if line.startswith("Disallow:")
    ]
    previews = [
        reverse("stories:shared_preview", args=[uuid.uuid4()]),
        reverse("stories:preview", args=["story", 1]),
        reverse("stories:preview", args=["issue", 1]),
        reverse("stories:share_preview", args=["story", 1]),
    ]
    for address in previews:
        assert any(rule and address.startswith(rule) for rule in disallowed), address
    public = [
        reverse("stories:story", args=["a-story"]),
        reverse("stories:issue", args=["the-newsroom", 1]),
        reverse("stories:newsletter", args=["the-newsroom"]),
    ]
    for address in public:
        assert not any(rule and address.startswith(rule) for rule in disallowed), address


def test_a_section_past_its_limit_continues_on_a_second_page_in_the_index(client, monkeypatch):
    from stories.discovery import sitemaps

    monkeypatch.setattr(sitemaps.SiteSitemap, "limit", 2)
    for _ in range(3):
        story = approved_story()
        story.topics.add(TopicFactory())
        published_issue(stories=[story])
    index = ET.fromstring(client.get("/sitemap.xml").content)
    listed = [s.findtext(f"{NS}loc") for s in index]
    for section in SECTIONS:
        assert f"{SITE}/sitemap-{section}.xml?p=2" in listed, section
        assert f"{SITE}/sitemap-{section}.xml?p=3" not in listed, section
        assert len(locations(client, f"{section}")) == 2
        page_two = client.get(f"/sitemap-{section}.xml?p=2")
        assert page_two.content.decode().count("<url>") == 1, section
    assert client.get("/sitemap-issues.xml?p=3").status_code == 404


def test_sitemap_query_count_does_not_grow_with_content(client, django_assert_num_queries):
    def fixed() -> None:
        # Index: one aggregate per section for its latest lastmod and its
        # URL count: 1 issues, 2 stories, 3 topic links, 4 source links.
        with django_assert_num_queries(4):
            client.get("/sitemap.xml")
        # A section: 1 count, 1 page of items.
        for section in SECTIONS:
            with django_assert_num_queries(2):
                client.get(f"/sitemap-{section}.xml")

    def add_issue(stories: int) -> None:
        for story in published_issue(stories).stories.all():
            story.topics.add(TopicFactory())

    add_issue(1)
    fixed()
    for _ in range(3):
        add_issue(4)
    fixed()
