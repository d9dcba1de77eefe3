"""Paths filled in from one reverse() are the paths reverse() gives."""

import pytest
from django.urls import reverse

from stories.reader.paths import INT_PLACEHOLDER, SLUG_PLACEHOLDER, path_for_each


@pytest.mark.parametrize(
    "url_name, args",
    [
        ("stories:story", ["openai-ships-a-model-12"]),
        ("stories:topic", ["ai-governance"]),
        # Topic addresses keep a name's own letters; reverse() quotes them.
        ("stories:topic", ["人工知能"]),
        ("stories:topic", ["zürich"]),
        ("stories:source", ["a_b-c"]),
    ],
)
def test_a_filled_path_is_the_reversed_one(url_name, args):
    assert path_for_each(url_name, SLUG_PLACEHOLDER)(*args) == reverse(url_name, args=args)


def test_an_issue_path_takes_its_newsletter_and_number():
    path = path_for_each("stories:issue", SLUG_PLACEHOLDER, INT_PLACEHOLDER)
    assert path("the-newsroom", 7) == reverse("stories:issue", args=["the-newsroom", 7])
    assert path("the-newsroom", 9876) == reverse("stories:issue", args=["the-newsroom", 9876])


def test_a_value_holding_a_placeholder_stays_as_it_is():
    path = path_for_each("stories:issue", SLUG_PLACEHOLDER, INT_PLACEHOLDER)
    slug = f"n-{INT_PLACEHOLDER}"
    assert path(slug, 3) == reverse("stories:issue", args=[slug, 3])


def test_a_path_is_filled_under_the_script_prefix_in_force():
    from django.urls import get_script_prefix, set_script_prefix

    before = get_script_prefix()
    set_script_prefix("/news/")
    try:
        path = path_for_each("stories:story", SLUG_PLACEHOLDER)
        assert path("a-story") == "/news/stories/a-story/"
    finally:
        set_script_prefix(before)
