"""Markdown is rendered once, when content is saved, and never while serving a
reader: every public page is served with every Markdown entry point broken."""

import re
from xml.etree import ElementTree

import nh3
import pytest
from markdown_it import MarkdownIt

from stories.models import Correction, Issue, Source, Story, Topic
from stories.rendering import render_markdown as imported_before_the_guard
from tests.factories import CorrectionFactory
from tests.reader_helpers import load_demo_newsroom

pytestmark = pytest.mark.django_db


class RenderedPerRequest(AssertionError):
    pass


def refuse(*args, **kwargs):
    raise RenderedPerRequest("Markdown was rendered while serving a page")


@pytest.fixture
def newsroom(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSROOM_DEMO_PASSWORD", "demo-password-123")
    load_demo_newsroom(settings, tmp_path)
    story = Story.objects.published().order_by("pk").first()
    CorrectionFactory(story=story, text="An **earlier** version said otherwise.")


@pytest.fixture
def markdown_broken(monkeypatch):
    # The module's function, the name the models imported it under, and the
    # parser and sanitiser underneath, so a module that imported the function
    # before this patch cannot render either.
    monkeypatch.setattr("stories.rendering.render_markdown", refuse)
    monkeypatch.setattr("stories.models.content.render_markdown", refuse)
    monkeypatch.setattr("stories.rendering.sanitize_html", refuse)
    monkeypatch.setattr(MarkdownIt, "render", refuse)
    monkeypatch.setattr(nh3, "clean", refuse)


def public_pages() -> list[str]:
    story = Story.objects.published().order_by("pk").first()
    topic = Topic.objects.filter(tagged_stories__content_object=story).first()
    source = Source.objects.filter(citations__story=story).first()
    author = story.authors.first()
    pages = ["/", "/issues/", "/topics/", "/sources/", "/robots.txt"]
    pages += [issue.get_absolute_url() for issue in Issue.objects.published()]
    pages += [s.get_absolute_url() for s in Story.objects.published()]
    pages += [topic.get_absolute_url(), source.get_absolute_url(), f"/authors/{author.username}/"]
    pages += ["/search/?q=" + story.headline.split()[-1]]
    pages += ["/feeds/issues.rss", "/feeds/issues.atom", "/feeds/issues.json"]
    pages += [f"/feeds/topics/{topic.slug}.rss", f"/feeds/topics/{topic.slug}.atom"]
    return pages


def sitemap_pages(client) -> list[str]:
    index = client.get("/sitemap.xml")
    assert index.status_code == 200
    locations = [
        el.text for el in ElementTree.fromstring(index.content).iter() if el.tag.endswith("loc")
    ]
    return ["/sitemap.xml"] + [re.sub(r"^https?://[^/]+", "", url) for url in locations]


def test_the_guard_catches_rendering(newsroom, markdown_broken):
    story = Story.objects.published().first()
    with pytest.raises(RenderedPerRequest):
        story.save()
    with pytest.raises(RenderedPerRequest):
        Correction.objects.first().save()
    with pytest.raises(RenderedPerRequest):
        imported_before_the_guard("A **bold** claim.")


def test_every_public_page_is_served_without_rendering_markdown(client, newsroom, markdown_broken):
    pages = public_pages() + sitemap_pages(client)
    assert len(pages) > 20
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content, path

    # What readers got is the HTML stored at save.
    story = Story.objects.published().filter(corrections__isnull=False).first()
    page = client.get(story.get_absolute_url()).content.decode()
    assert story.body_html in page
    assert story.corrections.first().text_html in page
    issue = Issue.objects.published().exclude(intro_html="").first()
    assert issue.intro_html in client.get(issue.get_absolute_url()).content.decode()
