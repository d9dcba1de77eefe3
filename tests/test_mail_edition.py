"""The email edition: every issue of CONTENT.md's four pieces reaches the
inbox without loss, as mail-safe HTML and plain text, with the headers bulk
mail needs, and a 10-story digest stays under Gmail's clipping size."""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.mail import get_connection
from django.db.models.functions import Length
from django.urls import reverse

from newsletters.mail.edition import html_to_text, render_edition
from newsletters.mail.message import edition_message, message_id, subscriber_links
from stories.models import Issue, Newsletter, Story
from tests.factories import SubscriberFactory, approved_story, published_issue
from tests.reader_helpers import load_demo_newsroom

pytestmark = pytest.mark.django_db

GMAIL_CLIP_BYTES = 102 * 1024
POSTAL = "Newsroom Ltd\n1 Example Street\nLondon N1 1AA"


@pytest.fixture
def demo(settings, tmp_path):
    load_demo_newsroom(settings, tmp_path)
    Newsletter.objects.update(postal_address=POSTAL)


def four_pieces():
    """The published issues holding CONTENT.md's pieces, their newsletter loaded."""
    issues = list(Issue.objects.published().select_related("newsletter").order_by("publish_at"))
    assert len(issues) >= 4
    return issues


class Tags(HTMLParser):
    """Counts of tags, every URL in href/src, and the text."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.counts: dict[str, int] = {}
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1
        self.tags.append(tag)
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]


def words(text: str) -> str:
    return " ".join(re.sub(r"[*]", "", text).split())


def personalised(issue, edition, subscriber_id=7):
    return edition.personalise(
        f"https://news.example/p/{subscriber_id}", f"https://news.example/u/{subscriber_id}"
    )


def test_the_four_pieces_reach_html_and_text_without_loss(demo):
    for issue in four_pieces():
        edition = render_edition(issue)
        html, text = personalised(issue, edition)
        mail, flat_text = Tags(html), words(text)
        stories = [item.story for item in issue.items.order_by("position")]
        fragments = [issue.intro_html, issue.closing_tldr_html] + [
            field
            for story in stories
            for field in (
                story.body_html,
                story.tldr_html,
                story.why_it_matters_html,
                story.key_points_html,
            )
        ]
        web = Tags("".join(fragments))
        # Every paragraph, bullet and bold label the web page prints from
        # Markdown is in the mail, and its words are in the text part.
        for tag in ("p", "li", "strong", "ol", "ul"):
            assert mail.counts.get(tag, 0) >= web.counts.get(tag, 0), (issue, tag)
        for fragment in fragments:
            for paragraph in re.findall(r"<(?:p|li)>(.*?)</(?:p|li)>", fragment, re.S):
                said = words(html_to_text(paragraph))
                assert said and said in flat_text, (issue, said)
        assert issue.headline in html and issue.headline.upper() in text
        layout = issue.layout_for(len(stories))
        for number, story in enumerate(stories, start=1):
            # A digest numbers its stories; an essay's sections keep their
            # headlines unnumbered; a post's one story runs under the issue's.
            if layout == Issue.Format.DIGEST:
                assert f"{number}. {story.headline}" in text
                assert f"{number}.</span>" in html and story.headline in html
            elif layout == Issue.Format.ESSAY:
                assert f"\n{story.headline}\n" in text and story.headline in html
                assert 'class="number"' not in html
            if story.dek:
                assert story.dek in html and story.dek in text
            if story.why_it_matters_html:
                assert "Why it matters" in html and "WHY IT MATTERS" in text
            for citation in story.citations.select_related("source"):
                assert citation.source.name in html and citation.source.name in text
            if story.lead_image:
                assert f'alt="{story.lead_image_alt}"' in html
                assert story.lead_image_credit in html and story.lead_image_credit in text


def test_the_pieces_keep_their_particular_shapes(demo):
    post = Story.objects.get(slug="ais-sputnik-moment")
    issue = Issue.objects.select_related("newsletter").get(items__story=post)
    html, text = personalised(issue, render_edition(issue))
    assert (
        "Credit: Grok | DeepSeek Satellite" in html and "Credit: Grok | DeepSeek Satellite" in text
    )
    assert "<strong>Founder:</strong>" in html and "*Founder:*" in text
    assert "Key points" in html and "KEY POINTS" in text and "TL;DR" in html
    analysis = Story.objects.get(slug="deepseek-sequel-china-open-source")
    issue = Issue.objects.select_related("newsletter").get(items__story=analysis)
    html, text = personalised(issue, render_edition(issue))
    assert "Source: " in html and "The New York Times" in html
    assert "Source: The New York Times" in text
    radar = next(i for i in four_pieces() if "The Sequence Radar" in i.intro_html)
    html, text = personalised(radar, render_edition(radar))
    assert "closing-tldr" in html
    assert words(html_to_text(radar.closing_tldr_html)) in words(text)


def test_mail_html_is_mail_safe(demo):
    for issue in four_pieces():
        edition = render_edition(issue)
        html, text = personalised(issue, edition)
        tags = Tags(html)
        assert "script" not in tags.counts and "<script" not in html.lower()
        assert tags.counts.get("table", 0) >= 2
        assert '<meta name="color-scheme" content="light dark">' in html
        assert "prefers-color-scheme: dark" in html or "prefers-color-scheme:dark" in html
        # Styles were inlined: the body's paragraphs carry their own.
        assert re.search(r'<p style="[^"]*margin', html)
        for url in tags.urls + re.findall(r"https?://\S+", text):
            parts = urlsplit(url)
            assert parts.scheme in ("https", "http", "mailto") and (
                parts.netloc or parts.scheme == "mailto"
            ), url
        assert edition.web_url.startswith(settings.SITE_URL) and edition.web_url in html
        assert "Read on the web" in html and edition.web_url in text
        assert edition.preheader and 'class="preheader"' in html
        assert html.index(edition.preheader.split()[0]) < html.index("Read on the web")
        # The footer: sender, postal address and the subscriber's own links.
        assert issue.newsletter.sender_name in html and "1 Example Street" in html
        assert "1 Example Street" in text
        assert "https://news.example/p/7" in html and "https://news.example/u/7" in text
        assert "{{nr-" not in html + text
        # Short lines let the HTML go out as 8-bit rather than quoted-printable.
        assert max(len(line.encode()) for line in html.splitlines()) <= 998


def test_a_ten_story_digest_stays_under_gmails_clip(demo):
    stories = [
        approved_story(
            headline=f"{story.headline} ({n})",
            dek=story.dek,
            body=story.body,
            tldr=story.tldr,
            why_it_matters=story.why_it_matters,
            key_points=story.key_points,
        )
        # The worst case: ten copies of the longest story (the 12-paragraph analysis).
        for n, story in enumerate(
            (Story.objects.published().order_by(Length("body").desc()).first(),) * 10, start=1
        )
    ]
    issue = published_issue(stories=stories, newsletter=Newsletter.objects.default())
    issue = Issue.objects.select_related("newsletter").get(pk=issue.pk)
    html, _ = personalised(issue, render_edition(issue))
    size = len(html.encode())
    print(f"10-story digest HTML: {size} bytes ({size / 1024:.1f} KB)")
    assert Tags(html).counts["h2"] == 10
    assert size < GMAIL_CLIP_BYTES


def test_headers_and_a_deterministic_message_id(demo):
    issue = four_pieces()[0]
    subscriber = SubscriberFactory()
    edition = render_edition(issue)
    links = subscriber_links(subscriber, issue)
    message = edition_message(issue, edition, links).message()
    again = edition_message(issue, edition, subscriber_links(subscriber, issue)).message()
    domain = urlsplit(settings.SITE_URL).hostname
    assert (
        message["Message-ID"]
        == again["Message-ID"]
        == f"<issue-{issue.pk}.{subscriber.pk}@{domain}>"
    )
    assert message["Message-ID"] == message_id(issue, subscriber.pk)
    assert message["From"] == issue.newsletter.from_address
    assert message["Reply-To"]
    assert message["List-Id"].endswith(f"<{issue.newsletter.slug}.{domain}>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click, mailto = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
    assert one_click == links.one_click_url and one_click.startswith(settings.SITE_URL)
    assert one_click.endswith("/one-click/")
    assert mailto == (
        f"mailto:{issue.newsletter.reply_to or issue.newsletter.sender_email}"
        f"?subject=unsubscribe%20{links.unsubscribe_token}"
    )
    assert one_click == settings.SITE_URL + reverse(
        "newsletters:one_click", args=[links.unsubscribe_token]
    )
    html = message.get_payload()[1].get_payload(decode=True).decode()
    assert links.preferences_url.replace("&", "&amp;") in html
    assert links.unsubscribe_url in html


def test_one_copy_goes_through_a_real_smtp_server(demo, smtp_server):
    issue = next(i for i in four_pieces() if i.items.filter(story__lead_image__gt="").exists())
    subscriber = SubscriberFactory(email="reader@example.org")
    edition = render_edition(issue)
    links = subscriber_links(subscriber, issue)
    with get_connection() as connection:
        assert edition_message(issue, edition, links, connection=connection).send() == 1
    (caught,) = smtp_server.wait_for(1)
    message = caught.message
    assert message["To"] == "reader@example.org"
    assert message["Message-ID"] == message_id(issue, subscriber.pk)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert issue.headline in html and issue.headline.upper() in text
    assert links.unsubscribe_url in text and "Credit:" in html


def test_the_issue_is_rendered_in_four_queries_whatever_its_length(demo, django_assert_num_queries):
    for issue in four_pieces():
        # The public items with their stories, the stories' authors, their
        # citations with sources, and their guest bylines with contributors.
        with django_assert_num_queries(4):
            render_edition(issue)


def test_each_copy_is_built_from_the_one_rendering_without_queries(demo, monkeypatch):
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    issue = max(four_pieces(), key=lambda i: i.items.count())
    edition = render_edition(issue)

    def no_second_render(*args, **kwargs):
        raise AssertionError("a copy rendered a template")

    monkeypatch.setattr("newsletters.mail.edition.render_to_string", no_second_render)
    subscribers = SubscriberFactory.create_batch(3)
    links = [subscriber_links(s, issue) for s in subscribers]
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        copies = [edition_message(issue, edition, links[n % 3]).message() for n in range(600)]
    seconds = time.perf_counter() - started
    print(f"600 copies built in {seconds:.2f} s ({600 / seconds:.0f}/s)")
    assert len(queries) == 0
    bodies = {c.get_payload()[1].get_payload() for c in copies[:3]}
    assert len(bodies) == 3
