"""The reader's pages, for each shape of content in CONTENT.md, and what they
must never show."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from stories.editorial import workflow
from stories.models import Issue, IssueItem, Story
from stories.publishing.cache import content_changed, page_cache_timeout
from tests.factories import (
    CorrectionFactory,
    IssueFactory,
    StoryFactory,
    approved_story,
    issue_with_stories,
    published_issue,
    scheduled_issue,
    user_in,
)
from tests.reader_helpers import DEMO_ISSUE_URLS, load_demo_newsroom

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path):
    load_demo_newsroom(settings, tmp_path)


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def section(html: str, css_class: str) -> str:
    """The inner HTML of the first element carrying css_class (no nesting of the same tag)."""
    match = re.search(
        rf'<(\w+)[^>]*class="[^"]*\b{css_class}\b[^"]*"[^>]*>(.*?)</\1>', html, re.DOTALL
    )
    assert match, f"no .{css_class} on the page"
    return match.group(2)


# -- each content shape ---------------------------------------------------------


def test_home_shows_the_radar_in_full_with_links_to_recent_issues(client, demo):
    html = page(client, "/")
    assert "The AI Crucible: open models, video risks and the money behind it all" in html
    assert "<strong>The Sequence Radar</strong>" in html  # the intro credits the digest
    # An essay: four sections, unnumbered, read as one piece.
    assert html.count('<section class="issue-section"') == 4
    assert 'class="story-number"' not in html
    assert "Open models keep closing the gap" in section(html, "closing-tldr")
    recent = section(html, "recent")
    for number in (3, 2, 1):
        assert f'href="{DEMO_ISSUE_URLS[number]}"' in recent
    assert DEMO_ISSUE_URLS[5] not in html  # scheduled for next week
    assert 'href="/issues/"' in recent


def test_radar_keeps_its_sections_under_the_story_headline(client, demo):
    html = page(client, "/newsletters/weekly-radar/issues/4/")
    # Markdown headings inside a story sit one level below the story's h2.
    assert "<h3>What&#x27;s changing</h3>" in html or "<h3>What's changing</h3>" in html
    assert "<h3>What it all means</h3>" in html
    assert html.index("Rails, Windows, and Shots") < html.index("What it all means")


def test_numbered_digest_keeps_its_numbers_order_and_three_point_lists(client, demo):
    html = page(client, "/newsletters/the-newsroom/issues/2/")
    headlines = re.findall(r'<h2 class="story-headline".*?<a href="[^"]+">([^<]+)</a>', html, re.S)
    assert headlines == [
        "The industry pivots to training efficiency",
        "OpenAI lets directors and artists red-team Sora",
        "Enterprises tighten AI governance",
        "Gemini 1.5 Pro arrives in Google Workspace",
        "Mistral releases Pixtral 12B",
    ]
    lists = re.findall(r'class="callout why-it-matters".*?<ul>(.*?)</ul>', html, re.S)
    assert len(lists) == 5
    assert all(item.count("<li>") == 3 for item in lists)
    assert "Efficiency is the new scale" in section(html, "closing-tldr")


def test_issue_page_links_to_the_previous_and_next_published_issues(client, demo):
    # Within its newsletter: the digest's #2 and #3 (#1 is another newsletter's).
    nav = section(page(client, DEMO_ISSUE_URLS[2]), "issue-nav")
    assert 'rel="prev"' not in nav
    assert f'rel="next" href="{DEMO_ISSUE_URLS[3]}"' in nav
    latest = section(page(client, DEMO_ISSUE_URLS[3]), "issue-nav")
    assert f'rel="prev" href="{DEMO_ISSUE_URLS[2]}"' in latest
    assert "/issues/5/" not in latest  # scheduled, not yet public


def test_issue_slug_is_optional_and_redirects_to_the_canonical_address(client, demo):
    response = client.get(DEMO_ISSUE_URLS[2] + "five-stories-from-the-week-after-r1/")
    assert response.status_code == 301
    assert response["Location"] == "/newsletters/the-newsroom/issues/2/"


def test_commentary_post_shows_image_with_credit_tldr_bold_key_points_and_take(client, demo):
    html = page(client, "/stories/ais-sputnik-moment/")
    assert "<h1>AI&#x27;s Sputnik Moment</h1>" in html
    assert '<p class="dek">DeepSeek shakes the US AI industry to its core</p>' in html
    figure = section(html, "lead-image")
    assert 'alt="An illustrated satellite with a whale emblem orbiting the Earth"' in figure
    assert "Credit: Grok | DeepSeek Satellite" in figure
    assert "A satellite moment for the AI race." in figure
    assert re.search(r'srcset="[^"]+480w, [^"]+960w, [^"]+1440w, [^"]+1600w"', figure)
    assert 'fetchpriority="high"' in figure  # the top image is not lazy
    assert "for a fraction of the usual cost" in section(html, "tldr")
    key_points = section(html, "key-points")
    for label in ("Founder:", "Releases:", "Cost:", "Market shock:"):
        assert f"<strong>{label}</strong>" in key_points
    assert "<strong>My take:</strong>" in section(html, "why-it-matters")
    assert html.index("TL;DR") < html.index("Key points") < html.index("Why it matters")


def test_lead_images_further_down_an_issue_are_lazy_loaded(client, demo):
    story = Story.objects.get(slug="ais-sputnik-moment")
    issue = published_issue(2, number=100)
    IssueItem.objects.create(issue=issue, story=story, position=3)
    html = page(client, issue.get_absolute_url())
    assert re.search(r'<img [^>]*loading="lazy"', html)


def test_images_in_markdown_load_lazily_on_story_issue_and_home_pages(client):
    chart = "![Training cost per model](https://example.com/chart.png)"
    story = approved_story(
        body=f"Costs fell.\n\n{chart}", tldr=chart, why_it_matters=f"- {chart}", key_points=chart
    )
    issue = published_issue(stories=[story], intro=f"This week:\n\n{chart}")
    lazy = '<img loading="lazy" decoding="async" src="https://example.com/chart.png"'
    story_html = page(client, story.get_absolute_url())
    assert story_html.count(lazy) == 4  # TL;DR, key points, body, why it matters
    for url in (issue.get_absolute_url(), "/"):
        html = page(client, url)
        assert html.count(lazy) == 5, url  # the same four and the intro's
        assert html.count("<img ") == 5, url


def test_sourced_analysis_shows_dek_attribution_and_every_paragraph(client, demo):
    html = page(client, "/stories/deepseek-sequel-china-open-source/")
    assert "Beijing sees open weights as a strategy" in section(html, "dek")
    assert section(html, "body").count("<p>") == 12
    attribution = section(html, "attribution")
    assert '<a href="/sources/the-new-york-times/">The New York Times</a>' in attribution
    assert 'href="https://www.nytimes.com/section/technology"' in attribution
    assert "(Reworked from their reporting)" in attribution


def test_story_page_has_bylines_date_topics_and_the_issue_it_appeared_in(client, demo):
    html = page(client, "/stories/industry-pivots-to-training-efficiency/")
    assert '<a href="/authors/writer/" rel="author">Wren Writer</a>' in section(html, "byline")
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', section(html, "byline"))
    topics = section(html, "topics")
    assert 'href="/topics/training-efficiency/"' in topics
    assert 'href="/topics/deepseek/"' in topics
    assert 'href="/newsletters/the-newsroom/issues/2/"' in section(html, "appeared-in")


def test_story_date_and_issues_count_only_issues_readers_can_see(client):
    story = approved_story()
    earlier = published_issue(stories=[story], as_of=timezone.now() - timezone.timedelta(days=9))
    later = published_issue(stories=[story], as_of=timezone.now() - timezone.timedelta(days=2))
    upcoming = scheduled_issue(stories=[story], in_minutes=90)
    html = page(client, story.get_absolute_url())
    byline = section(html, "byline")
    shown = timezone.localtime(earlier.publish_at).replace(microsecond=0).isoformat()
    assert f'datetime="{shown}"' in byline
    appeared = section(html, "appeared-in")
    assert appeared.index(f"issue #{earlier.number}") < appeared.index(f"issue #{later.number}")
    assert f"issue #{upcoming.number}" not in appeared


def test_corrections_are_dated_and_newest_first(client, demo):
    story = Story.objects.get(slug="ais-sputnik-moment")
    CorrectionFactory(
        story=story, text="First fix.", created_at=timezone.now() - timezone.timedelta(days=3)
    )
    CorrectionFactory(story=story, text="Second fix.", created_at=timezone.now())
    html = page(client, story.get_absolute_url())
    corrections = section(html, "corrections")
    assert corrections.index("Second fix.") < corrections.index("First fix.")
    assert corrections.count("<time datetime=") == 2
    assert 'href="#corrections"' in section(html, "corrected-note")


def test_topics_page_counts_only_published_stories(client, demo):
    html = page(client, "/topics/")
    # Nvidia: the published commentary post; not the scheduled or in-review ones.
    assert re.search(r'href="/topics/nvidia/">Nvidia</a> <span class="count">1 story</span>', html)
    assert re.search(r'href="/topics/deepseek/">DeepSeek</a> <span class="count">4 stories', html)


def test_topic_page_lists_its_published_stories_newest_first(client, demo):
    html = page(client, "/topics/deepseek/")
    order = [
        html.index("DeepSeek V3.2 pushes open models further"),
        html.index("DeepSeek readies a sequel"),
        html.index("The industry pivots to training efficiency"),
        html.index("AI&#x27;s Sputnik Moment"),
    ]
    assert order == sorted(order)
    assert "Open-weight licences compared" not in page(client, "/topics/open-source-models/")


def test_sources_page_and_a_source_page_list_the_stories_citing_it(client, demo):
    html = page(client, "/sources/")
    assert re.search(r"The Sequence Radar</a> <span class=\"count\">6 stories", html)
    nyt = page(client, "/sources/the-new-york-times/")
    assert "DeepSeek readies a sequel, and China bets on open source" in nyt
    assert 'href="https://www.nytimes.com/"' in nyt
    market = page(client, "/sources/market-data/")
    assert "Does efficiency cut chip demand" not in market  # in the scheduled issue


def test_author_page_lists_only_published_stories(client, demo):
    html = page(client, "/authors/writer/")
    assert "Wren Writer" in html
    assert "AI&#x27;s Sputnik Moment" in html
    assert "Nvidia after the sell-off" not in html
    assert "Open-weight licences compared" not in html


def test_home_page_shows_the_empty_state_before_anything_is_published(client, db):
    html = page(client, "/")
    assert "No issue has been published yet." in html


# -- nothing unpublished leaks --------------------------------------------------


def _unpublished_stories():
    editor = user_in("Editors", username="gate-editor")
    draft = StoryFactory(headline="Leak draft")
    in_review = StoryFactory(headline="Leak in review")
    workflow.submit_for_review(in_review.created_by, in_review)
    changes = StoryFactory(headline="Leak changes requested")
    workflow.submit_for_review(changes.created_by, changes)
    workflow.request_changes(editor, changes, "Needs a second source.")
    approved_alone = approved_story(headline="Leak approved, in no issue")
    in_draft_issue = approved_story(headline="Leak in a draft issue")
    issue_with_stories(stories=[in_draft_issue], headline="Leak draft issue")
    in_scheduled = scheduled_issue(1, headline="Leak scheduled issue").stories.get()
    withdrawn = published_issue(1, headline="Issue with a pulled story").stories.get()
    workflow.withdraw_story(editor, withdrawn, "Wrong figures.")
    pulled_issue = published_issue(1, headline="Leak withdrawn issue")
    workflow.withdraw_issue(user_in("Publishers", username="gate-pub"), pulled_issue, "Oops.")
    return {
        "draft": draft,
        "in review": in_review,
        "changes requested": changes,
        "approved, in no issue": approved_alone,
        "in a draft issue": in_draft_issue,
        "in a scheduled issue": in_scheduled,
        "withdrawn": withdrawn,
        "in a withdrawn issue": pulled_issue.stories.get(),
    }


def test_every_unpublished_story_is_the_same_plain_404_as_a_missing_one(client):
    missing = client.get("/stories/no-such-story/")
    assert missing.status_code == 404
    for state, story in _unpublished_stories().items():
        response = client.get(f"/stories/{story.slug}/")
        assert response.status_code == 404, state
        assert response.content == missing.content, state
        assert story.headline not in response.content.decode()


def test_draft_scheduled_and_withdrawn_issues_are_plain_404s(client):
    missing = client.get("/newsletters/the-newsroom/issues/999/")
    draft = IssueFactory(headline="Leak draft issue")
    scheduled = scheduled_issue(1)
    withdrawn = published_issue(1)
    workflow.withdraw_issue(user_in("Publishers", username="p"), withdrawn, "Pulled.")
    for issue in (draft, scheduled, withdrawn):
        response = client.get(issue.get_absolute_url())
        assert response.status_code == 404
        assert response.content == missing.content
    slugged = client.get(f"{draft.get_absolute_url()}any-slug/")
    assert slugged["Location"] == draft.get_absolute_url()


def test_topics_sources_and_authors_of_unpublished_stories_do_not_exist(client):
    draft = StoryFactory(headline="Leak draft", created_by=user_in("Writers", username="ghost"))
    draft.topics.add("Secret topic")
    source = draft.citations.get().source
    assert client.get("/topics/secret-topic/").status_code == 404
    assert client.get(f"/sources/{source.slug}/").status_code == 404
    assert client.get("/authors/ghost/").status_code == 404
    assert client.get("/authors/nobody-at-all/").status_code == 404
    assert "Secret topic" not in page(client, "/topics/")
    assert source.name not in page(client, "/sources/")


def test_unpublished_content_never_appears_on_listing_pages(client, demo):
    pages = [
        "/",
        "/topics/",
        "/sources/",
        "/authors/writer/",
        "/newsletters/weekly-radar/issues/4/",
        "/newsletters/reels-thrills-and-bills/issues/1/",
    ]
    pages += [f"/topics/{slug}/" for slug in ("nvidia", "markets", "ai-infrastructure")]
    for url in pages:
        html = page(client, url)
        for leak in (
            "Coming up: what efficiency means for chip demand",
            "Does efficiency cut chip demand",
            "Open-weight licences compared",
            "Nvidia after the sell-off",
        ):
            assert leak not in html, (url, leak)


def test_error_pages_use_the_site_design_and_say_nothing_about_drafts(client):
    response = client.get("/stories/anything/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "We could not find that page" in html
    assert 'class="site-header"' in html and "Skip to content" in html
    assert "Story" not in html  # no "No Story matches the given query"


def test_500_page_renders_without_touching_the_database(rf, django_assert_num_queries):
    from django.views.defaults import server_error

    with django_assert_num_queries(0):
        response = server_error(rf.get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    assert "The Newsroom" in html and "/static/css/site.css" in html


# -- a fixed number of queries per page ----------------------------------------


def _warm_schedule_horizon():
    """The next-publication time is cached across pages for minutes at a time
    (stories/cache.py); counts below are for a page once it is warm."""
    page_cache_timeout()


# Rendering stories' fragments the first time a page needs them
# (stories/publishing/fragments.py), the same whatever the number of stories:
# 1 the stories (with their sections), 2 their bylines, 3 their guest
# bylines with contributors, 4 their citations with sources, 5 their topics,
# 6 their corrections. Kept in the cache; nothing is written.
STORY_RENDER_QUERIES = 6
# Every visit of an issue page reads the render stamps of the stories readers
# see in it, the key of its list's fragment.
ISSUE_LIST_QUERIES = 1
# An issue's list of stories, the first time: the shown stories, then their
# fragments as above.
ISSUE_RENDER_QUERIES = 1 + STORY_RENDER_QUERIES


@pytest.mark.parametrize("n_stories", [1, 10])
def test_issue_page_queries_do_not_grow_with_its_stories(
    client, django_assert_num_queries, n_stories
):
    issue = published_issue(n_stories)
    published_issue(1)
    url = issue.get_absolute_url()
    _warm_schedule_horizon()
    # 1 the issue with its newsletter and kept list of stories, 2 its
    # previous and 3 its next public issue in the same newsletter
    with django_assert_num_queries(3 + ISSUE_LIST_QUERIES + ISSUE_RENDER_QUERIES):
        first = client.get(url).content.decode()
    with django_assert_num_queries(3 + ISSUE_LIST_QUERIES):
        again = client.get(url).content.decode()
    assert again == first
    assert again.count('class="story-in-issue"') == n_stories


@pytest.mark.parametrize("n_stories", [1, 10])
def test_home_page_queries_do_not_grow_with_stories(client, django_assert_num_queries, n_stories):
    published_issue(2)
    published_issue(n_stories)
    _warm_schedule_horizon()
    # 1 the latest issue with its newsletter and kept list of stories, 2 its
    # previous and 3 its next public issue in that newsletter, 4 the recent
    # issues with their newsletters, 5 the newsletters the signup form offers
    with django_assert_num_queries(5 + ISSUE_LIST_QUERIES + ISSUE_RENDER_QUERIES):
        client.get("/")
    with django_assert_num_queries(5 + ISSUE_LIST_QUERIES):
        response = client.get("/")
    assert response.content.decode().count('class="story-in-issue"') == n_stories


@pytest.mark.parametrize("n_extra", [0, 5])
def test_story_page_queries_are_fixed(client, django_assert_num_queries, n_extra):
    story = published_issue(1).stories.get()
    for n in range(n_extra):
        CorrectionFactory(story=story, text=f"Fix {n}")
        story.topics.add(f"Topic {n}")
        story.authors.add(user_in("Writers", username=f"co-author-{n}"))
        IssueItem.objects.create(issue=published_issue(1), story=story, position=2)
    _warm_schedule_horizon()
    # 1 the story's public appearances (IssueItem.objects.public()): each
    # public issue that carried it, with the story; its fragments (bylines,
    # attribution, topics, corrections) come from the cache
    with django_assert_num_queries(1 + STORY_RENDER_QUERIES):
        client.get(story.get_absolute_url())
    with django_assert_num_queries(1):
        response = client.get(story.get_absolute_url())
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        # 1 topics with their published-story counts
        ("/topics/", 1),
        # 1 sources with their published-story counts
        ("/sources/", 1),
        # 1 the topic, 2 one page of its published stories, through their
        # listing entries (no count: tests/test_listing_pages.py)
        ("/topics/deepseek/", 2),
        # 1 the source, 2 one page of stories
        ("/sources/the-sequence-radar/", 2),
        # 1 the author, 2 one page of stories
        ("/authors/writer/", 2),
    ],
)
def test_listing_page_queries_are_fixed(client, demo, django_assert_num_queries, url, queries):
    _warm_schedule_horizon()
    with django_assert_num_queries(queries):
        assert client.get(url).status_code == 200


@pytest.mark.page_cache
def test_a_cold_schedule_horizon_costs_exactly_one_more_query(client, django_assert_num_queries):
    issue = published_issue(3)
    url = issue.get_absolute_url()
    client.get(url)  # renders the stories' fragments
    content_changed()  # drops the cached page and the schedule horizon
    # the issue-page queries, then the next scheduled publication
    with django_assert_num_queries(3 + ISSUE_LIST_QUERIES + 1):
        client.get(url)
    assert Issue.objects.count() == 1
    assert reverse("stories:issue", args=[issue.newsletter.slug, issue.number]) == (
        f"/newsletters/{issue.newsletter.slug}/issues/{issue.number}/"
    )
