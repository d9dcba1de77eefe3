"""Defects outside validators (HTML, link preview, structured data, feed
checkers) found on the reader's pages."""

import re

import pytest
from django.urls import reverse

from tests.factories import published_issue

pytestmark = pytest.mark.django_db

# What every <time datetime> and article time carries: a date, or a time to
# the whole second with its offset (the microseconds Django's |date:"c" kept
# were reported as invalid on every page type).
MACHINE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z))?$")


def _datetimes(html: str) -> list[str]:
    return re.findall(r'<time datetime="([^"]*)"', html) + re.findall(
        r'property="article:(?:published|modified)_time" content="([^"]*)"', html
    )


def test_every_time_element_on_public_pages_is_whole_seconds(client):
    issue = published_issue(2)
    assert issue.publish_at.microsecond  # published "now": the clock has microseconds
    story = issue.items.first().story
    pages = [
        "/",
        issue.get_absolute_url(),
        story.get_absolute_url(),
        reverse("discovery:archive"),
        reverse("stories:newsletter", args=[issue.newsletter.slug]),
        f"{reverse('discovery:search')}?q={story.headline.split()[0]}",
    ]
    seen = 0
    for page in pages:
        html = client.get(page).content.decode()
        for value in _datetimes(html):
            seen += 1
            assert MACHINE_TIME.match(value), f"{page}: {value}"
    assert seen >= len(pages)


def test_the_search_pages_two_search_landmarks_have_distinct_names(client):
    html = client.get(reverse("discovery:search"), {"q": "anything"}).content.decode()
    forms = re.findall(r"<form[^>]*>", html)
    landmarks = [tag for tag in forms if 'role="search"' in tag]
    names = [re.search(r'aria-label="([^"]+)"', tag) for tag in landmarks]
    assert len(landmarks) == 2
    assert all(names) and len({name.group(1) for name in names}) == 2
