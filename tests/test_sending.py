"""Issue mail: started once when an issue goes live, one delivery per
confirmed subscriber, sent through a real SMTP server, with a publisher's
controls (web only, pause, resume, cancel, retry) and the server's answers
(5xx suppresses, 4xx retries later) recorded per copy."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from newsletters.delivery import sending
from newsletters.models import Delivery, Send, Suppression
from tests.factories import (
    SubscriptionFactory,
    default_newsletter,
    published_issue,
    scheduled_issue,
)

pytestmark = pytest.mark.django_db

D = Delivery.State


@pytest.fixture(autouse=True)
def _newsletter_can_mail(db):
    """The default newsletter with the postal address every mail must carry."""
    newsletter = default_newsletter()
    newsletter.postal_address = "1 Example Street, Exampletown"
    newsletter.save(update_fields=["postal_address"])
    return newsletter


def subscribers(count: int, newsletter=None, state="confirmed") -> list:
    kwargs = {"state": state}
    if newsletter is not None:
        kwargs["newsletter"] = newsletter
    return [SubscriptionFactory(**kwargs).subscriber for _ in range(count)]


def run_periodic(capture) -> None:
    """One minute's pass of send_due_mail, with the tasks it queues run."""
    with capture(execute=True):
        call_command("send_due_mail")


def arrived_to(smtp_server) -> list[str]:
    return sorted(r for m in smtp_server.messages for r in m.recipients)


def test_a_live_issue_is_mailed_once_to_each_confirmed_subscriber(
    smtp_server, django_capture_on_commit_callbacks
):
    readers = subscribers(3)
    subscribers(1, state="pending")
    subscribers(1, state="unsubscribed")
    suppressed = subscribers(1)[0]
    Suppression.objects.create(email_hash=suppressed.email_hash, reason="bounced")
    issue = published_issue(2)

    run_periodic(django_capture_on_commit_callbacks)
    run_periodic(django_capture_on_commit_callbacks)  # a second pass sends nothing more

    assert arrived_to(smtp_server) == sorted(r.email for r in readers)
    send = Send.objects.get(issue=issue)
    assert send.state == Send.State.FINISHED
    assert send.audience_size == 3
    assert sorted(send.deliveries.values_list("state", flat=True)) == [D.SENT] * 3
    # One connection carried them all.
    assert {m.connection for m in smtp_server.messages} == {1}


def test_each_copy_carries_its_own_links_and_the_bulk_sender_headers(
    smtp_server, django_capture_on_commit_callbacks, settings
):
    first, second = subscribers(2)
    issue = published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)

    by_recipient = {m.recipients[0]: m for m in smtp_server.messages}
    mail, other = by_recipient[first.email], by_recipient[second.email]
    domain = settings.SITE_URL.split("://")[1].split(":")[0].split("/")[0]
    assert mail.header("To") == first.email
    assert mail.header("Message-ID") == f"<issue-{issue.pk}.{first.pk}@{domain}>"
    assert other.header("Message-ID") == f"<issue-{issue.pk}.{second.pk}@{domain}>"
    assert mail.header("From") == issue.newsletter.from_address
    assert mail.mail_from == issue.newsletter.sender_email
    assert mail.header("List-Id").endswith(f"<{issue.newsletter.slug}.{domain}>")
    assert mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    one_click, mailto = mail.header("List-Unsubscribe").split(", ")
    assert one_click.startswith(f"<{settings.SITE_URL}/")
    assert mailto.startswith("<mailto:") and f"%20{first.pk}.{issue.pk}" in mailto
    # Each reader's links are their own, and the one-click link works for them.
    assert one_click != other.header("List-Unsubscribe").split(", ")[0]
    from newsletters.links import read_token

    token = one_click.strip("<>").split("/unsubscribe/")[1].split("/")[0]
    assert read_token(token, "unsubscribe").subscriber_id == first.pk
    for part in ("plain", "html"):
        body = mail.body(part)
        assert f"/unsubscribe/{token}/" in body  # the footer's link, this reader's own
        assert "/preferences/" in body
        assert "0d8f3c" not in body  # no stand-in left behind


def test_a_web_only_issue_sends_nothing(smtp_server, django_capture_on_commit_callbacks, publisher):
    subscribers(2)
    issue = scheduled_issue(1, in_minutes=5)
    sending.choose_web_only(publisher, issue)
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        run_periodic(django_capture_on_commit_callbacks)
    assert smtp_server.messages == []
    assert Send.objects.get(issue=issue).state == Send.State.WEB_ONLY
    assert not Delivery.objects.exists()
