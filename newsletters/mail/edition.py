"""The email edition of an issue: an HTML mail and its plain-text twin.

An issue is rendered once (``render_edition``): the stories' kept Markdown
HTML laid out in tables, every address made absolute, the stylesheet inlined
by css-inline (with the dark-mode rules kept in a <style> block, since an
inline style cannot carry a media query). What differs per subscriber, the
preference and unsubscribe links, is left as placeholders that
``Edition.personalise`` fills with two string replacements, so building
100,000 messages costs 100,000 replacements, not 100,000 renders.
"""

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

import css_inline
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from stories.discovery.feeds import absolute, absolute_html
from stories.models import Citation, GuestByline, IssueItem
from stories.models.content import citations_of
from stories.people import display_name

# Placeholders no Markdown can produce (nh3 would drop the braces' meaning,
# and the names are not words a writer types).
PREFERENCES = "{{nr-preferences-url}}"
UNSUBSCRIBE = "{{nr-unsubscribe-url}}"

# The widest lead image a 600 px column needs on a 2x screen.
MAIL_IMAGE_WIDTH = 1200
# How much of the first words fill the inbox's preview line.
PREHEADER_LENGTH = 140

_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Edition:
    """An issue's mail, rendered once, with per-subscriber placeholders."""

    subject: str
    preheader: str
    web_url: str
    html: str
    text: str

    def personalise(self, preferences_url: str, unsubscribe_url: str) -> tuple[str, str]:
        """(html, text) with one subscriber's links in place."""
        return (
            self.html.replace(PREFERENCES, html.escape(preferences_url)).replace(
                UNSUBSCRIBE, html.escape(unsubscribe_url)
            ),
            self.text.replace(PREFERENCES, preferences_url).replace(UNSUBSCRIBE, unsubscribe_url),
        )


def mail_stories(issue) -> list:
    """The stories readers see in issue, in order, with what the mail shows
    of them (authors, citations with their sources, guest bylines): four
    queries."""
    people = get_user_model().objects.only("username", "first_name", "last_name")
    items = (
        IssueItem.objects.public()
        .filter(issue=issue)
        .select_related("story")
        .prefetch_related(
            Prefetch("story__authors", people),
            Prefetch("story__citations", Citation.objects.select_related("source")),
            Prefetch("story__guest_bylines", GuestByline.objects.select_related("contributor")),
        )
        .order_by("position", "pk")
    )
    return [item.story for item in items]


def render_edition(issue, stories: list | None = None) -> Edition:
    """The mail of issue (its newsletter loaded), rendered once for everyone."""
    if stories is None:
        stories = mail_stories(issue)
    newsletter = issue.newsletter
    web_url = absolute(issue.get_absolute_url())
    preheader = _preheader(issue, stories)
    context = {
        "issue": issue,
        "newsletter": newsletter,
        "stories": [_story_context(story) for story in stories],
        "intro_html": _fragment(issue.intro_html),
        "closing_tldr_html": _fragment(issue.closing_tldr_html),
        "preheader": preheader,
        "web_url": web_url,
        "newsletter_url": absolute(newsletter.get_absolute_url()),
        "preferences_url": PREFERENCES,
        "unsubscribe_url": UNSUBSCRIBE,
        "SITE_NAME": settings.SITE_NAME,
        "layout": issue.layout_for(len(stories)),
    }
    if context["layout"] == issue.Format.ESSAY:
        context |= _essay_credits(stories)
    rendered = render_to_string("newsletters/mail/edition.html", context)
    page = _INLINER.inline(rendered)
    # Kept for what inlining cannot say: dark mode and narrow screens.
    keep = render_to_string("newsletters/mail/edition_keep.css")
    page = page.replace("</head>", f"<style>{keep}</style></head>", 1)
    page = _squeeze(page)
    text = render_to_string(
        "newsletters/mail/edition.txt",
        context
        | {
            "text": _TextStories(stories),
            "text_intro": _plain(absolute_html(issue.intro_html)),
            "text_closing": _plain(absolute_html(issue.closing_tldr_html)),
        },
    )
    return Edition(
        subject=f"{issue.headline}",
        preheader=preheader,
        web_url=web_url,
        html=page,
        text=_tidy_text(text),
    )


def _story_context(story) -> dict:
    image = None
    if story.lead_image:
        image = {
            "url": absolute(_mail_image(story)),
            "alt": story.lead_image_alt,
            "caption": story.lead_image_caption,
            "credit": story.lead_image_credit,
        }
    return {
        "story": story,
        "url": absolute(story.get_absolute_url()),
        "byline": _byline(story),
        "image": image,
        "tldr_html": _fragment(story.tldr_html),
        "key_points_html": _fragment(story.key_points_html),
        "body_html": _fragment(story.body_html),
        "why_it_matters_html": _fragment(story.why_it_matters_html),
        "citations": [_citation(c) for c in story.citations.all()],
    }


def _citation(c) -> dict:
    return {
        "name": c.source.name,
        "source_url": absolute(c.source.get_absolute_url()),
        "url": c.url,
        "title": c.title if c.title and c.title != c.source.name else "",
        "note": c.note,
    }


def _text_citation(c) -> str:
    title = c.title if c.title and c.title != c.source.name else ""
    note = f"({c.note})" if c.note else ""
    return ", ".join(part for part in (c.source.name, title, c.url, note) if part)


def _names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _people(story) -> list:
    """A story's byline names: staff authors, then contributors without an account."""
    staff = [display_name(a) for a in story.authors.all()]
    return staff + [byline.contributor.name for byline in story.guest_bylines.all()]


def _byline(story) -> str:
    return _names(_people(story))


def _essay_credits(stories) -> dict:
    """An essay's one byline and one attribution, for all its sections."""
    people = list(dict.fromkeys(name for story in stories for name in _people(story)))
    citations = citations_of(stories)
    return {
        "essay_byline": _names(people),
        "essay_citations": [_citation(c) for c in citations],
        "text_essay_citations": [_text_citation(c) for c in citations],
    }


def _mail_image(story) -> str:
    """The smallest rendition at least MAIL_IMAGE_WIDTH wide, else the widest,
    else the original: a mail should not carry a 4,000 px photo."""
    renditions = (story.lead_image_renditions or {}).get("files") or {}
    if renditions:
        widths = sorted(int(width) for width in renditions)
        wide = [w for w in widths if w >= MAIL_IMAGE_WIDTH]
        width = wide[0] if wide else widths[-1]
        return default_storage.url(renditions[str(width)])
    return story.lead_image.url


_HEADING = re.compile(r"<(/?)h[1-6]\b[^>]*>")


def _fragment(markup: str) -> str:
    """Sanitised Markdown HTML made fit for mail: absolute addresses, and
    headings at one size below the story headline (h4), whatever level the
    writer chose, since mail clients' heading sizes vary wildly."""
    if not markup:
        return ""
    markup = absolute_html(markup)
    markup = _HEADING.sub(lambda m: f"<{m.group(1)}h4>", markup)
    return mark_safe(markup)


def _preheader(issue, stories) -> str:
    """What the inbox shows after the subject: the intro's first words, or
    the first stories' headlines."""
    source = _plain(issue.intro_html) or " · ".join(s.headline for s in stories[:3])
    source = " ".join(source.split())
    if len(source) > PREHEADER_LENGTH:
        source = source[: PREHEADER_LENGTH - 1].rsplit(" ", 1)[0] + "…"
    return source


_BETWEEN_TAGS = re.compile(r">\s+<")
# RFC 5322 caps a line at 998 bytes; a part with a longer line must be sent
# quoted-printable, which costs more time per copy than everything else in
# building it, so the HTML is kept to short lines and goes out as 8-bit.
LINE_BYTES = 800


def _squeeze(page: str) -> str:
    """Whitespace between tags as one newline: lighter toward Gmail's clip,
    and short lines for the reason above."""
    page = _BETWEEN_TAGS.sub(">\n<", page)
    return "\n".join(_short_lines(line) for line in page.split("\n"))


def _short_lines(line: str) -> str:
    """line, broken at spaces in its text (never inside a tag, where a
    newline would change an attribute's value) until no piece is too long."""
    if len(line.encode()) <= LINE_BYTES:
        return line
    pieces, start, in_tag, since = [], 0, False, 0
    for index, char in enumerate(line):
        since += 1
        if char == "<":
            in_tag = True
        elif char == ">":
            in_tag = False
        elif char == " " and not in_tag and since > LINE_BYTES // 4:
            pieces.append(line[start:index])
            start, since = index + 1, 0
    pieces.append(line[start:])
    return "\n".join(pieces)


def _tidy_text(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# -- plain text -----------------------------------------------------------------


def _plain(markup: str) -> str:
    return html_to_text(markup) if markup else ""


class _TextStories:
    """The stories as the text template needs them, converted lazily."""

    def __init__(self, stories):
        self.stories = stories

    def __iter__(self):
        for story in self.stories:
            yield {
                "story": story,
                "url": absolute(story.get_absolute_url()),
                "byline": _byline(story),
                "tldr": _plain(story.tldr_html),
                "key_points": _plain(story.key_points_html),
                "body": _plain(absolute_html(story.body_html)),
                "why_it_matters": _plain(story.why_it_matters_html),
                "credit": story.lead_image_credit if story.lead_image else "",
                "image_alt": story.lead_image_alt if story.lead_image else "",
                "caption": story.lead_image_caption if story.lead_image else "",
                "image_url": absolute(_mail_image(story)) if story.lead_image else "",
                "citations": [_text_citation(c) for c in story.citations.all()],
            }


class _TextWriter(HTMLParser):
    """Sanitised Markdown HTML as plain text: paragraphs apart, list items
    as "- " or "1. ", bold as *bold*, links followed by their address."""

    BLOCKS = {"p", "div", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list] = []  # [kind, counter]
        self.hrefs: list[str | None] = []
        self.link_text: list[str] = []

    def _newline(self, count=2):
        joined = "".join(self.out)
        stripped = joined.rstrip(" ")
        have = len(stripped) - len(stripped.rstrip("\n"))
        if stripped and have < count:
            self.out.append("\n" * (count - have))

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS:
            self._newline(1 if self.lists else 2)
        elif tag in ("ul", "ol"):
            self._newline(1 if self.lists else 2)
            self.lists.append([tag, 0])
        elif tag == "li":
            self._newline(1)
            kind = self.lists[-1] if self.lists else ["ul", 0]
            kind[1] += 1
            indent = "   " * (len(self.lists) - 1)
            self.out.append(f"{indent}{kind[1]}. " if kind[0] == "ol" else f"{indent}- ")
        elif tag in ("strong", "b"):
            self.out.append("*")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "a":
            self.hrefs.append(dict(attrs).get("href"))
            self.link_text.append("")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(f"[{alt}]")

    def handle_endtag(self, tag):
        if tag in self.BLOCKS:
            self._newline(1 if self.lists else 2)
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._newline(1 if self.lists else 2)
        elif tag in ("strong", "b"):
            self.out.append("*")
        elif tag == "a" and self.hrefs:
            href = self.hrefs.pop()
            text = self.link_text.pop().strip()
            if href and href != text and not href.startswith("#"):
                self.out.append(f" ({href})")

    def handle_data(self, data):
        data = re.sub(r"\s+", " ", data)
        if not "".join(self.out[-1:]).strip(" ") or "".join(self.out).endswith("\n"):
            data = data.lstrip()
        self.out.append(data)
        if self.link_text:
            self.link_text[-1] += data

    def text(self) -> str:
        return "".join(self.out).strip()


def html_to_text(markup: str) -> str:
    writer = _TextWriter()
    writer.feed(markup)
    writer.close()
    return writer.text()


def mail_domain(newsletter) -> str:
    """The domain Message-IDs and List-Ids are minted under: the site's."""
    return urlsplit(settings.SITE_URL).hostname or "localhost"
