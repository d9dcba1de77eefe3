"""Nothing unpublished leaks: an anonymous crawler follows every link, feed,
sitemap entry and search result from the home page, asks for every
unpublished story's and issue's address directly, and fails if any of their
marker words shows up in a response or an address, before and after a
withdrawal that cached pages have to forget."""

import contextlib
import html
import json
import re
import uuid
from collections import Counter, deque
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import quote, quote_plus, urljoin, urlsplit

import pytest
from django.conf import settings
from django.urls import Resolver404, resolve
from django.utils import timezone

from stories.discovery import sitemaps
from stories.discovery import views as discovery_views
from stories.editorial import workflow
from stories.models import Issue, IssueItem, PreviewLink, Story
from stories.reader import listing
from stories.reader.preview import create_share_link
from tests.factories import (
    CitationFactory,
    CorrectionFactory,
    IssueFactory,
    SourceFactory,
    StoryFactory,
    TopicFactory,
    approved_story,
    published_issue,
    user_in,
)

pytestmark = pytest.mark.django_db

MAX_PAGES = 600
# Every unpublished item carries this word and one of its own; searching
# either still leaves the other to catch a leaked result.
SHARED_MARKER = "klaxonvex"
# Pages that are not the public site, or only point into it for staff.
SKIPPED_PREFIXES = ("/admin/", "/static/", "/media/")
# Views the crawl must have reached, so it cannot pass by crawling nothing.
EXPECTED_VIEWS = {
    "stories:home",
    "stories:issue",
    "stories:story",
    "stories:topics",
    "stories:topic",
    "stories:sources",
    "stories:source",
    "stories:author",
    "discovery:archive",
    "discovery:search",
    "discovery:issues_rss",
    "discovery:issues_atom",
    "discovery:issues_json",
    "discovery:topic_rss",
    "discovery:topic_atom",
    "discovery:sitemap",
    "discovery:sitemap_section",
    "discovery:robots",
}
_ABSOLUTE_URL = re.compile(r"https?://[^\s<>\"'\\]+")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("a", "link") and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        elif tag == "form" and attrs.get("action"):
            self.hrefs.append(attrs["action"])


def links_in(url: str, response) -> list[str]:
    """Every address a response points to: hrefs in HTML, URLs in XML,
    JSON and text (feeds, sitemaps, robots.txt)."""
    text = response.content.decode()
    found = []
    if response["Content-Type"].startswith("text/html"):
        parser = _Links()
        parser.feed(text)
        found += parser.hrefs
    found += _ABSOLUTE_URL.findall(text)
    if "json" in response["Content-Type"]:
        found += _strings_in(json.loads(text))
    return [urljoin(url, html.unescape(link)) for link in found]


def _strings_in(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)
    elif isinstance(value, str) and value.startswith(("http://", "https://", "/")):
        yield value


def same_site(link: str) -> str | None:
    """The path and query of a link on this site, or None for elsewhere."""
    parts = urlsplit(link)
    if parts.scheme not in ("", "http", "https"):
        return None
    if parts.netloc not in ("", "testserver", urlsplit(settings.SITE_URL).netloc):
        return None
    if not parts.path.startswith("/") or parts.path.startswith(SKIPPED_PREFIXES):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def scrubbed(text: str, query: str | None) -> str:
    """text without the search words a search page repeats back to the reader."""
    if not query:
        return text
    for form in {query, html.escape(query), quote_plus(query), quote(query)}:
        text = text.replace(form, " ")
    return text


class Crawler:
    """A breadth-first anonymous reader that records what it saw."""

    def __init__(self, client, markers: set[str], max_pages: int = MAX_PAGES):
        self.client = client
        self.markers = {m.lower() for m in markers}
        self.max_pages = max_pages
        self.visited: dict[str, int] = {}
        self.views: Counter = Counter()
        self.leaks: list[str] = []
        self.published_slugs = set(Story.objects.published().values_list("slug", flat=True))

    def crawl(self, seeds) -> "Crawler":
        queue = deque(seeds)
        # The addresses we typed in hold markers on purpose; only addresses
        # the site itself hands out are checked.
        self.seeds = set(seeds)
        while queue:
            path = queue.popleft()
            if path in self.visited:
                continue
            assert len(self.visited) < self.max_pages, "the crawl did not finish within its bound"
            queue.extend(self.visit(path))
        return self

    def visit(self, path: str) -> list[str]:
        response = self.client.get(path)
        self.visited[path] = response.status_code
        assert response.status_code < 500, f"{path} answered {response.status_code}"
        query = self._search_words(path)
        if path not in self.seeds:
            self._check(path, path, "its address")
        if response.status_code in (301, 302):
            location = response["Location"]
            self._check(path, location, "a redirect")
            target = same_site(urljoin(path, location))
            return [target] if target else []
        self._check(path, scrubbed(response.content.decode(), query), "the response")
        if response.status_code != 200:
            return []
        with contextlib.suppress(Resolver404):  # pages outside the URLconf (none so far)
            self.views[resolve(urlsplit(path).path).view_name] += 1
        if query is not None:
            self._check_results(path, response)
        return [p for p in map(same_site, links_in(path, response)) if p]

    @staticmethod
    def _search_words(path: str) -> str | None:
        parts = urlsplit(path)
        if parts.path != "/search/":
            return None
        from django.http import QueryDict

        return QueryDict(parts.query).get("q")

    def _check(self, path: str, text: str, where: str) -> None:
        lowered = text.lower()
        for marker in self.markers:
            if marker in lowered:
                self.leaks.append(f"{marker!r} in {where} of {path}")

    def _check_results(self, path: str, response) -> None:
        if response.context is None:
            # From the page cache: rendered, and checked, under another
            # address of the same page (?page=1 is the first page).
            return
        for story in response.context["results"]:
            if story.slug not in self.published_slugs:
                self.leaks.append(f"unpublished story {story.slug!r} in the results of {path}")

    def pages_with(self, text: str) -> list[str]:
        return [p for p in self.visited if text in p]


def searches_for(*texts: str) -> list[str]:
    """A search for each word of each text, and for each text whole."""
    words = {word for text in texts for word in text.split()}
    return [f"/search/?{'q=' + quote_plus(q)}" for q in sorted(words | set(texts))]


def start_points() -> list[str]:
    return ["/", "/robots.txt", "/sitemap.xml", "/issues/", "/search/"]


@pytest.fixture
def small_pages(monkeypatch):
    """Page sizes small enough that a handful of items needs several pages,
    so the crawl walks pagination on every kind of listing."""
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    monkeypatch.setattr(discovery_views, "ISSUES_PER_PAGE", 2)
    monkeypatch.setattr(discovery_views, "RESULTS_PER_PAGE", 2)
    monkeypatch.setattr(sitemaps.SiteSitemap, "limit", 3)


def public_newsroom() -> list[Issue]:
    """Four live issues of two stories each on shared topics and sources,
    with "exclusive" in every headline so a search for it has results."""
    topic, source = TopicFactory(name="Open models"), SourceFactory(name="Public Wire")
    issues = []
    for n in range(4):
        stories = [approved_story(headline=f"Public exclusive {n}-{i}") for i in range(2)]
        for story in stories:
            story.topics.add(topic)
            CitationFactory(story=story, source=source)
        issues.append(published_issue(stories=stories, headline=f"Public issue {n}"))
    return issues


def hidden_story(marker: str, **kwargs) -> Story:
    """A story whose every reader-visible text carries marker, with a topic,
    a source and a correction of its own."""
    story = StoryFactory(
        headline=f"{marker.title()} {SHARED_MARKER.title()} exclusive",
        dek=f"The {marker} dek",
        body=f"The {marker} body, {SHARED_MARKER} only.",
        tldr=f"{marker} in short",
        why_it_matters=f"{marker} matters",
        key_points=f"- **{marker}:** a point",
        lead_image_caption=f"{marker} caption",
        **kwargs,
    )
    story.topics.add(TopicFactory(name=f"{marker} topic"))
    CitationFactory(
        story=story, source=SourceFactory(name=f"{marker} source"), title=f"{marker} report"
    )
    CorrectionFactory(story=story, text=f"{marker} correction")
    return story


def hidden_issue(marker: str, stories, number: int) -> Issue:
    issue = IssueFactory(
        number=number,
        headline=f"{marker.title()} {SHARED_MARKER.title()} issue",
        intro=f"{marker} intro",
        closing_tldr=f"{marker} closing",
    )
    for position, story in enumerate(stories, start=1):
        IssueItem.objects.create(issue=issue, story=story, position=position)
    return issue


def unpublished_newsroom(live_issue: Issue) -> dict:
    """One item in every state readers must never see, each with its own marker."""
    editor = user_in("Editors", username="leak-editor")
    publisher = user_in("Publishers", username="leak-publisher")
    secret_writer = user_in("Writers", username="zqwritermark", first_name="Zqbylinemark")
    draft = hidden_story("zqdraftmark", created_by=secret_writer)
    in_review = hidden_story("zqreviewmark")
    workflow.submit_for_review(in_review.created_by, in_review)
    sent_back = hidden_story("zqchangesmark")
    workflow.submit_for_review(sent_back.created_by, sent_back)
    workflow.request_changes(editor, sent_back, "Check the numbers.")

    def approved(marker):
        story = hidden_story(marker)
        workflow.submit_for_review(story.created_by, story)
        return workflow.approve(editor, story)

    in_draft_issue = approved("zqapprovedmark")
    draft_issue = hidden_issue("zqdraftissuemark", [in_draft_issue], number=901)
    scheduled_issue = hidden_issue("zqscheduledmark", [approved("zqduesoonmark")], number=902)
    workflow.schedule_issue(publisher, scheduled_issue, timezone.now() + timedelta(hours=2))
    pulled_story = approved("zqpulledmark")
    IssueItem.objects.create(issue=live_issue, story=pulled_story, position=99)
    workflow.withdraw_story(editor, pulled_story, "The figures did not hold up.")
    withdrawn_issue = hidden_issue("zqwithdrawnmark", [approved("zqinpulledmark")], number=903)
    workflow.publish_issue_now(publisher, withdrawn_issue)
    workflow.withdraw_issue(publisher, withdrawn_issue, "Sent by mistake.")
    stories = [draft, in_review, sent_back, in_draft_issue, pulled_story]
    for issue in (scheduled_issue, withdrawn_issue):
        stories += [item.story for item in issue.items.all()]
    return {
        "stories": stories,
        "issues": [draft_issue, scheduled_issue, withdrawn_issue],
        "authors": [secret_writer],
    }


def markers_of(hidden: dict) -> set[str]:
    words = {SHARED_MARKER, "zqwritermark", "zqbylinemark"}
    for obj in hidden["stories"] + hidden["issues"]:
        words.add(obj.headline.split()[0].lower())
    return words


def direct_addresses(hidden: dict) -> list[str]:
    """Every address an unpublished item would have if it were public."""
    paths = [f"/p/{uuid.uuid4()}/"]
    for story in hidden["stories"]:
        paths.append(story.get_absolute_url())
        for topic in story.topics.all():
            paths += [topic.get_absolute_url(), f"/feeds/topics/{topic.slug}.rss"]
            paths.append(f"/feeds/topics/{topic.slug}.atom")
        paths += [source.get_absolute_url() for source in story.sources.all()]
    for issue in hidden["issues"]:
        paths += [issue.get_absolute_url(), f"{issue.get_absolute_url()}{issue.slug}/"]
    paths += [f"/authors/{user.username}/" for user in hidden["authors"]]
    # A share link that was revoked leads nowhere.
    revoked = PreviewLink.objects.create(
        story=hidden["stories"][0],
        expires_at=timezone.now() + timedelta(days=1),
        revoked_at=timezone.now(),
    )
    paths.append(f"/p/{revoked.token}/")
    return paths


def test_no_unpublished_story_or_issue_reaches_an_anonymous_crawler(client, small_pages):
    live = public_newsroom()
    hidden = unpublished_newsroom(live[0])
    texts = [obj.headline for obj in hidden["stories"] + hidden["issues"]]
    direct = direct_addresses(hidden)

    crawler = Crawler(client, markers_of(hidden)).crawl(
        start_points() + searches_for(*texts) + direct
    )

    assert crawler.leaks == [], "\n".join(crawler.leaks)
    assert set(crawler.views) >= EXPECTED_VIEWS, EXPECTED_VIEWS - set(crawler.views)
    for path in direct:
        assert crawler.visited[path] in (301, 404), path
    # Pagination of every kind was walked: listings, the archive's cursor,
    # search results and sitemap sections.
    assert crawler.pages_with("?before=")
    assert crawler.pages_with("after=")
    assert [p for p in crawler.pages_with("page=2") if p.startswith("/search/")]
    assert crawler.pages_with("?p=2")
    assert crawler.views["stories:story"] >= 8
    assert len(crawler.visited) > 80


@pytest.mark.page_cache
def test_a_withdrawal_reaches_every_cached_page_feed_sitemap_and_search(
    client, small_pages, django_capture_on_commit_callbacks, django_assert_num_queries
):
    live = public_newsroom()
    editor = user_in("Editors", username="cache-editor")
    publisher = user_in("Publishers", username="cache-publisher")
    doomed_story = hidden_story("zqdoomedmark")
    doomed_story.topics.add(TopicFactory(name="Open models"))
    workflow.submit_for_review(doomed_story.created_by, doomed_story)
    workflow.approve(editor, doomed_story)
    IssueItem.objects.create(issue=live[-1], story=doomed_story, position=99)
    # Added behind the workflow's back (a live issue is locked), so given the
    # listing date the workflow gives a story when its issue goes live.
    Story.objects.filter(pk=doomed_story.pk).refresh_listed_at()
    doomed_issue_story = approved_story(headline="Zqdoomedissuemark lead story")
    doomed_issue = hidden_issue("zqdoomedissuemark", [doomed_issue_story], number=950)
    workflow.publish_issue_now(publisher, doomed_issue)
    hidden = {"stories": [doomed_story, doomed_issue_story], "issues": [doomed_issue]}
    markers = {"zqdoomedmark", "zqdoomedissuemark"}
    # Share links handed out before the withdrawal lead to the public pages
    # meanwhile, and afterwards nowhere.
    shared = [
        f"/p/{create_share_link(editor, obj).token}/"
        for obj in hidden["stories"] + hidden["issues"]
    ]
    seeds = (
        start_points()
        + searches_for(*[obj.headline for obj in hidden["stories"] + hidden["issues"]])
        + [obj.get_absolute_url() for obj in hidden["stories"] + hidden["issues"]]
        + shared
    )

    # While they are live, the same crawl finds them everywhere, and leaves
    # every page it read in the server-side cache.
    before = Crawler(client, markers).crawl(seeds)
    seen_on = {leak.rsplit(" of ", 1)[1].split("?")[0] for leak in before.leaks}
    assert {"/", "/sitemap-stories.xml", "/feeds/issues.rss", "/feeds/issues.json"} <= seen_on
    assert {"/search/", doomed_story.get_absolute_url(), "/topics/open-models/"} <= seen_on
    with django_assert_num_queries(0):  # the home page now comes from the cache alone
        assert client.get("/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        workflow.withdraw_story(editor, doomed_story, "The figures did not hold up.")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.withdraw_issue(publisher, doomed_issue, "Sent by mistake.")

    after = Crawler(client, markers).crawl(seeds)
    assert after.leaks == []
    assert set(after.views) >= EXPECTED_VIEWS - {"stories:author"}
    for obj in hidden["stories"] + hidden["issues"]:
        assert after.visited[obj.get_absolute_url()] == 404
    assert [before.visited[link] for link in shared] == [302, 302, 302]
    assert [after.visited[link] for link in shared] == [404, 404, 404]


@pytest.mark.parametrize("page_cache", [False, True], ids=["uncached", "cached"])
def test_an_anonymous_crawl_of_the_whole_site_writes_nothing(
    client, small_pages, settings, page_cache
):
    """Every page, feed, sitemap and search a reader can reach, first visit
    and again: only SELECTs, and none that locks a row. So public pages can
    be served from a read replica (newsroom/replica.py)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.NEWSROOM_PAGE_CACHE = page_cache
    live = public_newsroom()
    seeds = start_points() + searches_for(live[0].headline)
    with CaptureQueriesContext(connection) as queries:
        first = Crawler(client, set()).crawl(seeds)
        Crawler(client, set()).crawl(seeds)  # again: from the cache when it is on
    assert set(first.views) >= EXPECTED_VIEWS
    statements = [query["sql"] for query in queries.captured_queries]
    writes = [sql for sql in statements if not sql.lstrip().upper().startswith("SELECT")]
    assert writes == [], writes[:5]
    assert not [sql for sql in statements if "FOR UPDATE" in sql.upper()]
