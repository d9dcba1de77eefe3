"""Titles, descriptions, canonical addresses, link previews and JSON-LD."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from stories.models import Correction, Story
from stories.reader.seo import json_ld
from tests.factories import (
    CorrectionFactory,
    approved_story,
    correction_added,
    published_issue,
    user_in,
)
from tests.reader_helpers import head_of, load_demo_newsroom
from tests.story_admin import admin_form_data

pytestmark = pytest.mark.django_db

SITE = "https://news.example"


@pytest.fixture
def demo(settings, tmp_path):
    settings.SITE_URL = SITE
    load_demo_newsroom(settings, tmp_path)


def test_story_page_metadata_uses_dek_canonical_and_lead_image(client, demo):
    response = client.get("/stories/ais-sputnik-moment/")
    head = head_of(response)
    html = response.content.decode()
    assert "<title>AI&#x27;s Sputnik Moment · The Newsroom</title>" in html
    assert head.meta["description"] == "DeepSeek shakes the US AI industry to its core"
    assert head.links["canonical"] == f"{SITE}/stories/ais-sputnik-moment/"
    assert head.meta["og:type"] == "article"
    assert head.meta["og:title"] == "AI's Sputnik Moment"
    assert head.meta["og:url"] == head.links["canonical"]
    assert head.meta["og:image"].startswith(f"{SITE}/media/lead-images/")
    assert head.meta["og:image:alt"].startswith("An illustrated satellite")
    assert head.meta["twitter:card"] == "summary_large_image"
    assert head.meta["twitter:image"] == head.meta["og:image"]
    assert head.meta["article:published_time"]


def test_story_json_ld_is_a_news_article_that_parses(client, demo):
    (data,) = head_of(client.get("/stories/deepseek-sequel-china-open-source/")).json_ld
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == "DeepSeek readies a sequel, and China bets on open source"
    assert data["mainEntityOfPage"]["@id"] == f"{SITE}/stories/deepseek-sequel-china-open-source/"
    assert data["author"] == [
        {"@type": "Person", "name": "Wren Writer", "url": f"{SITE}/authors/writer/"}
    ]
    assert data["publisher"]["name"] == "The Newsroom"
    assert data["datePublished"] and data["dateModified"]
    assert data["citation"][0]["url"] == "https://www.nytimes.com/section/technology"


def test_story_without_image_gets_the_sites_share_image_and_a_summary_card(client, demo):
    head = head_of(client.get("/stories/mistral-releases-pixtral-12b/"))
    assert head.meta["twitter:card"] == "summary"
    assert head.meta["og:image"] == f"{SITE}/static/img/share.png"
    assert head.meta["og:image:alt"] == "The Newsroom logo"
    assert head.meta["twitter:image"] == head.meta["og:image"]
    assert head.json_ld[0]["image"] == [head.meta["og:image"]]
    assert client.get("/static/img/share.png").status_code == 200


def test_news_article_json_ld_has_an_image_and_a_publisher_logo(client, demo):
    (data,) = head_of(client.get("/stories/ais-sputnik-moment/")).json_ld
    assert data["image"][0].startswith(f"{SITE}/media/lead-images/")
    logo = data["publisher"]["logo"]
    assert logo["@type"] == "ImageObject"
    assert logo["url"] == f"{SITE}/static/img/logo.png"
    assert (logo["width"], logo["height"]) == (512, 512)
    assert client.get("/static/img/logo.png").status_code == 200


@pytest.mark.parametrize("url", ["/", "/topics/", "/sources/", "/issues/"])
def test_every_listing_page_offers_a_share_image(client, demo, url):
    head = head_of(client.get(url))
    assert head.meta["og:image"].startswith(f"{SITE}/")


def test_issue_json_ld_is_a_collection_page_listing_its_stories_in_order(client, demo):
    head = head_of(client.get("/newsletters/the-newsroom/issues/2/"))
    (data,) = head.json_ld
    assert data["@type"] == "CollectionPage"
    assert data["url"] == f"{SITE}/newsletters/the-newsroom/issues/2/"
    items = data["mainEntity"]["itemListElement"]
    assert [i["position"] for i in items] == [1, 2, 3, 4, 5]
    assert items[0]["url"] == f"{SITE}/stories/industry-pivots-to-training-efficiency/"
    assert head.links["canonical"] == f"{SITE}/newsletters/the-newsroom/issues/2/"
    assert head.meta["description"] == "The week's five biggest stories, each with why it matters."
    assert head.meta["og:type"] == "website"


def test_home_describes_the_site_with_a_search_action_and_the_latest_issue(client, demo):
    head = head_of(client.get("/"))
    graph = head.json_ld[0]["@graph"]
    site = next(node for node in graph if node["@type"] == "WebSite")
    assert site["potentialAction"]["target"] == f"{SITE}/search/?q={{search_term_string}}"
    issue = next(node for node in graph if node["@type"] == "CollectionPage")
    assert issue["url"] == f"{SITE}/newsletters/weekly-radar/issues/4/"
    assert head.links["canonical"] == f"{SITE}/"


@pytest.mark.parametrize(
    "url",
    [
        "/topics/",
        "/topics/deepseek/",
        "/sources/",
        "/sources/market-data/",
        "/authors/writer/",
        "/issues/",
    ],
)
def test_listing_pages_have_canonical_description_open_graph_and_json_ld(client, demo, url):
    head = head_of(client.get(url))
    assert head.links["canonical"] == f"{SITE}{url}"
    assert head.meta["description"]
    assert head.meta["og:url"] == head.links["canonical"] and head.meta["og:title"]
    assert head.json_ld[0]["@type"] == "CollectionPage"
    assert head.json_ld[0]["url"] == head.links["canonical"]


def test_json_ld_cannot_close_its_script_element(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    hostile = 'Breaking </script><script>alert("x")</script> & <!-- news'
    story = published_issue(1).stories.get()
    Story.objects.filter(pk=story.pk).update(headline=hostile, dek=hostile)
    response = client.get(story.get_absolute_url())
    html = response.content.decode()
    assert '<script>alert("x")' not in html
    assert html.count("</script>") == 1  # only the JSON-LD element's own end tag
    (data,) = head_of(response).json_ld
    assert data["headline"] == hostile


def test_json_ld_escapes_match_djangos_json_script():
    escaped = str(json_ld({"text": "<a> & </script>"}))
    assert escaped == '{"text": "\\u003Ca\\u003E \\u0026 \\u003C/script\\u003E"}'


def test_a_correction_counts_as_a_modification_of_its_story(client):
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        story = published_issue(1).stories.get()
    corrected_at = timezone.now().replace(microsecond=0)
    with time_machine.travel(corrected_at, tick=False):
        correction_added(story)
    head = head_of(client.get(story.get_absolute_url()))
    assert datetime.fromisoformat(head.meta["article:modified_time"]) == corrected_at
    (data,) = head.json_ld
    assert datetime.fromisoformat(data["dateModified"]) == corrected_at
    assert datetime.fromisoformat(data["datePublished"]) < corrected_at - timedelta(days=2)


def test_editing_or_removing_a_correction_modifies_the_story_but_not_its_edit_version(
    admin_client,
):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start - timedelta(days=3), tick=False):
        story = published_issue(1).stories.get()
    version = Story.objects.get(pk=story.pk).version
    with time_machine.travel(start, tick=False):
        correction = correction_added(story)
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        url = reverse("admin:stories_correction_change", args=[correction.pk])
        data = admin_form_data(admin_client, url, text="The figure was $6M.")
        response = admin_client.post(url, data)
        assert response.status_code == 302, response.content
    edited = Story.objects.get(pk=story.pk)
    assert edited.updated_at == start + timedelta(hours=1)
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        response = admin_client.post(
            reverse("admin:stories_correction_delete", args=[correction.pk]), {"post": "yes"}
        )
        assert response.status_code == 302
    removed = Story.objects.get(pk=story.pk)
    assert removed.updated_at == start + timedelta(hours=2)
    # An editor with the story's form open can still save it.
    assert removed.version == edited.version == version


def test_later_pages_of_a_listing_are_canonical_at_their_own_page(client, monkeypatch, settings):
    from stories.reader import listing

    settings.SITE_URL = SITE
    monkeypatch.setattr(listing, "PAGE_SIZE", 1)
    author = user_in("Writers")
    stories = [approved_story() for _ in range(3)]
    for story in stories:
        story.authors.set([author])
    published_issue(stories=stories)
    base = f"/authors/{author.username}/"
    second = client.get(base).context["page"].older
    third = client.get(f"{base}?{second}").context["page"].older
    for query, canonical in [("", base), (f"?{second}", f"{base}?{second}")]:
        response = client.get(base + query)
        head = head_of(response)
        assert head.links["canonical"] == f"{SITE}{canonical}", query
        assert head.meta["og:url"] == head.links["canonical"]
        assert head.json_ld[0]["url"] == head.links["canonical"]
    html = client.get(f"{base}?{third}").content.decode()
    assert ", stories before " in html.split("</title>")[0]
    assert 'rel="prev" href="?after=' in html and 'rel="next"' not in html


def test_deleting_corrections_in_bulk_also_modifies_their_stories(admin_client):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start - timedelta(days=3), tick=False):
        stories = list(published_issue(2).stories.all())
        corrections = [CorrectionFactory(story=story) for story in stories]
    with time_machine.travel(start, tick=False):
        response = admin_client.post(
            reverse("admin:stories_correction_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [c.pk for c in corrections],
                "post": "yes",
            },
        )
    assert response.status_code == 302
    assert not Correction.objects.exists()
    assert {s.updated_at for s in Story.objects.filter(pk__in=[s.pk for s in stories])} == {start}
