"""Markdown to safe HTML, done once at save time rather than per request.

markdown-it escapes any raw HTML in the source (``html=False``) and refuses
``javascript:``-style links; nh3 then sanitises the output against an
allow-list, so a hole in one layer is caught by the other.
"""

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

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


def _line_breaks_as_paragraphs(tokens: list[Token]) -> list[Token]:
    """Each line of a paragraph becomes a paragraph of its own.

    Text pasted from a web page, a Google Doc or a Substack post arrives with
    a single line break between paragraphs, which Markdown would merge into
    one: writers who paste (and most who type) mean a new paragraph. A break
    inside bold, italics or a link stays a space, so the markup is never cut
    in two; lines of a list item (its paragraph is hidden in a tight list)
    stay one item.
    """
    result = []
    for index, token in enumerate(tokens):
        opener = tokens[index - 1] if index else None
        if (
            token.type != "inline"
            or opener is None
            or opener.type != "paragraph_open"
            or opener.hidden
            or not token.children
        ):
            result.append(token)
            continue
        lines, depth = [[]], 0
        for child in token.children:
            if child.type == "softbreak" and depth == 0:
                lines.append([])
                continue
            depth += child.nesting
            lines[-1].append(child)
        lines = [line for line in lines if line]
        if len(lines) <= 1:
            result.append(token)
            continue
        result.append(_inline(token, lines[0]))
        for line in lines[1:]:
            result.append(tokens[index + 1].copy())  # paragraph_close
            result.append(opener.copy())
            result.append(_inline(token, line))
    return result


def _inline(token: Token, children: list[Token]) -> Token:
    return token.copy(children=children, content="".join(c.content for c in children))


def render_markdown(source: str) -> str:
    """Render Markdown to HTML that is safe to mark safe in a template."""
    if not source or not source.strip():
        return ""
    md = _markdown()
    tokens = _line_breaks_as_paragraphs(md.parse(source))
    # Headings inside a story start at h2: the page's h1 is the headline.
    html = md.renderer.render(tokens, md.options, {})
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    # Images in the text load as the reader scrolls to them and decode off the
    # main thread. After sanitising, "<img " can only open an image: a "<" in
    # text is always escaped.
    return sanitize_html(html).replace("<img ", '<img loading="lazy" decoding="async" ')
