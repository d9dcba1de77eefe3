"""The signed links in mail: a GET never changes anything (link scanners
follow every link), tampered and expired links get a clear 4xx page, the
RFC 8058 one-click POST unsubscribes with no page, and the preferences page
changes newsletters, the name, everything at once, or erases the reader."""

from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from newsletters.addresses import address_hash
from newsletters.links import make_token, read_token
from newsletters.models import ConsentRecord, Subscriber, Subscription, Suppression
from tests.factories import (
    NewsletterFactory,
    SubscriberFactory,
    SubscriptionFactory,
    default_newsletter,
    published_issue,
)
from tests.test_signup import post_signup

pytestmark = pytest.mark.django_db


def url(purpose, subscription, issue_id=None, token=None):
    token = token or make_token(
        subscription.subscriber,
        subscription.newsletter_id,
        purpose.replace("one_click", "unsubscribe"),
        issue_id,
    )
    return reverse(f"newsletters:{purpose}", args=[token])


def snapshot():
    """Every row a link could change."""
    return (
        list(Subscriber.objects.order_by("pk").values()),
        list(Subscription.objects.order_by("pk").values()),
        list(ConsentRecord.objects.order_by("pk").values()),
        list(Suppression.objects.order_by("pk").values()),
    )


@pytest.mark.parametrize("state", ["pending", "confirmed"])
def test_following_every_link_with_get_and_head_changes_nothing(client, state):
    subscription = SubscriptionFactory(state=state)
    before = snapshot()
    for purpose in ("confirm", "unsubscribe", "one_click", "preferences"):
        link = url(purpose, subscription)
        for method in (client.get, client.head):
            response = method(link, follow=True)
            assert response.status_code == 200, (purpose, method)
    assert snapshot() == before


def test_the_one_click_endpoint_unsubscribes_on_the_rfc_8058_post_without_a_page(client):
    issue = published_issue(1)
    subscription = SubscriptionFactory(state="confirmed")
    client.cookies.clear()  # a mail provider has no session, cookie or token
    response = client.post(
        url("one_click", subscription, issue_id=issue.pk),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    subscription.refresh_from_db()
    assert subscription.state == "unsubscribed"
    assert subscription.unsubscribed_via == "one_click"
    assert subscription.unsubscribed_from_issue == issue
    assert not Subscription.objects.mailable().exists()  # the next send skips it


def test_the_one_click_endpoint_wants_the_rfc_8058_body(client):
    subscription = SubscriptionFactory(state="confirmed")
    response = client.post(url("one_click", subscription), {"something": "else"})
    assert response.status_code == 400 and b"RFC 8058" in response.content
    assert Subscription.objects.get().state == "confirmed"


def test_unsubscribing_from_the_page_takes_the_button(client):
    subscription = SubscriptionFactory(state="confirmed")
    link = url("unsubscribe", subscription)
    page = client.get(link)
    assert b"Unsubscribe from" in page.content and b'<form method="post">' in page.content
    done = client.post(link)
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    assert Subscription.objects.get().state == "unsubscribed"
    again = client.post(link)
    assert b"You are already unsubscribed" in again.content


def test_link_pages_are_never_cached_indexed_or_referred(client):
    response = client.get(url("preferences", SubscriptionFactory()))
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    assert "noindex" in response["X-Robots-Tag"]


def _tampered(token: str) -> list[str]:
    value, _, signature = token.rpartition(":")
    return [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        value[:-3] + "xyz:" + signature,  # payload changed
        token[: len(token) // 2],  # cut short
        "not-a-token",
    ]


@pytest.mark.parametrize("purpose", ["confirm", "unsubscribe", "preferences"])
def test_a_tampered_link_gets_a_clear_400_page_and_changes_nothing(client, purpose):
    subscription = SubscriptionFactory(state="pending" if purpose == "confirm" else "confirmed")
    before = snapshot()
    for token in _tampered(
        make_token(subscription.subscriber, subscription.newsletter_id, purpose)
    ):
        link = reverse(f"newsletters:{purpose}", args=[token])
        for response in (client.get(link), client.post(link)):
            assert response.status_code == 400
            assert b"This link is not valid" in response.content
    assert snapshot() == before


def test_a_link_signed_for_another_subscriber_or_purpose_does_not_work(client):
    ada, bo = SubscriptionFactory(state="pending"), SubscriptionFactory(state="confirmed")
    confirm_token = make_token(ada.subscriber, ada.newsletter_id, "confirm")
    # A confirmation link is no unsubscribe link, nor the other way round.
    assert client.post(reverse("newsletters:unsubscribe", args=[confirm_token])).status_code == 400
    unsubscribe_token = make_token(bo.subscriber, bo.newsletter_id, "unsubscribe")
    assert client.post(reverse("newsletters:confirm", args=[unsubscribe_token])).status_code == 400
    # A payload naming someone else, signed with another salt, is refused.
    forged = signing.dumps(
        {"s": bo.subscriber_id, "k": bo.subscriber.link_key, "n": bo.newsletter_id},
        salt="something-else",
    )
    assert client.post(reverse("newsletters:unsubscribe", args=[forged])).status_code == 400
    assert Subscription.objects.get(pk=bo.pk).state == "confirmed"


def test_an_expired_confirmation_link_gets_a_410_page_saying_so(client):
    subscription = SubscriptionFactory(state="pending")
    with time_machine.travel(timezone.now() - timedelta(days=8)):
        link = url("confirm", subscription)
    response = client.post(link)
    assert response.status_code == 410 and b"This link has expired" in response.content
    assert Subscription.objects.get().state == "pending"


def test_a_six_day_old_confirmation_link_still_works(client):
    subscription = SubscriptionFactory(state="pending")
    with time_machine.travel(timezone.now() - timedelta(days=6)):
        link = url("confirm", subscription)
    assert client.post(link).status_code == 200
    assert Subscription.objects.get().state == "confirmed"


def test_a_link_of_an_erased_reader_never_acts_on_whoever_gets_their_row_id(client):
    subscription = SubscriptionFactory(state="confirmed")
    token = make_token(subscription.subscriber, subscription.newsletter_id, "unsubscribe")
    target = read_token(token, "unsubscribe")
    Subscriber.objects.all().delete()
    # SQLite may hand the erased reader's id to the next subscriber.
    newcomer = SubscriberFactory(id=target.subscriber_id, email="new@example.com")
    SubscriptionFactory(subscriber=newcomer, state="confirmed")
    response = client.post(reverse("newsletters:unsubscribe", args=[token]))
    assert response.status_code == 404 and b"no longer on our lists" in response.content
    assert Subscription.objects.get().state == "confirmed"


def test_confirming_a_subscription_that_unsubscribed_since_does_not_resubscribe(client):
    subscription = SubscriptionFactory(state="unsubscribed")
    response = client.post(url("confirm", subscription))
    assert b"<h1>You have unsubscribed since asking</h1>" in response.content
    assert b"<title>You have unsubscribed since asking" in response.content
    assert Subscription.objects.get().state == "unsubscribed"


def test_preferences_choose_newsletters_and_name(client):
    radar = NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    subscription = SubscriptionFactory(state="confirmed")
    link = url("preferences", subscription)
    page = client.get(link).content.decode()
    assert subscription.subscriber.email in page and "The Weekly Radar" in page
    response = client.post(link, {"action": "save", "newsletter": ["weekly-radar"], "name": "Ada"})
    assert b"Saved." in response.content
    states = dict(Subscription.objects.values_list("newsletter__slug", "state"))
    assert states == {default_newsletter().slug: "unsubscribed", radar.slug: "confirmed"}
    assert Subscriber.objects.get().name == "Ada"
    # Recorded as what happened: chosen on the preferences page, not a
    # signup form nor a confirmation link.
    added = Subscription.objects.get(newsletter=radar)
    assert added.source == "preferences" and added.get_source_display() == "Preferences page"
    record = ConsentRecord.objects.get(subscription__newsletter=radar)
    assert record.kind == "preferences" and record.source == "Preferences page"
    assert "preferences page" in record.get_kind_display()


def test_preferences_unsubscribe_from_all(client):
    NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    subscription = SubscriptionFactory(state="confirmed")
    SubscriptionFactory(
        subscriber=subscription.subscriber,
        newsletter=NewsletterFactory(slug="weekly-radar"),
        state="pending",
    )
    client.post(url("preferences", subscription), {"action": "unsubscribe_all"})
    assert set(Subscription.objects.values_list("state", flat=True)) == {"unsubscribed"}


def test_deleting_my_data_keeps_only_a_suppression_hash_that_blocks_a_new_signup(
    client, smtp_inbox, django_capture_on_commit_callbacks
):
    subscription = SubscriptionFactory(state="confirmed", subscriber__email="ada@example.com")
    link = url("preferences", subscription)
    unticked = client.post(link, {"action": "erase"})
    assert b"Tick the box" in unticked.content and Subscriber.objects.exists()
    done = client.post(link, {"action": "erase", "confirm_erase": "yes"})
    assert b"Your data is deleted" in done.content
    assert not Subscriber.objects.exists() and not Subscription.objects.exists()
    assert not ConsentRecord.objects.exists()
    suppression = Suppression.objects.get()
    assert suppression.reason == "erased" and suppression.email_hash == address_hash(
        "ada@example.com"
    )
    assert "ada" not in str(list(Suppression.objects.values()))
    # The old links now say so, and a new signup sends nothing.
    assert client.get(link).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert post_signup(client, "ADA@example.com").status_code == 200
    assert not Subscriber.objects.exists() and smtp_inbox.messages == []
