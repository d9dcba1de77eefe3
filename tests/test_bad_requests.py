"""Whatever a reader, a bot or an attacker puts in an address, the public
site answers with a page, a redirect or a 4xx, never a server error.

Property-based (hypothesis) over every public URL pattern and query
parameter: page numbers, archive cursors, search and archive filters,
search strings with odd Unicode and query syntax, slugs and numbers in
paths. The test client re-raises any exception a view lets escape, so a
500 fails with the example that caused it.
"""

from urllib.parse import quote, quote_from_bytes

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import CitationFactory, TopicFactory, approved_story, published_issue

pytestmark = pytest.mark.django_db

# Bounded so the module stays well under a minute; the examples differ on
# every run, so CI keeps looking further over time.
bounded = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BODY_TYPES = (
    "text/html",
    "text/plain",  # robots.txt
    "application/xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
)

ODD_TEXT = [
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate typed as text: sent as its UTF-8-ish bytes below
    "\u202e\u202dreversed\u200f",
    "\U0001f916\U0001f9e0 emoji",
    "e\u0301\u0301\u0301 combining",
    "\ufeff\u200b\u2028\u2029",
    "x" * 10_000,
    "deep seek " * 1_000,
    '" * ( ) : & | !',
    "'; DROP TABLE stories_story; --",
    "a & !b | (c <-> d)",
    "foo:* & bar:*",
    "NEAR(a b) OR c AND NOT d",
    "col:value ^start",
    '"unclosed phrase',
    "***",
    '""',
    "-",
    "%",
    "%00",
    "\\",
    "<script>alert(1)</script>",
]
odd_text = st.one_of(
    st.sampled_from(ODD_TEXT),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
)
# Raw bytes, percent-encoded as they are: invalid UTF-8, encoded surrogates, NULs.
odd_bytes = st.one_of(
    st.binary(max_size=40), st.sampled_from([b"\xed\xa0\x80", b"\xff\xfe", b"\xc0\xaf", b"\x00"])
)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, 2, 25, 26, 2**31, 2**63, 10**100]),
).map(str)
page_values = st.one_of(
    numbers,
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " 2", "2 ", "1e3", "NaN", "-0", "0x10", "\u0663", "1_000", "½"]),
    odd_text,
)
cursor_values = st.one_of(
    st.tuples(numbers, numbers).map(".".join),
    st.tuples(numbers, numbers, numbers).map(".".join),
    st.sampled_from(["", ".", "1.", ".1", "1..2", "nan.1", "1.2e3", "-1.-1"]),
    odd_text,
)
date_values = st.one_of(
    st.dates().map(str),
    st.sampled_from(["0001-01-01", "9999-12-31", "2025-02-30", "2025-13-01", "0000-00-00"]),
    st.sampled_from(["01/02/2025", "yesterday", "-2025-01-01", "99999-01-01"]),
    odd_text,
)
path_parts = st.one_of(
    numbers,
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=60),
    st.text(min_size=1, max_size=30).map(lambda s: quote(s, safe="")),
    odd_bytes.filter(bool).map(lambda b: quote_from_bytes(b, safe="")),
    st.sampled_from(["..", "%2e%2e", "%2F", "x" * 300, "00000000-0000-0000-0000-000000000000"]),
    st.uuids().map(str),
)


def encode(value) -> str:
    if isinstance(value, bytes):
        return quote_from_bytes(value, safe="")
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def query(params) -> str:
    return "&".join(f"{encode(name)}={encode(value)}" for name, value in params)


def assert_answered(client, path: str, params=()):
    """A 2xx, 3xx or 4xx with a body of a type a browser or reader expects."""
    address = path + ("?" + query(params) if params else "")
    response = client.get(address)
    assert response.status_code < 500, address
    if 300 <= response.status_code < 400:
        assert response["Location"], address
        return response
    content_type = response["Content-Type"].split(";")[0]
    assert content_type in BODY_TYPES, (address, content_type)
    assert response.content, address
    return response


@pytest.fixture
def newsroom(db):
    """A little published content, so valid filter values also occur."""
    topic = TopicFactory(name="Open weights")
    stories = [approved_story(headline=f"Distillation claims {n}") for n in range(3)]
    for story in stories:
        story.topics.add(topic)
    CitationFactory(story=stories[0])
    issue = published_issue(stories=stories)
    story = stories[0]
    return {
        "topic": [topic.slug],
        "source": [story.sources.first().slug],
        "author": [str(story.created_by.pk)],
        "username": story.created_by.username,
        "story": story.slug,
        "issue": str(issue.number),
    }


def real_or_junk(newsroom, name):
    real = newsroom.get(name) or ["x"]
    return st.one_of(st.sampled_from(real), odd_text, odd_bytes, numbers)


# -- page numbers -------------------------------------------------------------


@bounded
@given(data=st.data(), page=page_values)
def test_listing_pages_answer_any_page_number(client, newsroom, data, page):
    path = data.draw(
        st.sampled_from(
            [
                f"/topics/{newsroom['topic'][0]}/",
                f"/sources/{newsroom['source'][0]}/",
                f"/authors/{newsroom['username']}/",
                "/search/?q=distillation",
                "/",
                "/topics/",
            ]
        )
    )
    base, _, existing = path.partition("?")
    params = [tuple(p.split("=")) for p in existing.split("&") if p] + [("page", page)]
    assert_answered(client, base, params)


@bounded
@given(section=st.sampled_from(["issues", "stories", "topics", "sources"]), page=page_values)
def test_sitemap_sections_answer_any_page_number(client, newsroom, section, page):
    assert_answered(client, f"/sitemap-{section}.xml", [("p", page)])


# -- search and the archive -----------------------------------------------------


@settings(bounded, max_examples=120)
@given(q=st.one_of(odd_text, odd_bytes), page=st.one_of(st.none(), page_values))
def test_search_answers_anything_typed(client, newsroom, q, page):
    params = [("q", q)] + ([("page", page)] if page is not None else [])
    assert_answered(client, "/search/", params)


@bounded
@given(data=st.data(), path=st.sampled_from(["/search/", "/issues/"]))
def test_search_and_archive_answer_any_filters(client, newsroom, data, path):
    names = ["topic", "source", "author", "date_after", "date_before", "sort", "page"]
    names += ["after", "before", "q", "date", "utm_source"]
    params = data.draw(
        st.lists(
            st.one_of(st.sampled_from(names), odd_text).flatmap(
                lambda name: st.tuples(
                    st.just(name),
                    date_values
                    if name.startswith("date")
                    else cursor_values
                    if name in ("after", "before")
                    else st.sampled_from(["relevance", "newest", "oldest"]) | odd_text
                    if name == "sort"
                    else real_or_junk(newsroom, name),
                )
            ),
            max_size=8,
        )
    )
    assert_answered(client, path, params)


@bounded
@given(direction=st.sampled_from(["after", "before"]), cursor=cursor_values, extra=st.booleans())
def test_archive_answers_any_cursor(client, newsroom, direction, cursor, extra):
    params = [(direction, cursor)] + ([("sort", "oldest")] if extra else [])
    assert_answered(client, "/issues/", params)


@pytest.mark.parametrize(
    ("zone", "param", "value"),
    [
        ("Asia/Tokyo", "date_after", "0001-01-01"),
        ("Pacific/Pago_Pago", "date_before", "9999-12-31"),
        ("UTC", "date_after", "1899-12-31"),
    ],
)
@pytest.mark.parametrize("path", ["/search/", "/issues/"])
def test_a_date_outside_the_span_is_ignored_with_a_notice_not_a_crash(
    client, newsroom, settings, zone, param, value, path
):
    # The newsroom's zone turns a date into a moment: the start of 0001-01-01
    # east of UTC and the end of 9999-12-31 west of it lie outside what a
    # datetime can hold in UTC, which the database driver needs; no date
    # outside the span the newsroom holds (stories/timebounds.py) is applied.
    settings.TIME_ZONE = zone
    response = assert_answered(client, path, [(param, value), ("q", "distillation")])
    assert response.status_code == 200
    assert (
        "filter was ignored: Pick a date between 1 January 1900 and 31 December 2999."
        in response.content.decode()
    )
    inside = assert_answered(client, path, [(param, "1900-01-02")]).content.decode()
    assert "was ignored" not in inside


# -- addresses ------------------------------------------------------------------

PATH_TEMPLATES = [
    "/stories/{}/",
    "/issues/{}/",
    "/issues/{}/{}/",
    "/newsletters/{}/",
    "/newsletters/{}/issues/{}/",
    "/newsletters/the-newsroom/issues/{}/{}/",
    "/subscriptions/confirm/{}/",
    "/subscriptions/unsubscribe/{}/",
    "/subscriptions/unsubscribe/{}/one-click/",
    "/subscriptions/preferences/{}/",
    "/topics/{}/",
    "/sources/{}/",
    "/authors/{}/",
    "/contributors/{}/",
    "/feeds/topics/{}.rss",
    "/feeds/topics/{}.atom",
    "/sitemap-{}.xml",
    "/p/{}/",
    "/preview/story/{}/",
    "/preview/issue/{}/",
    "/{}/",
    "/{}",
]


@settings(bounded, max_examples=150)
@given(template=st.sampled_from(PATH_TEMPLATES), parts=st.lists(path_parts, min_size=2, max_size=2))
def test_any_slug_or_number_in_an_address_is_answered(client, newsroom, template, parts):
    assert_answered(client, template.format(*parts))


def test_a_nul_in_an_author_address_is_not_found(client, newsroom):
    # PostgreSQL refuses NUL in a query parameter; it used to be a 500 there.
    assert client.get("/authors/%00/").status_code == 404
    assert client.get(f"/authors/{newsroom['username']}%00/").status_code == 404


# Fixed addresses with junk query parameters they do not read.
FIXED_PATHS = [
    "/",
    "/topics/",
    "/sources/",
    "/issues/",
    "/newsletters/",
    "/search/",
    "/feeds/issues.rss",
    "/feeds/issues.atom",
    "/feeds/issues.json",
    "/sitemap.xml",
    "/robots.txt",
]


@bounded
@given(
    path=st.sampled_from(FIXED_PATHS),
    params=st.lists(st.tuples(st.one_of(odd_text, odd_bytes), st.one_of(odd_text, odd_bytes))),
)
def test_fixed_addresses_ignore_unknown_parameters(client, newsroom, path, params):
    assert_answered(client, path, params)


def test_every_public_url_pattern_is_exercised_here(newsroom):
    """A public page added later must be added to the lists above."""

    def routes(resolver, prefix=""):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                # The admin has its own; the mail providers' webhooks (POST
                # only, shut without a secret) theirs in tests/test_webhooks.py.
                if str(entry.pattern) not in ("admin/", "anymail/"):
                    yield from routes(entry, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern)

    covered = {
        "": "/",
        "issues/<int:number>/": "/issues/{}/",
        "issues/<int:number>/<slug:slug>/": "/issues/{}/{}/",
        "newsletters/": "/newsletters/",
        "newsletters/<slug:newsletter>/": "/newsletters/{}/",
        "newsletters/<slug:newsletter>/issues/<int:number>/": "/newsletters/{}/issues/{}/",
        "newsletters/<slug:newsletter>/issues/<int:number>/<slug:slug>/": (
            "/newsletters/the-newsroom/issues/{}/{}/"
        ),
        # POST-only, with its own tests of hostile input (tests/test_signup.py).
        "subscriptions/signup/": None,
        "subscriptions/confirm/<str:token>/": "/subscriptions/confirm/{}/",
        "subscriptions/unsubscribe/<str:token>/": "/subscriptions/unsubscribe/{}/",
        "subscriptions/unsubscribe/<str:token>/one-click/": (
            "/subscriptions/unsubscribe/{}/one-click/"
        ),
        "subscriptions/preferences/<str:token>/": "/subscriptions/preferences/{}/",
        "stories/<slug:slug>/": "/stories/{}/",
        "topics/": "/topics/",
        "topics/<topicslug:slug>/": "/topics/{}/",
        "sources/": "/sources/",
        "sources/<slug:slug>/": "/sources/{}/",
        "authors/<str:username>/": "/authors/{}/",
        "contributors/<slug:slug>/": "/contributors/{}/",
        "^preview/(?P<kind>story|issue)/(?P<pk>[0-9]+)/$": "/preview/story/{}/",
        # POST-only and staff-only: creating a share link.
        "^preview/(?P<kind>story|issue)/(?P<pk>[0-9]+)/share/$": None,
        "p/<uuid:token>/": "/p/{}/",
        "search/": "/search/",
        "issues/": "/issues/",
        "feeds/issues.rss": "/feeds/issues.rss",
        "feeds/issues.atom": "/feeds/issues.atom",
        "feeds/issues.json": "/feeds/issues.json",
        "feeds/topics/<topicslug:slug>.rss": "/feeds/topics/{}.rss",
        "feeds/topics/<topicslug:slug>.atom": "/feeds/topics/{}.atom",
        "sitemap.xml": "/sitemap.xml",
        "sitemap-<slug:section>.xml": "/sitemap-{}.xml",
        "robots.txt": "/robots.txt",
    }
    assert set(routes(get_resolver())) == set(covered)
    exercised = set(PATH_TEMPLATES) | set(FIXED_PATHS)
    assert {path for path in covered.values() if path} <= exercised
