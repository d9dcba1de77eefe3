"""Markdown to safe HTML, done once at save time rather than per request.

markdown-it escapes any raw HTML in the source (``html=False``) and refuses
``javascript:``-style links; nh3 then sanitises the output against an
allow-list, so a hole in one layer is caught by the other.
"""

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a",
    "abbr",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Render Markdown to HTML that is safe to mark safe in a template."""
    if not source or not source.strip():
        return ""
    # Headings inside a story start at h2: the page's h1 is the headline.
    html = _markdown().render(source)
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    # Images in the text load as the reader scrolls to them and decode off the
    # main thread. After sanitising, "<img " can only open an image: a "<" in
    # text is always escaped.
    return sanitize_html(html).replace("<img ", '<img loading="lazy" decoding="async" ')
