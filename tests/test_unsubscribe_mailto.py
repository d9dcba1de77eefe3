"""List-Unsubscribe's mailto: a reader's client mails the unsubscribe mailbox
with the copy's signed token in the subject; the provider posts that mail to
anymail's inbound webhook (Postmark's documented inbound payload here), and
the reader is unsubscribed with channel "mailto". A subject without a valid
token changes nothing; a bad post gets a 4xx, never a 500."""

import base64
import copy
import json

import pytest
from django.urls import reverse

from newsletters.mail.edition import render_edition
from newsletters.mail.message import edition_message, subscriber_links
from newsletters.models import Subscription
from newsletters.models.subscribers import UnsubscribeChannel
from tests.factories import SubscriptionFactory, published_issue
from tests.send_helpers import mailing_newsletter

pytestmark = pytest.mark.django_db

SECRET = "newsroom-hooks:s3cret-shared-with-the-provider"
UNSUBSCRIBE_MAILBOX = "unsubscribe@news.example"

# Postmark's documented inbound webhook (postmarkapp.com/developer/webhooks/inbound-webhook),
# attachments left out.
POSTMARK_INBOUND = {
    "FromName": "Postmarkapp Support",
    "MessageStream": "inbound",
    "From": "support@postmarkapp.com",
    "FromFull": {
        "Email": "support@postmarkapp.com",
        "Name": "Postmarkapp Support",
        "MailboxHash": "",
    },
    "To": '"Firstname Lastname" <yourhash+SampleHash@inbound.postmarkapp.com>',
    "ToFull": [
        {
            "Email": "yourhash+SampleHash@inbound.postmarkapp.com",
            "Name": "Firstname Lastname",
            "MailboxHash": "SampleHash",
        }
    ],
    "Cc": '"First Cc" <firstcc@postmarkapp.com>, secondCc@postmarkapp.com>',
    "CcFull": [
        {"Email": "firstcc@postmarkapp.com", "Name": "First Cc", "MailboxHash": ""},
        {"Email": "secondCc@postmarkapp.com", "Name": "", "MailboxHash": ""},
    ],
    "Bcc": '"First Bcc" <firstbcc@postmarkapp.com>',
    "BccFull": [{"Email": "firstbcc@postmarkapp.com", "Name": "First Bcc", "MailboxHash": ""}],
    "OriginalRecipient": "yourhash+SampleHash@inbound.postmarkapp.com",
    "Subject": "Test subject",
    "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
    "ReplyTo": "replyto@example.com",
    "MailboxHash": "SampleHash",
    "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
    "TextBody": "This is a test text body.",
    "HtmlBody": "<html><body><p>This is a test html body.</p></body></html>",
    "StrippedTextReply": "This is the reply text",
    "Tag": "TestTag",
    "Headers": [
        {"Name": "X-Header-Test", "Value": ""},
        {"Name": "X-Spam-Status", "Value": "No"},
        {"Name": "X-Spam-Score", "Value": "-0.1"},
        {"Name": "X-Spam-Tests", "Value": "DKIM_SIGNED,DKIM_VALID,DKIM_VALID_AU,SPF_PASS"},
    ],
    "Attachments": [],
}


@pytest.fixture(autouse=True)
def hooks(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    settings.NEWSROOM_MAIL_UNSUBSCRIBE_ADDRESS = UNSUBSCRIBE_MAILBOX


@pytest.fixture
def reader():
    return SubscriptionFactory(newsletter=mailing_newsletter(), state="confirmed")


def mailto_of(subscription, issue) -> str:
    """The mailto: of the reader's copy, as its List-Unsubscribe header says."""
    links = subscriber_links(subscription.subscriber, issue)
    message = edition_message(issue, render_edition(issue), links).message()
    mailto = message["List-Unsubscribe"].split(", ")[1].strip("<>")
    assert mailto.startswith(f"mailto:{UNSUBSCRIBE_MAILBOX}?subject=")
    return mailto


def subject_of(mailto: str) -> str:
    """What a mail client puts in the subject when it follows the mailto."""
    return mailto.split("?subject=", 1)[1].replace("%20", " ")


def post(client, payload=None, raw: bytes | None = None, secret: str | None = SECRET):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {}
    if secret:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(secret.encode()).decode()
    return client.post(
        reverse("anymail:postmark_inbound_webhook"),
        body,
        content_type="application/json",
        **headers,
    )


def inbound(subject: str, sender: str) -> dict:
    payload = copy.deepcopy(POSTMARK_INBOUND)
    payload["Subject"] = subject
    payload["From"] = sender
    payload["FromFull"] = {"Email": sender, "Name": "", "MailboxHash": ""}
    payload["To"] = payload["OriginalRecipient"] = UNSUBSCRIBE_MAILBOX
    payload["ToFull"] = [{"Email": UNSUBSCRIBE_MAILBOX, "Name": "", "MailboxHash": ""}]
    return payload


def test_mail_to_the_unsubscribe_mailbox_with_the_signed_subject_unsubscribes(client, reader):
    issue = published_issue(1, newsletter=reader.newsletter)
    subject = subject_of(mailto_of(reader, issue))
    response = post(client, inbound(subject, reader.subscriber.email))
    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.state == Subscription.State.UNSUBSCRIBED
    assert reader.unsubscribed_via == UnsubscribeChannel.MAILTO
    assert reader.unsubscribed_from_issue_id == issue.pk
    # The provider posting it again (a retry) changes nothing more.
    assert post(client, inbound(subject, reader.subscriber.email)).status_code == 200
    reader.refresh_from_db()
    assert reader.state == Subscription.State.UNSUBSCRIBED


def test_a_reply_prefix_on_the_subject_still_unsubscribes(client, reader):
    issue = published_issue(1, newsletter=reader.newsletter)
    subject = "Re: " + subject_of(mailto_of(reader, issue))
    assert post(client, inbound(subject, "another-address@example.com")).status_code == 200
    reader.refresh_from_db()
    assert reader.state == Subscription.State.UNSUBSCRIBED


@pytest.mark.parametrize(
    "forged",
    [
        # The unsigned form mail used to carry: newsletter, subscriber and issue ids.
        "unsubscribe {slug} {subscriber}.{issue}",
        # A real token with its signature changed.
        "{altered}",
        # A reader's reply to the newsletter.
        "Re: {headline}",
        "",
    ],
)
def test_a_subject_without_a_valid_token_changes_nothing(client, reader, forged):
    issue = published_issue(1, newsletter=reader.newsletter)
    subject = subject_of(mailto_of(reader, issue))
    altered = subject[:-3] + ("AAA" if not subject.endswith("AAA") else "BBB")
    text = forged.format(
        slug=reader.newsletter.slug,
        subscriber=reader.subscriber_id,
        issue=issue.pk,
        altered=altered,
        headline=issue.headline,
    )
    assert post(client, inbound(text, reader.subscriber.email)).status_code == 200
    reader.refresh_from_db()
    assert reader.state == Subscription.State.CONFIRMED
    assert reader.unsubscribed_via == ""


def test_bad_posts_get_a_4xx_and_change_nothing(client, reader, settings):
    issue = published_issue(1, newsletter=reader.newsletter)
    good = inbound(subject_of(mailto_of(reader, issue)), reader.subscriber.email)
    # Not Postmark's format.
    response = post(client, raw=b"{not json")
    assert response.status_code == 400
    assert "Postmark" in response.content.decode()
    assert post(client, raw=b'["a list"]').status_code == 400
    # Without the shared secret, or with the wrong one.
    assert post(client, good, secret=None).status_code == 400
    assert post(client, good, secret="user:wrong").status_code == 400
    # A tracking event posted to the inbound address.
    assert post(client, {"RecordType": "Bounce", "Email": "a@example.com"}).status_code == 404
    # Webhooks stay shut while no secret is set on the site.
    settings.ANYMAIL = {}
    assert post(client, good).status_code == 404
    reader.refresh_from_db()
    assert reader.state == Subscription.State.CONFIRMED
