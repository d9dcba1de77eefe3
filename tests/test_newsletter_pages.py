"""Newsletters on the public site: each has a page with its issues and a
signup form, issue numbers count per newsletter, the old /issues/<n>/
addresses answer 301, and the signup form is safe on cached pages."""

import html
import re

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from newsletters.models import Subscription
from stories.models import Issue
from stories.reader import views as reader_views
from tests.factories import (
    IssueFactory,
    NewsletterFactory,
    default_newsletter,
    issue_with_stories,
    published_issue,
    scheduled_issue,
)

pytestmark = pytest.mark.django_db


def test_issue_numbers_count_per_newsletter():
    radar = NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    IssueFactory(number=1)
    IssueFactory(number=1, newsletter=radar)
    with pytest.raises(IntegrityError), transaction.atomic():
        IssueFactory(number=1, newsletter=radar)
    assert Issue.objects.filter(number=1).count() == 2


def test_two_newsletters_issue_one_each_have_their_own_page(client):
    radar = NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    digest = published_issue(1, number=1, headline="Digest one")
    weekly = published_issue(1, number=1, headline="Radar one", newsletter=radar)
    assert digest.get_absolute_url() == "/newsletters/the-newsroom/issues/1/"
    assert weekly.get_absolute_url() == "/newsletters/weekly-radar/issues/1/"
    assert b"Digest one" in client.get(digest.get_absolute_url()).content
    page = client.get(weekly.get_absolute_url()).content.decode()
    assert "Radar one" in page and 'href="/newsletters/weekly-radar/">The Weekly Radar</a>' in page


def test_old_issue_addresses_answer_301_to_the_default_newsletters_issue(client):
    issue = published_issue(1, number=7)
    for old in ("/issues/7/", "/issues/7/any-old-slug/"):
        response = client.get(old)
        assert response.status_code == 301
        assert response["Location"] == "/newsletters/the-newsroom/issues/7/"
    assert client.get(issue.get_absolute_url()).status_code == 200


def test_an_old_address_of_an_issue_readers_cannot_see_redirects_to_a_404(client):
    draft = IssueFactory(number=8)
    response = client.get("/issues/8/", follow=True)
    assert response.redirect_chain == [(draft.get_absolute_url(), 301)]
    assert response.status_code == 404


def test_a_newsletters_page_lists_only_its_public_issues_newest_first(client):
    radar = NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    published_issue(1, number=1, headline="Radar first", newsletter=radar)
    published_issue(1, number=2, headline="Radar second", newsletter=radar)
    scheduled_issue(1, number=3, headline="Radar scheduled", newsletter=radar)
    issue_with_stories(1, number=4, headline="Radar draft", newsletter=radar)
    published_issue(1, number=1, headline="Digest issue")
    html = client.get("/newsletters/weekly-radar/").content.decode()
    assert html.index("Radar second") < html.index("Radar first")
    for hidden in ("Radar scheduled", "Radar draft", "Digest issue"):
        assert hidden not in html


def test_a_new_newsletter_shows_its_signup_form_before_its_first_issue(client):
    NewsletterFactory(name="Reels, Thrills, and Bills", slug="reels-thrills-and-bills")
    html = client.get("/newsletters/reels-thrills-and-bills/").content.decode()
    assert "No issue has been published yet" in html
    assert 'action="/subscriptions/signup/"' in html
    assert 'name="newsletter" value="reels-thrills-and-bills"' in html


def test_an_unknown_newsletter_is_a_404(client):
    assert client.get("/newsletters/nothing-here/").status_code == 404
    assert client.get("/newsletters/nothing-here/issues/1/").status_code == 404


def test_the_list_of_newsletters_names_each(client):
    NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    html = client.get("/newsletters/").content.decode()
    assert 'href="/newsletters/weekly-radar/"' in html
    assert f'href="/newsletters/{default_newsletter().slug}/"' in html


def test_previous_and_next_stay_within_the_newsletter(client):
    radar = NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    published_issue(1, number=1)
    middle = published_issue(1, number=2)
    published_issue(1, number=3, newsletter=radar)
    published_issue(1, number=3)
    html = client.get(middle.get_absolute_url()).content.decode()
    assert 'rel="prev" href="/newsletters/the-newsroom/issues/1/"' in html
    assert 'rel="next" href="/newsletters/the-newsroom/issues/3/"' in html


@pytest.mark.parametrize("where", ["home", "newsletter", "issue", "story"])
def test_every_reader_page_has_a_signup_form_with_nothing_per_visitor(client, where):
    issue = published_issue(1)
    story = issue.stories.get()
    path = {
        "home": "/",
        "newsletter": issue.newsletter.get_absolute_url(),
        "issue": issue.get_absolute_url(),
        "story": story.get_absolute_url(),
    }[where]
    first = client.get(path)
    html = first.content.decode()
    assert 'action="/subscriptions/signup/"' in html and 'name="stamp"' in html
    assert "csrfmiddlewaretoken" not in html and not first.cookies
    # Another visitor gets the very same bytes, so the page may be cached.
    assert Client().get(path).content == first.content


@pytest.mark.page_cache
def test_a_form_served_from_the_page_cache_still_signs_up(
    client, django_capture_on_commit_callbacks
):

    issue = published_issue(1)
    client.get(issue.get_absolute_url())  # now cached
    cached = client.get(issue.get_absolute_url()).content.decode()
    fields = dict(re.findall(r'name="(stamp|source)" value="([^"]*)"', cached))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/subscriptions/signup/",
            {**fields, "email": "ada@example.com", "newsletter": issue.newsletter.slug},
        )
    assert response.status_code == 200
    consent = Subscription.objects.get().consents.get()
    assert consent.source == issue.get_absolute_url()


@pytest.mark.page_cache
def test_the_home_pages_choice_served_from_the_page_cache_still_signs_up(
    client, django_capture_on_commit_callbacks
):
    issue = published_issue(1)
    NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    client.get("/")  # now cached
    cached = client.get("/").content.decode()
    assert 'type="checkbox" name="newsletter"' in cached and " checked" not in cached
    fields = dict(re.findall(r'name="(stamp|source)" value="([^"]*)"', cached))
    printed = re.search(r'<p class="signup-consent">([^<]*)</p>', cached).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/subscriptions/signup/",
            {**fields, "email": "ada@example.com", "newsletter": "weekly-radar"},
        )
    assert response.status_code == 200
    [subscription] = Subscription.objects.all()
    assert subscription.newsletter.slug == "weekly-radar"
    consent = subscription.consents.get()
    assert consent.source == "/" and consent.wording == html.unescape(printed)
    assert issue.newsletter.name in consent.wording and "The Weekly Radar" in consent.wording


def test_a_newsletters_second_page_lists_its_older_issues(client, monkeypatch):
    monkeypatch.setattr(reader_views, "NEWSLETTER_PAGE_SIZE", 1)
    published_issue(1, number=1, headline="The first edition")
    published_issue(1, number=2, headline="The second edition")
    first = client.get("/newsletters/the-newsroom/").content.decode()
    second = client.get("/newsletters/the-newsroom/?page=2").content.decode()
    assert "The second edition" in first and 'rel="next" href="?page=2"' in first
    assert "The first edition" in second and "The second edition" not in second
    assert 'rel="prev" href="?"' in second
    assert client.get("/newsletters/the-newsroom/?page=3").status_code == 404
