from html.parser import HTMLParser

import pytest

from stories.rendering import ALLOWED_URL_SCHEMES, render_markdown

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "![x](javascript:alert(1))",
    "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<svg onload="alert(1)"></svg>',
    '<iframe src="https://evil.example"></iframe>',
    "[x](vbscript:msgbox(1))",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<<script>script>alert(1)<</script>/script>",
    '[x](https://example.com "title" onmouseover="alert(1)")',
    "<javascript:alert(1)>",
    "[x]: javascript:alert(1)\n\n[link][x]",
]


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def elements(html: str):
    parser = _Elements()
    parser.feed(html)
    return parser.elements


def assert_inert(html: str):
    for tag, attrs in elements(html):
        assert tag not in {"script", "iframe", "svg", "object", "embed", "style", "form"}, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            assert name != "style", html
            if name in {"href", "src"}:
                scheme = value.split(":", 1)[0].lower() if ":" in value else "relative"
                assert scheme in ALLOWED_URL_SCHEMES | {"relative"}, html


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markdown_renders_without_script(source):
    assert_inert(render_markdown(source))


def test_raw_html_is_shown_as_text_not_markup():
    html = render_markdown("<b>x</b>")
    assert html == "<p>&lt;b&gt;x&lt;/b&gt;</p>\n"


def test_markdown_keeps_headings_lists_bold_and_links():
    html = render_markdown(
        "## Section\n\n- **Founder:** Liang Wenfeng\n- two\n\n[NYT](https://www.nytimes.com/)"
    )
    assert "<h2>Section</h2>" in html
    assert "<li><strong>Founder:</strong> Liang Wenfeng</li>" in html
    assert '<a href="https://www.nytimes.com/" rel="noopener noreferrer">NYT</a>' in html


def test_top_level_heading_becomes_h2_because_the_headline_is_the_h1():
    assert render_markdown("# Big") == "<h2>Big</h2>\n"


def test_numbered_list_keeps_its_start():
    assert '<ol start="3">' in render_markdown("3. three\n4. four")


def test_empty_markdown_renders_nothing():
    assert render_markdown("  \n ") == ""
