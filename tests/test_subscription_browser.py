"""A reader's whole journey in Chromium, with mail through a real SMTP
server: sign up on the home page, confirm from the mailed link, change
preferences, then leave with the one-click unsubscribe a mail client sends."""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from newsletters.models import ConsentRecord, Subscription
from tests.factories import NewsletterFactory, ensure_editorial_groups, published_issue
from tests.smtp import text_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"


@pytest.fixture
def site(live_server, settings, smtp_inbox):
    ensure_editorial_groups()  # an earlier transactional test's flush removed them
    settings.SITE_URL = live_server.url  # links in mail point at this server
    issue = published_issue(1, headline="Five stories from the week")
    NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    return live_server.url, issue, smtp_inbox


def link_in(message, kind: str) -> str:
    return re.search(rf"http://\S+/subscriptions/{kind}/\S+/", text_of(message)).group(0)


def test_sign_up_confirm_choose_and_unsubscribe_in_chromium(page, site):
    base_url, issue, inbox = site
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 375, "height": 900})

    # Sign up from the home page. Nothing is ticked in advance; sent so, the
    # form comes back with a sentence and the address still in it.
    page.goto(base_url + "/")
    form = page.locator("form.signup-form")
    form.get_by_label("Email address").fill("Ada.Reader@Example.com")
    page.screenshot(path=ARTIFACTS / "signup-home-375.png", full_page=True)
    form.get_by_role("button", name="Subscribe").click()
    page.get_by_text("Choose at least one newsletter.").wait_for()
    form = page.locator("form.signup-form")
    assert form.get_by_label("Email address").input_value() == "Ada.Reader@Example.com"
    form.get_by_label(issue.newsletter.name).check()
    form.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert Subscription.objects.get().state == "pending"

    # The mail arrived through SMTP; its link opens a page with a button.
    [mail] = inbox.wait_to("ada.reader@example.com")
    assert mail["To"] == "ada.reader@example.com"
    page.goto(link_in(mail, "confirm"))
    assert Subscription.objects.get().state == "pending"  # opening it changed nothing
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    subscription = Subscription.objects.get()
    assert subscription.state == "confirmed"
    assert list(ConsentRecord.objects.values_list("kind", flat=True)) == [
        "signup",
        "confirmation",
    ]

    # Preferences: add the radar and give a name.
    page.get_by_role("link", name="Choose your newsletters").click()
    page.get_by_label("The Weekly Radar").check()
    page.get_by_label("Your name (optional)").fill("Ada")
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Saved.").wait_for()
    page.screenshot(path=ARTIFACTS / "subscription-preferences-375.png", full_page=True)
    states = dict(Subscription.objects.values_list("newsletter__slug", "state"))
    assert states == {issue.newsletter.slug: "confirmed", "weekly-radar": "confirmed"}

    # A mail client's one-click unsubscribe (RFC 8058): a POST, no page.
    from newsletters.links import one_click_url

    url = one_click_url(subscription.subscriber, subscription.newsletter_id, issue.pk)
    response = page.request.post(url, form={"List-Unsubscribe": "One-Click"})
    assert response.status == 200
    subscription.refresh_from_db()
    assert subscription.state == "unsubscribed" and subscription.unsubscribed_via == "one_click"
    assert subscription.unsubscribed_from_issue_id == issue.pk

    # The same link opened in the browser shows the page, which says so.
    page.goto(url)
    page.get_by_role("heading", name="You are already unsubscribed").wait_for()
    assert Subscription.objects.get(newsletter__slug="weekly-radar").state == "confirmed"
