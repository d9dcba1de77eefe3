"""Text pasted with single line breaks keeps its paragraphs, and the body's
live preview shows the text as readers will get it."""

import json

import pytest
from django.urls import reverse

from stories.rendering import render_markdown
from tests.factories import UserFactory

PREVIEW = "admin:stories_story_markdown_preview"

# As a Google Doc or a web page puts paragraphs on the clipboard.
PASTED = (
    "DeepSeek's planned sequel is expected within months.\n"
    "China's labs increasingly publish their weights.\n"
    "Washington is watching closely."
)


def paragraphs(html: str) -> list[str]:
    return [p.split("</p>")[0] for p in html.split("<p>")[1:]]


def test_single_line_breaks_become_paragraphs():
    assert paragraphs(render_markdown(PASTED)) == [
        "DeepSeek's planned sequel is expected within months.",
        "China's labs increasingly publish their weights.",
        "Washington is watching closely.",
    ]


def test_blank_lines_still_separate_paragraphs_as_before():
    typed = PASTED.replace("\n", "\n\n")
    assert render_markdown(typed) == render_markdown(PASTED)


def test_windows_line_endings_are_paragraphs_too():
    assert len(paragraphs(render_markdown(PASTED.replace("\n", "\r\n")))) == 3


def test_a_break_inside_bold_or_a_link_never_cuts_the_markup():
    html = render_markdown(
        "**Founded by\nLiang Wenfeng** in 2023\n[the\nreport](https://x.example/)"
    )
    assert html == (
        "<p><strong>Founded by\nLiang Wenfeng</strong> in 2023</p>\n"
        '<p><a href="https://x.example/" rel="noopener noreferrer">the\nreport</a></p>\n'
    )


def test_lists_headings_quotes_and_code_keep_their_shape():
    source = (
        "## Why it matters\n"
        "- **Cost:** a $6M budget\n"
        "- **Method:** distillation\n"
        "\n"
        "> One quoted line\n"
        "> and another\n"
        "\n"
        "```\nline one\nline two\n```"
    )
    html = render_markdown(source)
    assert "<h2>Why it matters</h2>" in html
    assert html.count("<li>") == 2
    assert "<blockquote>\n<p>One quoted line</p>\n<p>and another</p>\n</blockquote>" in html
    assert "<pre><code>line one\nline two\n</code></pre>" in html


def test_an_explicit_hard_break_stays_a_line_break():
    assert render_markdown("Credit line  \nsecond line") == "<p>Credit line<br>\nsecond line</p>\n"


@pytest.mark.django_db
def test_the_preview_renders_posted_text_as_the_page_will(client, writer):
    client.force_login(writer)
    response = client.post(reverse(PREVIEW), {"text": PASTED})
    assert response.status_code == 200
    assert json.loads(response.content) == {"html": render_markdown(PASTED)}


@pytest.mark.django_db
def test_the_preview_sanitises_what_it_returns(client, writer):
    client.force_login(writer)
    response = client.post(
        reverse(PREVIEW), {"text": "<script>alert(1)</script> [x](javascript:alert(1))"}
    )
    html = json.loads(response.content)["html"]
    assert "<script" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert 'href="javascript' not in html


@pytest.mark.django_db
def test_the_preview_refuses_a_get_and_an_overlong_text_with_a_sentence(client, writer):
    client.force_login(writer)
    assert json.loads(client.get(reverse(PREVIEW)).content)["error"].startswith("Send the text")
    response = client.post(reverse(PREVIEW), {"text": "x" * 200_001})
    assert response.status_code == 413
    assert "longer than 200,000 characters" in json.loads(response.content)["error"]


@pytest.mark.django_db
def test_the_preview_is_for_people_who_write_stories(client):
    assert client.post(reverse(PREVIEW), {"text": "x"}).status_code == 302  # to the login
    client.force_login(UserFactory(is_staff=True))
    assert client.post(reverse(PREVIEW), {"text": "x"}).status_code == 403


@pytest.mark.django_db
def test_the_body_field_asks_for_its_preview(client, writer):
    client.force_login(writer)
    html = client.get(reverse("admin:stories_story_add")).content.decode()
    assert f'data-markdown-preview="{reverse(PREVIEW)}"' in html
    assert "js/markdown-preview.js" in html


def brief_piece_fields():
    from devtools.demo_content import ISSUES

    for issue in ISSUES[:4]:  # the four pieces of CONTENT.md
        for story in issue["stories"]:
            for field in ("tldr", "body", "why_it_matters", "key_points"):
                if story.get(field):
                    yield pytest.param(story[field], id=f"{story['slug'][:24]}-{field}")


@pytest.mark.parametrize("source", brief_piece_fields())
def test_every_brief_piece_pasted_with_single_breaks_reads_as_typed(source):
    assert render_markdown(source.replace("\n\n", "\n")) == render_markdown(source)
