"""HTTP caching headers, conditional requests and the server-side page cache."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone

from stories.discovery import views as discovery_views
from stories.editorial import workflow
from stories.models import Correction, Issue, Source, Story, Topic
from stories.publishing import changes
from stories.publishing.cache import (
    PAGE_KEY_PREFIX,
    content_changed,
    content_generation,
    never_cache_privately,
    public_page,
    single,
)
from stories.reader import listing, views
from tests.factories import (
    IssueFactory,
    StoryFactory,
    TopicFactory,
    approved_story,
    issue_with_stories,
    published_issue,
    scheduled_issue,
    user_in,
)
from tests.story_admin import change_url, story_form_data

pytestmark = [pytest.mark.django_db, pytest.mark.page_cache]


@pytest.fixture
def story():
    return published_issue(2, headline="Cached issue").stories.first()


def test_anonymous_page_carries_cache_control_and_an_etag(client, story):
    response = client.get(story.get_absolute_url())
    assert response["Cache-Control"] == "public, max-age=0"
    assert response["ETag"].startswith('"') and len(response["ETag"]) > 10
    assert "Cookie" in response["Vary"]
    assert not response.cookies


def test_matching_etag_gets_304_without_a_body(client, story):
    first = client.get(story.get_absolute_url())
    again = client.get(story.get_absolute_url(), headers={"if-none-match": first["ETag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    stale = client.get(story.get_absolute_url(), headers={"if-none-match": '"something-else"'})
    assert stale.status_code == 200


def test_a_cached_page_is_served_without_any_query(client, story, django_assert_num_queries):
    url = story.get_absolute_url()
    first = client.get(url)
    with django_assert_num_queries(0):
        hit = client.get(url)
        conditional = client.get(url, headers={"if-none-match": first["ETag"]})
        tracked = client.get(url + "?utm_source=newsletter")
    assert hit.content == first.content
    assert conditional.status_code == 304
    assert tracked.content == first.content


def test_browser_max_age_never_outlives_the_next_scheduled_publication(
    client, story, settings, django_capture_on_commit_callbacks
):
    settings.NEWSROOM_BROWSER_CACHE_SECONDS = 3600
    longest = settings.NEWSROOM_PAGE_CACHE_SECONDS
    assert client.get("/")["Cache-Control"] == f"public, max-age={longest}"
    with django_capture_on_commit_callbacks(execute=True):
        scheduled_issue(1, in_minutes=2)
    # The scheduling bumped the content generation, so this is a fresh render.
    max_age = int(client.get("/")["Cache-Control"].rsplit("=", 1)[1])
    assert 0 < max_age <= 120


def test_a_scheduled_issue_appears_on_its_minute_despite_the_page_cache(client, story):
    upcoming = scheduled_issue(1, in_minutes=5, headline="Goes live on its minute")
    assert "Goes live on its minute" not in client.get("/").content.decode()
    with time_machine.travel(upcoming.publish_at + timedelta(seconds=1)):
        assert "Goes live on its minute" in client.get("/").content.decode()


def test_publishing_an_issue_invalidates_every_cached_page(
    client, story, django_capture_on_commit_callbacks
):
    pages = ["/", "/topics/", f"/authors/{story.created_by.username}/"]
    story.topics.add("Cache topic")
    before = {url: client.get(url).content.decode() for url in pages}
    new_story = approved_story(headline="Fresh off the press", created_by=story.created_by)
    new_story.topics.add("Cache topic")
    issue = IssueFactory(headline="The newest issue")
    issue.items.create(story=new_story, position=1)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.publish_issue_now(user_in("Publishers", username="pub"), issue)
    after = {url: client.get(url).content.decode() for url in pages}
    assert "The newest issue" in after["/"] and "The newest issue" not in before["/"]
    assert "2 stories" in after["/topics/"] and "1 story" in before["/topics/"]
    assert "Fresh off the press" in after[pages[2]]


def test_a_correction_added_in_the_admin_shows_on_the_story_at_once(
    client, admin_client, story, django_capture_on_commit_callbacks
):
    assert "Corrections" not in client.get(story.get_absolute_url()).content.decode()
    now = timezone.localtime()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:stories_correction_add"),
            {
                "story": story.pk,
                "text": "The budget was **$6 million**, not $6 billion.",
                "created_at_0": now.strftime("%Y-%m-%d"),
                "created_at_1": now.strftime("%H:%M:%S"),
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Correction.objects.filter(story=story).exists()
    html = client.get(story.get_absolute_url()).content.decode()
    assert "<strong>$6 million</strong>, not $6 billion." in html


def test_withdrawing_a_story_removes_it_from_cached_pages(
    client, story, django_capture_on_commit_callbacks
):
    issue_url = story.issues.get().get_absolute_url()
    assert story.headline in client.get(issue_url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.withdraw_story(user_in("Editors", username="ed"), story, "Wrong figures.")
    assert story.headline not in client.get(issue_url).content.decode()
    assert client.get(story.get_absolute_url()).status_code == 404


def test_logged_in_staff_are_never_served_or_stored_in_the_cache(
    client, story, django_assert_num_queries
):
    client.force_login(user_in("Editors", username="reader-editor"))
    response = client.get(story.get_absolute_url())
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert "ETag" not in response
    client.logout()
    # Nothing was stored by the staff visit: the anonymous request renders the
    # page afresh (the schedule horizon, then the story page's one query;
    # the story's fragments, rendered on the staff visit, are not a page).
    with django_assert_num_queries(2):
        client.get(story.get_absolute_url())


def test_error_pages_are_never_cached(client, django_assert_num_queries):
    client.get("/stories/missing/")
    with django_assert_num_queries(1):
        response = client.get("/stories/missing/")
    assert response.status_code == 404
    assert "public" not in response.get("Cache-Control", "")


def test_a_page_rendered_across_a_publication_minute_is_not_kept_past_it(
    client, story, monkeypatch
):
    """A request whose queries run just before an issue's minute and finishes
    just after must not cache the page without that issue for the full
    timeout: the horizon is the one read before rendering."""

    # Two minutes ahead: the minute is floored, so with one minute, a run in
    # the last second of a minute travelled back to before the story's own
    # issue went live, and the home page had no issue to show at all.
    upcoming = scheduled_issue(1, in_minutes=2, headline="Goes live mid-render")
    minute = upcoming.publish_at
    real_context = views.issue_page_context

    with time_machine.travel(minute - timedelta(seconds=1), tick=False) as clock:

        def context_that_finishes_after_the_minute(issue, **kwargs):
            context = real_context(issue, **kwargs)  # the issue query ran before the minute
            clock.move_to(minute + timedelta(seconds=1))
            return context

        monkeypatch.setattr(views, "issue_page_context", context_that_finishes_after_the_minute)
        stale = client.get("/")
        monkeypatch.setattr(views, "issue_page_context", real_context)
        assert "Goes live mid-render" not in stale.content.decode()
        assert "Goes live mid-render" in client.get("/").content.decode()


# -- edits made in the admin reach every cached page that shows them ----------


@pytest.fixture
def listed_story(story):
    """The published story with a topic, so it is on every kind of listing."""
    story.topics.add(TopicFactory(name="Training efficiency"))
    changes.story_changed(story)  # as the admin's save of the topic does
    return story


def pages_showing(story) -> list[str]:
    topic = story.topics.get()
    source = story.citations.get().source
    return [
        "/",
        story.issues.get().get_absolute_url(),
        story.get_absolute_url(),
        "/issues/",
        topic.get_absolute_url(),
        source.get_absolute_url(),
        f"/authors/{story.created_by.username}/",
        f"/search/?topic={topic.slug}",
        "/feeds/issues.rss",
        f"/feeds/topics/{topic.slug}.atom",
    ]


def cached_copies(client, urls, django_assert_num_queries) -> dict[str, str]:
    """Each page, fetched until it comes from the page cache."""
    copies = {url: client.get(url).content.decode() for url in urls}
    with django_assert_num_queries(0):  # all served from the cache now
        for url in urls:
            assert client.get(url).content.decode() == copies[url], url
    return copies


def test_editing_a_published_story_in_the_admin_refreshes_every_cached_page_showing_it(
    client,
    admin_client,
    listed_story,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    urls = pages_showing(listed_story)
    before = cached_copies(client, urls, django_assert_num_queries)
    assert all(listed_story.headline in html for html in before.values())
    form = story_form_data(admin_client, listed_story, headline="Zephyr headline after the edit")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(change_url(listed_story), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    for url in urls:
        html = client.get(url).content.decode()
        assert "Zephyr headline after the edit" in html, url
        assert listed_story.headline not in html, url
    assert "Zephyr headline" in client.get("/search/?q=zephyr").content.decode()


def test_renaming_a_topic_in_the_admin_refreshes_every_cached_page_naming_it(
    client,
    admin_client,
    listed_story,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    topic = listed_story.topics.get()
    urls = [listed_story.get_absolute_url(), "/topics/", topic.get_absolute_url(), "/search/"]
    urls += ["/issues/", f"/feeds/topics/{topic.slug}.rss", "/feeds/issues.json"]
    before = cached_copies(client, urls, django_assert_num_queries)
    assert all("Training efficiency" in html for html in before.values())
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:stories_topic_change", args=[topic.pk]),
            {"name": "Efficient training", "slug": topic.slug, "description": ""},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Topic.objects.get(pk=topic.pk).name == "Efficient training"
    for url in urls:
        html = client.get(url).content.decode()
        assert "Efficient training" in html and "Training efficiency" not in html, url


def test_renaming_a_source_in_the_admin_refreshes_every_cached_page_naming_it(
    client,
    admin_client,
    listed_story,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    source = listed_story.citations.get().source
    old_name = source.name
    urls = [
        listed_story.get_absolute_url(),
        listed_story.issues.get().get_absolute_url(),
        "/",
        "/sources/",
        source.get_absolute_url(),
        "/search/",
        "/issues/",
        "/feeds/issues.rss",
    ]
    before = cached_copies(client, urls, django_assert_num_queries)
    assert all(old_name in html for html in before.values())
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:stories_source_change", args=[source.pk]),
            {"name": "The Renamed Outlet", "slug": source.slug, "url": source.url},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Source.objects.get(pk=source.pk).name == "The Renamed Outlet"
    for url in urls:
        html = client.get(url).content.decode()
        assert "The Renamed Outlet" in html and old_name not in html, url


def test_a_correction_to_a_story_readers_cannot_see_is_refused_in_the_admin(admin_client):
    draft = approved_story(headline="Not out yet")
    now = timezone.localtime()
    response = admin_client.post(
        reverse("admin:stories_correction_add"),
        {
            "story": draft.pk,
            "text": "A note on nothing readers saw.",
            "created_at_0": now.strftime("%Y-%m-%d"),
            "created_at_1": now.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 200
    assert "Corrections are for stories readers can see" in response.content.decode()
    assert not Correction.objects.exists()


def test_the_correction_forms_story_picker_offers_only_stories_readers_can_see(admin_client, story):
    approved_story(headline="Cached but not out")
    response = admin_client.get(
        "/admin/autocomplete/",
        {"app_label": "stories", "model_name": "correction", "field_name": "story", "term": "C"},
    )
    offered = {r["text"] for r in response.json()["results"]}
    assert offered == {s.headline for s in Story.objects.published()}
    assert story.headline in offered and "Cached but not out" not in offered


# -- the key: only what a page reads, in one spelling --------------------------


def stored_pages() -> int:
    """Pages held in the (local-memory) test cache."""
    backend = caches["default"]
    assert isinstance(backend, LocMemCache)
    return sum(PAGE_KEY_PREFIX in key for key in backend._cache)


@pytest.fixture
def topics_newsroom(monkeypatch):
    """Two published stories, both on DeepSeek and Mistral; listings one story a page."""
    monkeypatch.setattr(listing, "PAGE_SIZE", 1)
    deepseek, mistral = TopicFactory(name="DeepSeek"), TopicFactory(name="Mistral")
    stories = [approved_story(headline=f"Open weights story {n}") for n in range(2)]
    for story in stories:
        story.topics.add(deepseek, mistral)
    published_issue(stories=stories, number=1)
    return {"deepseek": deepseek, "mistral": mistral}


def chips(response) -> list[str]:
    return re.findall(r'<span class="chip-label">([^<]*)</span>', response.content.decode())


def test_an_escaped_ampersand_in_a_value_is_not_a_second_parameter(client, topics_newsroom):
    odd = client.get("/search/?topic=deepseek%26topic%3Dmistral")
    assert "The topics filter was ignored" in odd.content.decode()
    both = client.get("/search/?topic=deepseek&topic=mistral")
    assert chips(both) == ["Topic: DeepSeek", "Topic: Mistral"]
    assert "ignored" not in both.content.decode()
    # And the other way round: the two-topic page does not answer the odd one.
    content_changed()
    assert chips(client.get("/search/?topic=deepseek&topic=mistral")) == [
        "Topic: DeepSeek",
        "Topic: Mistral",
    ]
    again = client.get("/search/?topic=deepseek%26topic%3Dmistral")
    assert "The topics filter was ignored" in again.content.decode()


def test_two_searches_that_differ_only_in_escaping_are_two_entries(client, topics_newsroom):
    one_text = client.get("/search/?q=deepseek%26q%3Dmistral")
    last_word = client.get("/search/?q=deepseek&q=mistral")  # the search box reads the last
    assert 'value="deepseek&amp;q=mistral"' in one_text.content.decode()
    assert 'value="mistral"' in last_word.content.decode()
    assert stored_pages() == 2


def test_unknown_parameters_make_no_new_entries_and_no_renders(
    client, topics_newsroom, django_assert_num_queries
):
    issue = Issue.objects.get(number=1).get_absolute_url()
    pages = ["/", issue, "/topics/deepseek/", "/search/?q=weights", "/feeds/issues.rss"]
    first = {url: client.get(url).content for url in pages}
    entries = stored_pages()
    junk = [f"junk{n}={n}" for n in range(300)] + ["utm_source=mail", "fbclid=x", "PAGE=2", "Q=x"]
    with django_assert_num_queries(0):  # no render: every answer comes from the cache
        for url in pages:
            glue = "&" if "?" in url else "?"
            for parameter in junk:
                assert client.get(url + glue + parameter).content == first[url], parameter
            assert client.get(url + glue + "&".join(junk)).content == first[url]
    assert stored_pages() == entries


def test_order_repeats_and_blanks_of_parameters_a_page_reads_share_one_entry(
    client, topics_newsroom, django_assert_num_queries
):
    client.get("/search/?sort=oldest&topic=deepseek&topic=mistral")
    client.get("/issues/?topic=deepseek&sort=oldest")
    client.get("/search/?q=open+weights")
    entries = stored_pages()
    same = [
        "/search/?topic=mistral&topic=deepseek&sort=oldest",
        "/search/?topic=deepseek&topic=mistral&topic=deepseek&sort=newest&sort=oldest",
        "/search/?q=&source=&author=&date_after=&date_before=&topic=mistral&topic=deepseek"
        "&sort=oldest",
        "/issues/?sort=oldest&topic=deepseek&topic=deepseek&after=&before=",
        "/search/?q=%20open%20%20%20weights%20",
    ]
    with django_assert_num_queries(0):
        for url in same:
            assert client.get(url).status_code == 200, url
    assert stored_pages() == entries


def test_a_listing_position_has_one_spelling_and_old_page_numbers_lead_to_the_first_page(
    client, topics_newsroom, django_assert_num_queries
):
    first = client.get("/topics/deepseek/")
    older = QueryDict(first.context["page"].older)["before"]
    second = client.get(f"/topics/deepseek/?before={older}")
    assert first.content != second.content
    with django_assert_num_queries(0):
        for url in ["", "?before=", "?after=", "?before=%20", "?page=1", "?page=0001"]:
            assert client.get("/topics/deepseek/" + url).content == first.content, url
        for url in [f"?before=%20{older}%20", f"?before=x&before={older}"]:
            assert client.get("/topics/deepseek/" + url).content == second.content, url
        for url in ["?page=2", "?page=0002", "?page=abc", "?page=2&before=x"]:
            response = client.get("/topics/deepseek/" + url)
            assert response.status_code == 301 and response.url == "/topics/deepseek/", url
    assert stored_pages() == 2


def test_an_address_spelled_differently_is_the_same_entry(
    client, topics_newsroom, django_assert_num_queries
):
    address = Issue.objects.get(number=1).get_absolute_url()
    page = client.get(address)
    story = client.get("/feeds/issues.atom")
    with django_assert_num_queries(0):
        assert client.get(address.replace("/issues/1/", "/issues/01/")).content == page.content
        assert client.get(address.replace("/issues/1/", "/issues/0000001/")).content == (
            page.content
        )
        # The host's case and port: pages take absolute addresses from SITE_URL.
        assert client.get(address, headers={"host": "LocalHost:8123"}).content == (page.content)
        assert client.get("/feeds/issues.atom", headers={"host": "127.0.0.1:9"}).content == (
            story.content
        )
    assert stored_pages() == 2


def test_pages_that_refuse_some_of_their_input_are_not_kept(
    client, topics_newsroom, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(discovery_views, "ISSUES_PER_PAGE", 1)
    published_issue(1, number=2)
    cursor = client.get("/issues/").context["next_cursor"]
    refused = {
        "/search/?q=weights&page=26": "Page numbers go from 1 to",
        "/search/?q=weights&page=abc": "Page numbers go from 1 to",
        "/search/?topic=nothing-like-it": "The topics filter was ignored",
        "/search/?sort=sideways": "The sort by filter was ignored",
        "/issues/?after=not-a-cursor": "That archive page address is not valid",
        # A real cursor padded with zeros names the same page by another address.
        f"/issues/?after=0{cursor}": "That archive page address is not valid",
    }
    entries = stored_pages()
    for url, notice in refused.items():
        response = client.get(url)
        assert response.status_code == 200 and notice in response.content.decode(), url
        assert "no-store" in response["Cache-Control"] and "ETag" not in response, url
    assert stored_pages() == entries
    listing = {
        "/topics/deepseek/?before=not-a-cursor": "That page address is not valid",
        "/topics/deepseek/?after=2025-13-01T00:00:00Z,1": "That page address is not valid",
    }
    for url, notice in listing.items():
        response = client.get(url)
        assert response.status_code == 200 and notice in response.content.decode(), url
        assert "no-store" in response["Cache-Control"] and "ETag" not in response, url
    for url in ["/topics/deepseek/?before=1901-01-01T00:00:00Z,1", "/sitemap-stories.xml?p=9"]:
        assert client.get(url).status_code == 404, url
    assert stored_pages() == entries
    assert "not valid" not in client.get(f"/issues/?after={cursor}").content.decode()
    assert stored_pages() == entries + 1


@pytest.mark.parametrize(
    "url",
    [
        "/search/?q=%00",
        "/search/?topic=%00&source=%00&author=%00&sort=%00&date_after=%00",
        "/search/?page=" + "9" * 5000,
        "/issues/?after=%00&before=" + "1" * 5000 + ".1",
        "/topics/deepseek/?page=%00",
        "/topics/deepseek/?page=" + "9" * 5000,
        "/topics/deepseek/?page=%D9%A3",  # an Arabic-Indic three: not one of our digits
        "/topics/deepseek/?before=%D9%A3",
        "/topics/deepseek/?before=9999-12-31T23:59:59.999999Z,999999999999999999",
        "/topics/deepseek/?after=0001-01-01T00:00:00Z,1",
        "/topics/deepseek/?before=2025-02-30T00:00:00Z,1",
        "/topics/deepseek/?before=" + "1" * 5000 + "Z,1",
        "/sitemap-stories.xml?p=-1",
        "/search/?q=" + "deepseek " * 2000,
    ],
)
def test_hostile_query_values_get_an_answer_not_an_error(client, topics_newsroom, url):
    # A NUL anywhere is refused with a sentence before any view (400).
    expected = (400,) if "%00" in url else (200, 301, 404)
    assert client.get(url).status_code in expected


def test_a_search_past_its_length_limit_shares_the_entry_of_what_is_searched(
    client, topics_newsroom, django_assert_num_queries
):
    words = " ".join(["deepseek"] * 40)  # far past the 200 characters a search reads
    client.get("/search/", {"q": words})
    with django_assert_num_queries(0):
        client.get("/search/", {"q": words + " mistral"})
    assert stored_pages() == 1


def test_every_field_of_every_public_form_is_a_parameter_its_page_reads(client, topics_newsroom):
    reads = {"/search/": discovery_views.SEARCH_QUERY, "/issues/": discovery_views.ARCHIVE_QUERY}
    forms = []
    for url in ["/", "/search/?q=weights", "/issues/"]:
        html = client.get(url).content.decode()
        # Forms that read with GET: a POST form (the newsletter signup) is
        # answered by a view no page cache stands in front of.
        forms += [
            (action, form)
            for tag, action, form in re.findall(
                r'(<form[^>]*\saction="([^"]+)"[^>]*>)(.*?)</form>', html, re.S
            )
            if 'method="post"' not in tag.lower()
        ]
    assert {action for action, _ in forms} == set(reads)
    for action, form in forms:
        names = set(re.findall(r'\sname="([^"]+)"', form))
        assert names and names <= set(reads[action]), names - set(reads[action])


def test_head_and_get_share_one_entry_with_one_etag(client, story, django_assert_num_queries):
    url = story.get_absolute_url()
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    with django_assert_num_queries(0):
        get = client.get(url)
        not_modified = client.head(url, headers={"if-none-match": get["ETag"]})
    assert story.headline in get.content.decode()
    assert get["ETag"] == head["ETag"] and not_modified.status_code == 304
    assert not_modified["ETag"] == get["ETag"]
    assert "Cookie" in get["Vary"] and "Cookie" in not_modified["Vary"]


def test_logged_in_staff_are_never_served_the_anonymous_copy(client, story):
    issue = story.issues.get()
    anonymous = client.get(issue.get_absolute_url())
    # A change that skipped the usual invalidation: the anonymous copy stays.
    Issue.objects.filter(pk=issue.pk).update(headline="Quietly retitled")
    assert client.get(issue.get_absolute_url()).content == anonymous.content
    client.force_login(user_in("Editors", username="cache-editor"))
    staff = client.get(issue.get_absolute_url() + "?utm_source=x")
    assert "Quietly retitled" in staff.content.decode()
    assert "private" in staff["Cache-Control"] and "ETag" not in staff


def test_a_page_that_varies_on_a_header_or_is_marked_private_is_never_kept(rf):
    renders = []

    def view(request):
        renders.append(request.GET.urlencode())
        response = HttpResponse("a page")
        if "vary" in request.path:
            response["Vary"] = "Accept-Language"
        if "private" in request.path:
            never_cache_privately(response)
        return response

    page = public_page(view, query={"q": single})
    for path in ["/vary/", "/private/", "/plain/"]:
        for _ in range(2):
            request = rf.get(path, {"q": " ai ", "junk": "1"})
            request.user = AnonymousUser()
            page(request)
    assert renders == ["q=ai"] * 5  # the plain page once, the others every time


# -- what clears the page cache -----------------------------------------------


def generation_after(action, django_capture_on_commit_callbacks) -> tuple[int, int]:
    """The content generation before and after action, its commit callbacks run."""
    before = content_generation()
    with django_capture_on_commit_callbacks(execute=True):
        action()
    return before, content_generation()


def test_saving_a_draft_in_the_admin_keeps_every_cached_page(
    client, story, django_capture_on_commit_callbacks
):
    writer = user_in("Writers", username="drafting-writer")
    draft = StoryFactory(headline="A draft", created_by=writer, authors=[writer])
    cached = client.get("/").content
    client.force_login(writer)
    form = story_form_data(client, draft, headline="A better draft")

    def save():
        assert client.post(change_url(draft), form).status_code == 302

    before, after = generation_after(save, django_capture_on_commit_callbacks)
    assert after == before
    client.logout()
    assert client.get("/").content == cached


def test_a_review_comment_keeps_every_cached_page(story, django_capture_on_commit_callbacks):
    draft = StoryFactory()
    workflow.submit_for_review(draft.created_by, draft)
    editor = user_in("Editors", username="commenting-editor")

    def comment():
        workflow.request_changes(editor, draft, "Cite the outlet, please.")

    before, after = generation_after(comment, django_capture_on_commit_callbacks)
    assert after == before


def test_withdrawing_a_published_story_clears_every_cached_page(
    story, django_capture_on_commit_callbacks
):
    editor = user_in("Editors", username="withdrawing-editor")

    def withdraw():
        workflow.withdraw_story(editor, story, "Wrong figures.")

    before, after = generation_after(withdraw, django_capture_on_commit_callbacks)
    assert after > before


def test_scheduling_an_issue_after_the_horizon_keeps_cached_pages(
    client, story, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        scheduled_issue(1, in_minutes=3)
    client.get("/")  # cached under the horizon: that issue's minute
    later = issue_with_stories(1)
    publisher = user_in("Publishers", username="later-publisher")

    def schedule():
        workflow.schedule_issue(publisher, later, timezone.now() + timedelta(minutes=30))

    before, after = generation_after(schedule, django_capture_on_commit_callbacks)
    assert after == before


def test_scheduling_an_issue_before_the_horizon_clears_cached_pages(
    client, story, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        scheduled_issue(1, in_minutes=4)
    client.get("/")
    sooner = issue_with_stories(1)
    publisher = user_in("Publishers", username="sooner-publisher")

    def schedule():
        workflow.schedule_issue(publisher, sooner, timezone.now() + timedelta(minutes=2))

    before, after = generation_after(schedule, django_capture_on_commit_callbacks)
    assert after > before


# -- the early answer ---------------------------------------------------------


@pytest.fixture
def full_stack_calls(monkeypatch):
    """How many requests reached the session and CSRF middleware."""
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.middleware.csrf import CsrfViewMiddleware

    calls = []
    for middleware in (SessionMiddleware, CsrfViewMiddleware):
        real = middleware.process_request

        def counted(self, request, real=real, name=middleware.__name__):
            calls.append(name)
            return real(self, request)

        monkeypatch.setattr(middleware, "process_request", counted)
    return calls


def test_a_cached_page_is_answered_before_sessions_and_csrf(client, story, full_stack_calls):
    url = story.get_absolute_url()
    first = client.get(url)
    assert full_stack_calls == ["SessionMiddleware", "CsrfViewMiddleware"]
    full_stack_calls.clear()
    again = client.get(url + "?utm_source=mail")
    conditional = client.get(url, headers={"if-none-match": first["ETag"]})
    assert full_stack_calls == []
    assert again.content == first.content
    assert conditional.status_code == 304


def test_the_early_answer_carries_the_headers_of_the_full_stack(client, story, full_stack_calls):
    url = story.get_absolute_url()
    client.get(url)
    early = client.get(url)
    # A session cookie (here one naming no session) takes the whole stack.
    client.cookies["sessionid"] = "no-such-session"
    full = client.get(url)
    assert full_stack_calls.count("SessionMiddleware") == 2
    assert early.content == full.content

    def headers(response):
        kept = {k.lower(): v for k, v in response.items() if k.lower() not in ("vary", "date")}
        vary = {v.strip().lower() for v in response.get("Vary", "").split(",")}
        return kept, vary

    assert headers(early) == headers(full)
    assert "cookie" in headers(early)[1]


def test_a_cache_hit_resolves_its_address_once_per_process(client, story, monkeypatch):
    from stories.publishing import cache as page_cache

    page_cache._cached_route.cache_clear()
    resolved = []
    real = page_cache.resolve

    def counted(path, urlconf=None):
        resolved.append(path)
        return real(path, urlconf)

    monkeypatch.setattr(page_cache, "resolve", counted)
    url = story.get_absolute_url()
    first = client.get(url)
    for _ in range(3):
        assert client.get(url).content == first.content
    assert resolved == [url]


def test_staff_are_never_given_the_early_answer(client, story, full_stack_calls):
    url = story.get_absolute_url()
    client.get(url)
    client.force_login(user_in("Editors", username="early-editor"))
    response = client.get(url)
    assert "SessionMiddleware" in full_stack_calls[2:]
    assert "no-store" in response["Cache-Control"]


def test_the_early_answer_still_refuses_a_foreign_host_and_a_nul(client, story):
    url = story.get_absolute_url()
    client.get(url)
    assert client.get(url, headers={"host": "evil.example"}).status_code == 400
    assert client.get(url + "?utm_source=%00").status_code == 400


# -- the links of a cached page ------------------------------------------------

JUNK = "x=%22%3E%3Cscript%3E"


def own_links(response) -> dict[str, str]:
    """The page's links to itself ("?..." hrefs), by rel or by chip label."""
    body = response.content.decode()
    links = dict(re.findall(r'<a rel="(prev|next)" href="(\?[^"]*)"', body))
    links.update(re.findall(r'<span class="chip-label">([^<]*)</span> <a href="(\?[^"]*)"', body))
    return links


def test_links_of_a_cached_page_carry_only_what_the_page_declares(
    client, monkeypatch, django_assert_num_queries
):
    # One result, issue and newsletter issue a page, so every page has a
    # previous and a next page; one reader's junk parameter must reach none
    # of their links, nor the copy the cache then gives everyone.
    monkeypatch.setattr(discovery_views, "RESULTS_PER_PAGE", 1)
    monkeypatch.setattr(discovery_views, "ISSUES_PER_PAGE", 1)
    monkeypatch.setattr(views, "NEWSLETTER_PAGE_SIZE", 1)
    topic = TopicFactory(name="DeepSeek")
    for number in range(1, 4):
        story = approved_story(headline=f"Open weights {number}")
        story.topics.add(topic)
        published_issue(stories=[story], number=number)
    middle = client.get("/issues/?topic=deepseek").context["next_cursor"]
    second = discovery_views._encode_cursor(Issue.objects.get(number=2))
    pages = {
        "/search/?q=weights&topic=deepseek&page=2": {
            "prev": "?q=weights&amp;topic=deepseek&amp;page=1",
            "next": "?q=weights&amp;topic=deepseek&amp;page=3",
            "Topic: DeepSeek": "?q=weights",
        },
        f"/issues/?topic=deepseek&after={middle}": {
            "prev": f"?topic=deepseek&amp;before={second}",
            "next": f"?topic=deepseek&amp;after={second}",
            "Topic: DeepSeek": "?",
        },
        "/newsletters/the-newsroom/?page=2": {"prev": "?", "next": "?page=3"},
    }
    for address, expected in pages.items():
        hostile = client.get(f"{address}&{JUNK}")
        links = own_links(hostile)
        assert links == expected, address
        assert "%3Cscript" not in hostile.content.decode()
        with django_assert_num_queries(0):  # the copy the hostile request left
            assert client.get(address).content == hostile.content
