"""An issue reads as its format: a numbered digest, an essay in sections with
one attribution at the end, or a post that does not repeat its headline; on
the web, in feeds and in the mail edition."""

import json
import re

import pytest
from django.urls import reverse

from newsletters.mail.edition import render_edition
from stories.editorial import workflow
from stories.models import Issue, IssueItem
from stories.publishing import fragments as prerender
from tests.factories import (
    CitationFactory,
    SourceFactory,
    StoryFactory,
    UserFactory,
    approved_story,
    issue_with_stories,
    published_issue,
    user_in,
)
from tests.reader_helpers import DEMO_ISSUE_URLS, load_demo_newsroom

pytestmark = pytest.mark.django_db

NUMBER = re.compile(r'<span class="story-number">(\d+)\.</span>')


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def two_authors_two_sources():
    """Two approved stories by different people, each citing its own outlet
    and both citing the same page of a third."""
    shared = SourceFactory(name="The Sequence Radar")
    stories = []
    for name, outlet in (("Ada", "Outlet One"), ("Grace", "Outlet Two")):
        author = UserFactory(first_name=name, last_name="Writer", groups=["Writers"])
        story = StoryFactory(created_by=author, authors=[author], cited=False)
        CitationFactory(story=story, source=SourceFactory(name=outlet), url="", title="")
        CitationFactory(story=story, source=shared, url="https://radar.example/1", title="Radar")
        stories.append(story)
    for story in stories:
        workflow.submit_for_review(story.created_by, story)
        workflow.approve(user_in("Editors", username="format-editor"), story)
    return stories


def test_a_digest_numbers_its_stories_each_with_byline_and_sources(client):
    issue = published_issue(3)
    html = page(client, issue.get_absolute_url())
    assert NUMBER.findall(html) == ["1", "2", "3"]
    assert html.count('<p class="byline">') == 3
    assert html.count('<p class="attribution">') == 3


def test_an_essay_has_unnumbered_sections_and_one_byline_and_attribution_at_the_end(client):
    stories = two_authors_two_sources()
    issue = issue_with_stories(stories=stories, format=Issue.Format.ESSAY)
    workflow.publish_issue_now(user_in("Publishers", username="format-publisher"), issue)
    html = page(client, issue.get_absolute_url())

    assert not NUMBER.findall(html)
    assert html.count('<section class="issue-section"') == 2
    for story in stories:
        assert f">{story.headline}</a></h2>" in html
    (byline,) = re.findall(r'<p class="byline">(.*?)</p>', html, re.S)
    assert "Ada Writer" in byline and "Grace Writer" in byline
    (attribution,) = re.findall(r'<p class="attribution">(.*?)</p>', html, re.S)
    # Each outlet once, the shared page once, after the last section.
    assert attribution.count("Outlet One") == 1 and attribution.count("Outlet Two") == 1
    assert attribution.count("The Sequence Radar") == 1
    assert html.index('class="attribution"') > html.rindex('class="issue-section"')


def test_a_post_does_not_repeat_its_headline(client):
    story = approved_story(headline="AI's Sputnik Moment", dek="A subtitle under it.")
    issue = published_issue(
        stories=[story], headline="AI's Sputnik Moment", format=Issue.Format.POST
    )
    html = page(client, issue.get_absolute_url())
    assert html.count("Sputnik Moment</") == 1  # the issue's h1 only
    assert "<h2" not in html.split('<div class="issue-post"')[1].split("</div>")[0]
    assert "A subtitle under it." in html
    assert story.body.split("**")[0].strip() in html
    assert '<p class="byline">' in html and '<p class="attribution">' in html


def test_a_post_holding_several_stories_reads_as_a_digest(client):
    issue = published_issue(2, format=Issue.Format.POST)
    assert NUMBER.findall(page(client, issue.get_absolute_url())) == ["1", "2"]


def test_changing_the_format_renders_the_issue_again(client):
    issue = published_issue(2)
    assert NUMBER.findall(page(client, issue.get_absolute_url())) == ["1", "2"]
    issue.format = Issue.Format.ESSAY
    issue.save()
    assert not NUMBER.findall(page(client, issue.get_absolute_url()))


def test_feeds_follow_the_format(client):
    essay = issue_with_stories(stories=two_authors_two_sources(), format=Issue.Format.ESSAY)
    workflow.publish_issue_now(user_in("Publishers", username="format-publisher"), essay)
    post_story = approved_story(headline="One story only")
    published_issue(stories=[post_story], headline="A post", format=Issue.Format.POST)
    published_issue(2, headline="A digest")

    feed = json.loads(client.get("/feeds/issues.json").content)
    content = {item["title"].split(": ", 1)[1]: item["content_html"] for item in feed["items"]}
    assert "<h2>1. " in content["A digest"] and "<h2>2. " in content["A digest"]
    assert "<h2>1. " not in content[essay.headline]
    assert content[essay.headline].count("<p>Sources: ") == 1
    assert content[essay.headline].count("(The Sequence Radar)") == 1
    assert "<h2>" not in content["A post"] and "One story only" not in content["A post"]


def test_the_mail_edition_follows_the_format():
    essay = issue_with_stories(stories=two_authors_two_sources(), format=Issue.Format.ESSAY)
    workflow.publish_issue_now(user_in("Publishers", username="format-publisher"), essay)
    mail = render_edition(Issue.objects.select_related("newsletter").get(pk=essay.pk))
    assert 'class="number"' not in mail.html
    assert mail.html.count('class="attribution"') == 1
    assert mail.html.count('class="byline"') == 1
    assert mail.text.count("Sources: ") == 1 and "\n1. " not in mail.text

    story = approved_story(headline="A single post story")
    post = published_issue(stories=[story], headline="The post's own title", format="post")
    mail = render_edition(Issue.objects.select_related("newsletter").get(pk=post.pk))
    assert "A single post story" not in mail.html and "A single post story" not in mail.text
    assert "The post's own title" in mail.html


def test_the_admin_refuses_a_post_with_two_stories_in_a_sentence(admin_client):
    issue = issue_with_stories(2)
    items = list(issue.items.all())
    data = {
        "newsletter": issue.newsletter_id,
        "number": issue.number,
        "format": "post",
        "headline": issue.headline,
        "slug": issue.slug,
        "intro": "",
        "closing_tldr": "",
        "based_on_version": issue.version,
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "2",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for n, item in enumerate(items):
        data |= {
            f"items-{n}-id": item.pk,
            f"items-{n}-issue": issue.pk,
            f"items-{n}-position": item.position,
            f"items-{n}-story": item.story_id,
        }
    response = admin_client.post(reverse("admin:stories_issue_change", args=[issue.pk]), data)
    assert response.status_code == 200
    said = " ".join(
        str(e)
        for f in response.context["inline_admin_formsets"]
        for e in f.formset.non_form_errors()
    )
    assert "A post holds one story and this issue has 2" in said
    issue.refresh_from_db()
    assert issue.format == Issue.Format.DIGEST


def test_the_four_brief_pieces_render_as_their_formats(client, settings, tmp_path):
    load_demo_newsroom(settings, tmp_path)
    formats = dict(Issue.objects.values_list("number", "format"))
    assert formats[1] == "post" and formats[2] == "digest"
    assert formats[3] == "post" and formats[4] == "essay"

    commentary = page(client, DEMO_ISSUE_URLS[1])
    assert (
        commentary.count("AI&#x27;s Sputnik Moment</") + commentary.count("AI's Sputnik Moment</")
        == 1
    )
    assert "Credit: Grok | DeepSeek Satellite" in commentary
    digest = page(client, DEMO_ISSUE_URLS[2])
    assert NUMBER.findall(digest) == ["1", "2", "3", "4", "5"]
    analysis = page(client, DEMO_ISSUE_URLS[3])
    assert '<div class="issue-post"' in analysis and "The New York Times" in analysis
    radar = page(client, DEMO_ISSUE_URLS[4])
    assert radar.count('<section class="issue-section"') == 4
    assert radar.count('<p class="attribution">') == 1

    feed = {
        item["url"]: item["content_html"]
        for item in json.loads(client.get("/feeds/issues.json").content)["items"]
    }
    by_number = {
        n: next(v for k, v in feed.items() if k.endswith(DEMO_ISSUE_URLS[n])) for n in (1, 2, 3, 4)
    }
    assert "<h2>1. " in by_number[2] and "<h2>5. " in by_number[2]
    assert "<h2>1. " not in by_number[4] and by_number[4].count("<p>Sources: ") == 1
    assert "<h2>" not in by_number[1].split("Key points")[0]
    assert "<h2>1. " not in by_number[3]


def test_a_preview_rendering_of_an_essay_carries_one_attribution():
    stories = two_authors_two_sources()
    issue = issue_with_stories(stories=stories, format=Issue.Format.ESSAY)
    assert IssueItem.objects.filter(issue=issue).count() == 2
    rendering = prerender.render_issue(issue, prerender.issue_stories(issue.items.all()))
    assert rendering.stories_html.count('class="attribution"') == 1
