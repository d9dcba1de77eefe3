"""Hostile input: every case of tests/data/xss_corpus.py in every text field
readers see, published through the workflow, rendered by the site and by
Chromium, and not one script runs.

Two layers of proof. Unit level: every public page is parsed and holds only
the elements and attributes the templates and the Markdown allow-list use,
no event handler and no link or source with a scheme other than http,
https or mailto. Browser level: the pages (and the HTML of every feed item,
as a feed reader shows it) are opened in Chromium with alert, confirm,
prompt and print replaced by a recorder, every link is clicked, and nothing
may have been recorded, opened a dialog, thrown or navigated away.
"""

import json
import re
import struct
import zlib
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from PIL import Image, ImageFile

from stories import rendering
from stories.editorial import workflow
from stories.images import validate_lead_image
from stories.models import Citation, Correction, Issue, IssueItem, Source, Story
from tests.data.xss_corpus import CASES
from tests.factories import (
    CitationFactory,
    IssueFactory,
    SourceFactory,
    StoryFactory,
    TopicFactory,
    published_issue,
    user_in,
)
from tests.reader_helpers import image_bytes
from tests.story_admin import change_url, messages_of

ISSUE_SIZE = 40
SAFE_SCHEMES = {"", "http", "https", "mailto"}
# What the templates themselves write, plus the Markdown allow-list.
PAGE_TAGS = rendering.ALLOWED_TAGS | {
    "html", "head", "title", "meta", "link", "script", "body", "header", "nav", "main",
    "footer", "article", "section", "figure", "figcaption", "div", "span", "time", "form",
    "label", "input", "button", "select", "option", "details", "summary", "fieldset",
    "legend", "h1", "mark",
}  # fmt: skip
PAGE_ATTRIBUTES = {
    "action", "alt", "aria-label", "aria-labelledby", "charset", "class", "content",
    "datetime", "decoding", "fetchpriority", "for", "height", "href", "id", "lang", "loading",
    "maxlength", "method", "multiple", "name", "open", "placeholder", "property", "rel", "role",
    "selected", "size", "sizes", "src", "srcset", "start", "tabindex", "title", "type", "value",
    "width", "autocomplete", "align",
    # The signup form's own (templates/includes/signup_form.html).
    "aria-hidden", "required", "checked",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "srcset"}
# URLs the URLField accepts that still try to break out of an attribute.
HOSTILE_URLS = [
    'https://example.com/"onmouseover="alert(1)',
    "https://example.com/'><script>alert(2)</script>",
    "https://example.com/?q=<img src=x onerror=alert(3)>",
    'https://example.com/#"><svg onload=alert(4)>',
]


def browser_scheme(url: str) -> str:
    """The scheme a browser would see: it drops tabs and newlines anywhere
    and control characters and spaces at the ends before parsing."""
    cleaned = re.sub(r"[\t\n\r]", "", url).strip("\x00- ")
    scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", cleaned)
    return scheme.group(1).lower() if scheme else ""


class _Audit(HTMLParser):
    """Everything on a page that could run script or is not in the allow-list."""

    def __init__(self, tags, attributes):
        super().__init__(convert_charrefs=True)
        self.tags, self.attributes = tags, attributes
        self.problems: list[str] = []
        self._script = None

    def handle_starttag(self, tag, attrs):
        if tag not in self.tags:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name not in self.attributes.get(tag, self.attributes["*"]):
                self.problems.append(f"<{tag} {name}>")
            if name in URL_ATTRIBUTES and value is not None:
                urls = (
                    [c.strip().split(" ")[0] for c in value.split(",")]
                    if name == "srcset"
                    else [value]
                )
                self.problems += [
                    f"<{tag} {name}={u!r}>" for u in urls if browser_scheme(u) not in SAFE_SCHEMES
                ]
        if tag == "script":
            if dict(attrs).get("type") != "application/ld+json":
                self.problems.append("<script> that runs")
            self._script = ""

    def handle_data(self, data):
        if self._script is not None:
            self._script += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            try:
                json.loads(self._script)  # a </script> break-out would cut it short
            except ValueError:
                self.problems.append("JSON-LD that is not JSON")
            self._script = None


def audit_page(html: str) -> list[str]:
    audit = _Audit(PAGE_TAGS, {"*": PAGE_ATTRIBUTES})
    audit.feed(html)
    return audit.problems


def audit_markdown(html: str) -> list[str]:
    allowed = {tag: rendering.ALLOWED_ATTRIBUTES.get(tag, set()) for tag in rendering.ALLOWED_TAGS}
    allowed["a"] = allowed["a"] | {"rel"}  # added by the sanitiser
    allowed["img"] = allowed["img"] | {"loading", "decoding"}  # added after sanitising
    allowed["*"] = set()
    audit = _Audit(rendering.ALLOWED_TAGS, allowed)
    audit.feed(html)
    return audit.problems


# -- the hostile newsroom ------------------------------------------------------


def url_or_none(value: str) -> str | None:
    """value if a citation's URL field accepts it, else None."""
    try:
        Citation._meta.get_field("url").clean(value, None)
    except ValidationError:
        return None
    return value


def stored_cases() -> list[str]:
    """The corpus as the database can hold it: PostgreSQL text cannot hold
    NUL (and the admin's forms refuse it), so there it is dropped."""
    if connection.vendor == "postgresql":
        return [case.replace("\x00", "") for case in CASES]
    return CASES


def hostile_newsroom(media) -> dict:
    """One published story per case, the case in every field it fits, in
    issues of ISSUE_SIZE whose intro and closing TL;DR hold all their cases;
    and one story whose Markdown fields hold every case at once."""
    editor = user_in("Editors", username="hostile-editor")
    publisher = user_in("Publishers", username="hostile-publisher")
    picture = image_bytes(40, 30, fmt="PNG")
    stories = []
    for n, case in enumerate(stored_cases()):
        story = StoryFactory(
            headline=f"Case {n}: {case}",
            dek=case,
            body=f"Body of case {n}.\n\n{case}",
            tldr=case,
            why_it_matters=case,
            key_points=case,
            lead_image=SimpleUploadedFile(f"case-{n}.png", picture),
            lead_image_alt=case,
            lead_image_caption=case,
            lead_image_credit=case,
            created_by__first_name=case[:150],
            cited=False,
        )
        url = url_or_none(case) or HOSTILE_URLS[n % len(HOSTILE_URLS)]
        source = SourceFactory(name=f"Source {n} {case}", description=case, url=url)
        CitationFactory(story=story, source=source, url=url, title=case, note=case)
        story.topics.add(TopicFactory(name=f"T{n} {case}"[:100], description=case))
        Correction.objects.create(story=story, text=case)
        workflow.submit_for_review(story.created_by, story)
        stories.append(workflow.approve(editor, story))
    everything = "\n\n".join(stored_cases())
    omnibus = StoryFactory(
        headline="Every case at once",
        body=everything,
        tldr=everything,
        why_it_matters=everything,
        key_points=everything,
        cited=False,
    )
    CitationFactory(story=omnibus, source=SourceFactory(name="Omnibus wire"))
    Correction.objects.create(story=omnibus, text=everything)
    workflow.submit_for_review(omnibus.created_by, omnibus)
    stories.append(workflow.approve(editor, omnibus))
    issues = []
    for start in range(0, len(stories), ISSUE_SIZE):
        batch = stories[start : start + ISSUE_SIZE]
        cases = stored_cases()[start : start + ISSUE_SIZE]
        issue = IssueFactory(
            headline=f"Issue of cases from {start}: {cases[0]}",
            intro="\n\n".join(cases),
            closing_tldr="\n\n".join(reversed(cases)),
        )
        for position, story in enumerate(batch, start=1):
            IssueItem.objects.create(issue=issue, story=story, position=position)
        issues.append(workflow.publish_issue_now(publisher, issue))
    return {"stories": stories, "issues": issues, "omnibus": omnibus}


def public_pages(newsroom) -> list[str]:
    """The reader's pages the cases appear on, one address each."""
    first = newsroom["stories"][0]
    pages = ["/", "/topics/", "/sources/", "/issues/", newsroom["omnibus"].get_absolute_url()]
    pages += [issue.get_absolute_url() for issue in newsroom["issues"]]
    pages += [first.topics.first().get_absolute_url(), first.sources.first().get_absolute_url()]
    pages += [f"/authors/{first.created_by.username}/"]
    pages += [f"/search/?q={word}" for word in ("alert", "script", "onerror", "javascript")]
    pages += [
        "/search/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        '/search/?q="><svg+onload=alert(1)>',
    ]
    return pages


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


# -- unit level: the HTML the site sends ------------------------------------------


@pytest.mark.django_db
def test_every_case_renders_as_inert_text_on_every_public_page(client, media):
    newsroom = hostile_newsroom(media)
    stories = newsroom["stories"]

    # Every Markdown field's stored HTML keeps to the allow-list.
    for story in Story.objects.all():
        for field in Story.MARKDOWN_FIELDS.values():
            assert audit_markdown(getattr(story, field)) == [], (story.headline, field)
    for issue in Issue.objects.all():
        assert audit_markdown(issue.intro_html + issue.closing_tldr_html) == []
    for correction in Correction.objects.all():
        assert audit_markdown(correction.text_html) == []

    pages = public_pages(newsroom) + [story.get_absolute_url() for story in stories]
    # Topic and source pages share one template: every third case's is enough
    # to see each kind of case in their descriptions and home-page links.
    pages += [story.topics.first().get_absolute_url() for story in stories[:-1:3]]
    pages += [story.sources.first().get_absolute_url() for story in stories[:-1:3]]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert audit_page(response.content.decode()) == [], path
    # The pages really carried the cases: each one's headline is on its issue page.
    shown = "".join(client.get(i.get_absolute_url()).content.decode() for i in newsroom["issues"])
    assert all(f"Case {n}: " in shown for n in range(len(CASES)))

    topic = stories[0].topics.first()
    for path in ("/feeds/issues.rss", "/feeds/issues.atom", f"/feeds/topics/{topic.slug}.atom"):
        feed = client.get(path)
        assert feed.status_code == 200, path
        for html in feed_item_html(feed.content):
            assert audit_markdown_or_feed(html) == [], path
    for item in json.loads(client.get("/feeds/issues.json").content)["items"]:
        assert audit_markdown_or_feed(item["content_html"]) == []


def feed_item_html(content: bytes) -> list[str]:
    """The HTML of every item of an RSS or Atom feed (which must parse as XML)."""
    root = ElementTree.fromstring(content)
    names = (
        "{http://purl.org/rss/1.0/modules/content/}encoded",
        "{http://www.w3.org/2005/Atom}content",
    )
    return [element.text or "" for name in names for element in root.iter(name)]


def audit_markdown_or_feed(html: str) -> list[str]:
    # Feed items are Markdown output plus the templates' own figure, headings and image.
    audit = _Audit(PAGE_TAGS, {"*": PAGE_ATTRIBUTES})
    audit.feed(html)
    return audit.problems


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES + HOSTILE_URLS)
def test_a_script_url_is_refused_as_a_source_or_citation_address(case):
    for field in (Citation._meta.get_field("url"), Source._meta.get_field("url")):
        try:
            cleaned = field.clean(case, None)
        except ValidationError:
            continue
        assert browser_scheme(cleaned) in ("http", "https")


# -- browser level: nothing runs in Chromium --------------------------------------

SENTINEL = """
window.__xss = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = (...args) => { window.__xss.push(name + "(" + args.join(",") + ")"); };
}
// Links to the web and mail are what readers follow; stop them here so every
// link can be clicked without leaving the page. Anything else would run or
// navigate, and is left to do so to be caught.
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[href], area[href]");
  if (link && ["http:", "https:", "mailto:"].includes(link.protocol)) event.preventDefault();
}, true);
"""

DOM_AUDIT = """() => {
  const problems = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.getAttributeNames()) {
      if (attr.startsWith("on")) problems.push(el.tagName + " " + attr);
    }
  }
  const runnable = "script:not([type='application/ld+json']), iframe, frame, object, embed, "
    + "portal, base, svg, math, style, meta[http-equiv], form[action^='javascript']";
  for (const el of document.querySelectorAll(runnable)) problems.push(el.outerHTML.slice(0, 80));
  for (const link of document.querySelectorAll("a[href], area[href]")) {
    if (!["http:", "https:", "mailto:"].includes(link.protocol)) problems.push(link.href);
  }
  for (const img of document.querySelectorAll("img[src]")) {
    if (!["http:", "https:"].includes(new URL(img.src).protocol)) problems.push(img.src);
  }
  return problems;
}"""

CLICK_EVERY_LINK = """async () => {
  const links = [...document.querySelectorAll("a[href], area[href]")];
  for (const link of links) link.click();
  await new Promise((resolve) => setTimeout(resolve, 50));  // let a script URL run
  return links.length;
}"""


def recorded_calls(page) -> list[str]:
    calls = []
    for frame in page.frames:
        calls += frame.evaluate("() => window.__xss || ['no sentinel in ' + location.href]")
    return calls


def assert_nothing_runs(page, url: str, dialogs: list, errors: list) -> int:
    page.goto(url)
    loaded = page.url  # as the browser encoded it
    assert page.evaluate(DOM_AUDIT) == [], url
    clicked = page.evaluate(CLICK_EVERY_LINK)
    assert page.url == loaded, f"a link on {url} navigated to {page.url}"
    assert recorded_calls(page) == [], url
    assert dialogs == [] and errors == [], url
    return clicked


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_case_runs_script_or_opens_a_dialog_in_chromium(
    live_server, page, editorial_groups, media
):
    newsroom = hostile_newsroom(media)
    dialogs, errors = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(SENTINEL)

    clicked = 0
    for path in public_pages(newsroom):
        clicked += assert_nothing_runs(page, live_server.url + path, dialogs, errors)
    assert clicked > 1000  # the pages were real: they held every case's links

    # Feed readers show each item's HTML: render all of it as a page.
    client = Client()
    items = [
        i["content_html"] for i in json.loads(client.get("/feeds/issues.json").content)["items"]
    ]
    items += feed_item_html(client.get("/feeds/issues.atom").content)
    topic = newsroom["stories"][0].topics.first()
    items += feed_item_html(client.get(f"/feeds/topics/{topic.slug}.rss").content)
    reader = "https://feed-reader.test/"
    page.route(reader, lambda route: route.fulfill(body="\n".join(items), content_type="text/html"))
    assert assert_nothing_runs(page, reader, dialogs, errors) > 100


# -- uploaded files ------------------------------------------------------------------

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


def jpeg_with_html_inside() -> bytes:
    """A real JPEG whose comment segment holds an HTML page: a polyglot."""
    data = image_bytes(60, 40)
    comment = b"<html><script>alert(1)</script></html>"
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return data[:2] + segment + data[2:]


REFUSED_UPLOADS = {
    "an SVG named .jpg": ("chart.jpg", SVG, "SVG images are not accepted"),
    "an HTML page named .jpg": ("photo.jpg", HTML, "not an image we can read"),
    "a GIF header followed by script": (
        "a.gif",
        b"GIF89a/*<script>*/alert(1)</script>",
        "not an image we can read",
    ),
    "a truncated JPEG": ("cut.jpg", image_bytes(600, 400)[:700], "not an image we can read"),
    "an empty file": ("empty.jpg", b"", "not an image we can read"),
}


def add_story_form(client, **fields) -> dict:
    response = client.get("/admin/stories/story/add/")
    data = {
        "headline": "A story whose image was refused",
        "dek": "Kept after the refusal",
        "body": "A body that must not be lost.",
        "lead_image_alt": "What the picture shows",
        "lead_image_credit": "Photographer",
        "topics-TOTAL_FORMS": "0",
        "topics-INITIAL_FORMS": "0",
        "citations-TOTAL_FORMS": "0",
        "citations-INITIAL_FORMS": "0",
        "guest_bylines-TOTAL_FORMS": "0",
        "guest_bylines-INITIAL_FORMS": "0",
    }
    assert response.status_code == 200
    data.update(fields)
    return data


@pytest.mark.django_db
@pytest.mark.parametrize("upload", REFUSED_UPLOADS)
def test_a_hostile_upload_is_refused_in_the_admin_with_a_clear_error_and_the_input_kept(
    client, writer, media, upload
):
    name, content, message = REFUSED_UPLOADS[upload]
    client.force_login(writer)
    data = add_story_form(client, lead_image=SimpleUploadedFile(name, content))

    response = client.post("/admin/stories/story/add/", data)

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert any(message in error for error in form.errors["lead_image"]), form.errors
    assert form["headline"].value() == "A story whose image was refused"
    assert form["body"].value() == "A body that must not be lost."
    assert "Kept after the refusal" in response.content.decode()
    assert not Story.objects.exists()
    assert list(media.rglob("*.*")) == []  # nothing was stored


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["photo.jpg", "page.html", "page.svg", "page.pdf", "page"])
def test_an_image_with_html_inside_is_stored_as_the_image_it_is_and_re_encoded_for_readers(
    client, writer, media, name
):
    client.force_login(writer)
    data = add_story_form(client, lead_image=SimpleUploadedFile(name, jpeg_with_html_inside()))

    response = client.post("/admin/stories/story/add/", data)

    assert response.status_code == 302, messages_of(response)
    story = Story.objects.get()
    assert story.lead_image.name.endswith(".jpg")  # served as image/jpeg, never as a page
    assert client.get(change_url(story)).status_code == 200


@pytest.mark.django_db
def test_a_control_character_in_a_headline_or_topic_is_dropped_from_feeds_not_fatal(client):
    # XML 1.0 cannot hold \x01-\x1f (but tab and line breaks); Django's feed
    # writer raises on them, which used to fail every feed for every reader.
    story = StoryFactory(headline="Bell\x07 in the headline", body="Form\x0cfeed")
    story.topics.add(TopicFactory(name="Escape\x1b topic"))
    published_issue(stories=[approved_story_of(story)])
    topic = story.topics.get()
    for path in ("/feeds/issues.rss", "/feeds/issues.atom", f"/feeds/topics/{topic.slug}.rss"):
        response = client.get(path)
        assert response.status_code == 200, path
        text = ElementTree.tostring(ElementTree.fromstring(response.content), encoding="unicode")
        assert "Bell in the headline" in text and "Escape topic" in text


def approved_story_of(story: Story) -> Story:
    workflow.submit_for_review(story.created_by, story)
    return workflow.approve(user_in("Editors", username="control-editor"), story)


@pytest.mark.django_db
def test_a_headline_with_a_line_break_still_sends_its_notification_on_one_line(
    writer, editor, mailoutbox, django_capture_on_commit_callbacks
):
    story = StoryFactory(created_by=writer, headline="Case <script\n>alert(7)</script\n>")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.submit_for_review(writer, story)
    (mail,) = mailoutbox
    assert mail.subject == "For review: Case <script >alert(7)</script >"


def test_the_corpus_has_at_least_a_hundred_distinct_cases():
    assert len(set(CASES)) == len(CASES) >= 100


# -- decompression bombs ---------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache
def decompression_bomb(width: int, height: int) -> bytes:
    """A valid PNG of width x height black pixels (1 bit each) whose rows of
    zeros compress about a thousandfold: small to upload, huge to decode."""
    row = b"\0" + b"\0" * ((width + 7) // 8)  # filter byte, then the packed pixels
    compressor = zlib.compressobj(9)
    rows_at_once = 1000
    idat = b"".join(
        compressor.compress(row * min(rows_at_once, height - done))
        for done in range(0, height, rows_at_once)
    )
    idat += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


BOMBS = {
    # 900 million pixels: Pillow itself refuses to open it (over twice its limit).
    "30000 x 30000": ((30000, 30000), "This image is far too big; the limit is 40,000,000 pixels"),
    # 144 million pixels: Pillow only warns; the newsroom's own limit refuses it.
    "12000 x 12000": (
        (12000, 12000),
        "This image is 12000 × 12000 pixels; the limit",
    ),
}


@pytest.fixture
def nothing_decoded(monkeypatch):
    """Every decode of pixel data, recorded: a bomb must be refused before one."""
    decoded = []
    load = ImageFile.ImageFile.load

    def recording_load(image):
        decoded.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    return decoded


def inflated_size(data: bytes) -> int:
    """How many bytes a PNG's pixel data inflates to, counted a megabyte at a time."""
    (length,) = struct.unpack(">I", data[33:37])  # the IDAT chunk, after the IHDR
    assert data[37:41] == b"IDAT"
    inflater, pending, size = zlib.decompressobj(), data[41 : 41 + length], 0
    while pending:
        size += len(inflater.decompress(pending, 1 << 20))
        pending = inflater.unconsumed_tail
    return size + len(inflater.flush())


def test_the_bomb_is_a_real_png_that_is_small_on_disk():
    data = decompression_bomb(30000, 30000)
    assert len(data) < 200_000
    assert inflated_size(data) == 30000 * (1 + 30000 // 8)  # 112 MB of pixel rows
    with Image.open(SimpleUploadedFile("x.png", decompression_bomb(1000, 800))) as image:
        assert (image.format, image.size, image.mode) == ("PNG", (1000, 800), "1")


@pytest.mark.parametrize("bomb", BOMBS)
def test_a_decompression_bomb_is_refused_at_pillows_own_limits_without_being_decoded(
    settings, nothing_decoded, bomb
):
    (width, height), message = BOMBS[bomb]
    # Nothing is patched: Pillow's default limit and the newsroom's setting.
    assert Image.MAX_IMAGE_PIXELS == 1024 * 1024 * 1024 // 4 // 3
    assert settings.NEWSROOM_IMAGE_MAX_PIXELS == 40_000_000
    upload = SimpleUploadedFile("holiday.png", decompression_bomb(width, height), "image/png")

    with pytest.raises(ValidationError) as refused:
        validate_lead_image(upload)

    (said,) = refused.value.messages
    assert said.startswith(message), said
    assert "Resize it" in said
    assert nothing_decoded == []


@pytest.mark.django_db
@pytest.mark.parametrize("bomb", BOMBS)
def test_a_decompression_bomb_is_refused_in_the_admin_with_a_clear_error_and_the_input_kept(
    client, writer, media, nothing_decoded, bomb
):
    (width, height), message = BOMBS[bomb]
    client.force_login(writer)
    data = add_story_form(
        client, lead_image=SimpleUploadedFile("holiday.png", decompression_bomb(width, height))
    )

    response = client.post("/admin/stories/story/add/", data)

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert [error for error in form.errors["lead_image"] if error.startswith(message)]
    assert message.split(";")[0] in response.content.decode().replace("&#x27;", "'")
    assert form["body"].value() == "A body that must not be lost."
    assert not Story.objects.exists()
    assert list(media.rglob("*.*")) == []
    assert nothing_decoded == []


# -- browser level: single hostile stories and the admin ---------------------------

# Cases aimed at the page head: the <title>, the og: attributes and the JSON-LD
# block, each of which a story's headline, dek and image alt text reach.
HEAD_CASES = [
    "</title><script>alert(8)</script>",
    "</script><script>alert(10)</script>",
    '"><script>alert(180)</script>',
    "' onmouseover='alert(183)",
    "\u2028\u2029</script><script>alert(190)</script>",
    '{"@context": "</script><script>alert(191)</script>"}',
    '\\"; alert(195); //',
    "<title><img src=x onerror=alert(160)></title>",
]


def single_case_story(case: str, n: int) -> Story:
    """A published story with case as its headline, dek, image alt, caption and credit."""
    story = StoryFactory(
        headline=case,
        dek=case,
        body=f"Body of head case {n}.",
        lead_image=SimpleUploadedFile(f"head-{n}.png", image_bytes(40, 30, fmt="PNG")),
        lead_image_alt=case,
        lead_image_caption=case,
        lead_image_credit=case,
    )
    published_issue(stories=[approved_story_of(story)])
    return story


HEAD_OF_PAGE = """() => ({
  title: document.title,
  og: Object.fromEntries([...document.querySelectorAll("meta[property^='og:']")]
    .map((m) => [m.getAttribute("property"), m.getAttribute("content")])),
  jsonLd: [...document.querySelectorAll("script[type='application/ld+json']")]
    .map((s) => JSON.parse(s.textContent)),
  text: document.body.textContent,
})"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_hostile_headline_dek_and_image_text_run_nothing_in_the_head_or_body_of_a_story(
    live_server, page, editorial_groups, media
):
    assert set(HEAD_CASES) <= set(CASES)
    stories = [single_case_story(case, n) for n, case in enumerate(HEAD_CASES)]
    dialogs, errors = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(SENTINEL)

    for case, story in zip(HEAD_CASES, stories, strict=True):
        assert_nothing_runs(page, live_server.url + story.get_absolute_url(), dialogs, errors)
        # The case reached every place in the head, and arrived there as text.
        head = page.evaluate(HEAD_OF_PAGE)
        assert head["title"].startswith(case), case
        assert head["og"]["og:title"] == case and head["og"]["og:description"] == case
        assert head["og"]["og:image:alt"] == case
        (article,) = [d for d in head["jsonLd"] if d.get("@type") == "NewsArticle"]
        assert article["headline"] == case[:110] and article["description"] == case
        assert head["text"].count(case) >= 3  # headline, dek, caption and credit


ADMIN_DOM_AUDIT = """() => {
  const problems = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.getAttributeNames()) {
      if (attr.startsWith("on")) problems.push(el.tagName + " " + attr);
    }
  }
  // The admin's own scripts are files on this site; none is written inline.
  for (const script of document.querySelectorAll("script")) {
    if (script.src ? new URL(script.src).origin !== location.origin
        : !["application/json", "application/ld+json"].includes(script.type)) {
      problems.push(script.outerHTML.slice(0, 80));
    }
  }
  const runnable = "iframe, frame, object, embed, portal, base, math, style, meta[http-equiv], "
    + "svg script, svg foreignObject, svg a, svg animate, svg set";
  for (const el of document.querySelectorAll(runnable)) problems.push(el.outerHTML.slice(0, 80));
  // Its only SVG: the theme switcher's icons.
  for (const svg of document.querySelectorAll("svg")) {
    if (!svg.matches(".base-svgs, .theme-icon-when-auto, .theme-icon-when-dark, "
                     + ".theme-icon-when-light")) problems.push(svg.outerHTML.slice(0, 80));
  }
  for (const link of document.querySelectorAll("a[href], area[href]")) {
    if (!["http:", "https:", "mailto:"].includes(link.protocol)) problems.push(link.href);
  }
  for (const img of document.querySelectorAll("img[src]")) {
    if (!["http:", "https:"].includes(new URL(img.src).protocol)) problems.push(img.src);
  }
  for (const el of document.querySelectorAll("form[action], [formaction]")) {
    const url = el.getAttribute("action") ?? el.getAttribute("formaction");
    if (!["http:", "https:"].includes(new URL(url, location.href).protocol)) {
      problems.push(el.outerHTML.slice(0, 80));
    }
  }
  return problems;
}"""


def hostile_admin_newsroom(media) -> dict:
    """For the admin: a draft per case (headline, dek, byline name and topic),
    one story in review holding every case in every field and inline, sent
    back once with a hostile note, and one published hostile story."""
    editor = user_in("Editors", username="hostile-admin-editor")
    for n, case in enumerate(stored_cases()):
        story = StoryFactory(
            headline=f"Case {n}: {case}"[:200],
            dek=case,
            created_by__first_name=case[:150],
            created_by__username=f"hostile-writer-{n}",
            cited=False,
        )
        story.topics.add(TopicFactory(name=f"T{n} {case}"[:100]))
    everything = "\n\n".join(stored_cases())
    case = HEAD_CASES[0]
    in_review = StoryFactory(
        headline=case,
        dek=HEAD_CASES[2],
        body=everything,
        tldr=everything,
        why_it_matters=everything,
        key_points=everything,
        lead_image=SimpleUploadedFile("review.png", image_bytes(40, 30, fmt="PNG")),
        lead_image_alt=HEAD_CASES[3],
        lead_image_caption=HEAD_CASES[4],
        lead_image_credit=HEAD_CASES[5],
        cited=False,
    )
    for n, hostile in enumerate(HEAD_CASES):
        source = SourceFactory(name=f"Wire {n} {hostile}", description=hostile)
        url = url_or_none(hostile) or HOSTILE_URLS[n % len(HOSTILE_URLS)]
        CitationFactory(story=in_review, source=source, url=url, title=hostile, note=hostile)
        in_review.topics.add(TopicFactory(name=f"Head {n} {hostile}"[:100]))
    workflow.submit_for_review(in_review.created_by, in_review)
    workflow.request_changes(editor, in_review, "Fix this: " + HEAD_CASES[1])
    workflow.submit_for_review(in_review.created_by, in_review)
    published = single_case_story(HEAD_CASES[6], 99)
    return {"editor": editor, "in_review": in_review, "published": published}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_hostile_content_runs_nothing_in_the_admin_story_list_and_forms_for_an_editor(
    live_server, page, editorial_groups, media
):
    newsroom = hostile_admin_newsroom(media)
    dialogs, errors = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(SENTINEL)
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", newsroom["editor"].username)
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    assert page.url == live_server.url + "/admin/"

    pages = {
        "every story": "/admin/stories/story/?all=",
        "a hostile search": "/admin/stories/story/?q=" + quote(HEAD_CASES[2]),
        "the story in review": change_url(newsroom["in_review"]),
        "a published story": change_url(newsroom["published"]),
    }
    texts = {}
    for name, path in pages.items():
        page.goto(live_server.url + path)
        page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 100))")
        assert page.evaluate(ADMIN_DOM_AUDIT) == [], name
        assert recorded_calls(page) == [], name
        assert dialogs == [] and errors == [], name
        texts[name] = page.text_content("body")

    # The pages really carried the cases, as text.
    assert all(f"Case {n}: " in texts["every story"] for n in range(len(CASES)))
    assert HEAD_CASES[2] in texts["a hostile search"]
    assert "Fix this: " + HEAD_CASES[1] in texts["the story in review"]
    assert HEAD_CASES[6] in texts["a published story"]
    page.goto(live_server.url + pages["the story in review"])
    assert page.input_value("#id_headline") == HEAD_CASES[0]
    assert page.input_value("#id_lead_image_alt") == HEAD_CASES[3]
