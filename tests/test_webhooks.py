"""Providers' bounce and complaint webhooks (django-anymail's tracking), posted
with the payloads the providers document: a hard bounce or a complaint
suppresses the address and is recorded against its delivery; bad
credentials, bad signatures and bad bodies get a 4xx, never a 500."""

import base64
import copy
import hashlib
import hmac
import json

import pytest
from django.urls import reverse

from newsletters.addresses import address_hash
from newsletters.mail.message import message_id
from newsletters.models import Delivery, Suppression
from tests.send_helpers import hand_over, live_send, mailing_newsletter

pytestmark = pytest.mark.django_db

SECRET = "newsroom-hooks:s3cret-shared-with-the-provider"
MAILGUN_KEY = "mailgun-webhook-signing-key"

# Postmark's documented bounce webhook (postmarkapp.com/developer/webhooks/bounce-webhook).
POSTMARK_BOUNCE = {
    "RecordType": "Bounce",
    "MessageStream": "outbound",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "Test",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    "ServerID": 23,
    "Description": "The server was unable to deliver your message (ex: unknown user, "
    "mailbox not found).",
    "Details": "Test bounce details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Test subject",
    "Content": "<Full dump of bounce>",
}

# Postmark's documented spam complaint webhook.
POSTMARK_COMPLAINT = {
    "RecordType": "SpamComplaint",
    "MessageStream": "outbound",
    "ID": 42,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "Tag": "Test",
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    "ServerID": 1234,
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Test subject",
    "Content": "<Abuse report dump>",
}

# Mailgun's documented "failed" (permanent) event, webhooks API v3.
MAILGUN_FAILED = {
    "signature": {
        "timestamp": "1529006854",
        "token": "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
        "signature": "",
    },
    "event-data": {
        "event": "failed",
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": 1521233195.375624,
        "log-level": "error",
        "severity": "permanent",
        "reason": "suppress-bounce",
        "envelope": {
            "sender": "bob@sandbox.mailgun.org",
            "transport": "smtp",
            "targets": "alice@example.com",
        },
        "flags": {
            "is-routed": False,
            "is-authenticated": True,
            "is-system-test": False,
            "is-test-mode": False,
        },
        "delivery-status": {
            "attempt-no": 1,
            "message": "",
            "code": 605,
            "description": "Not delivering to previously bounced address",
            "session-seconds": 0.0,
        },
        "message": {
            "headers": {
                "to": "Alice <alice@example.com>",
                "message-id": "20130503192659.13651.20287@sandbox.mailgun.org",
                "from": "Bob <bob@sandbox.mailgun.org>",
                "subject": "Test permanent_fail webhook",
            },
            "attachments": [],
            "size": 111,
        },
        "recipient": "alice@example.com",
        "recipient-domain": "example.com",
        "campaigns": [],
        "tags": ["my_tag_1", "my_tag_2"],
        "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"},
    },
}

# SendGrid's documented Event Webhook bounce and spam report (a JSON array).
SENDGRID_BOUNCE = {
    "email": "example@test.com",
    "timestamp": 1513299569,
    "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
    "event": "bounce",
    "category": "cat facts",
    "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
    "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    "reason": "500 unknown recipient",
    "status": "5.0.0",
    "type": "bounce",
}
SENDGRID_SPAMREPORT = {
    "email": "example@test.com",
    "timestamp": 1513299569,
    "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
    "event": "spamreport",
    "category": "cat facts",
    "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
    "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
}


@pytest.fixture(autouse=True)
def hooks(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}


@pytest.fixture
def send():
    return live_send(mailing_newsletter(), readers=3)


def auth(secret=SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def post(client, provider: str, payload, secret=SECRET, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    return client.post(
        reverse(f"anymail:{provider}_tracking_webhook"),
        body,
        content_type="application/json",
        **(auth(secret) if secret else {}),
    )


def signed(payload: dict, key: str = MAILGUN_KEY) -> dict:
    payload = copy.deepcopy(payload)
    block = payload["signature"]
    block["signature"] = hmac.new(
        key.encode(), f"{block['timestamp']}{block['token']}".encode(), hashlib.sha256
    ).hexdigest()
    return payload


def suppression_of(address: str):
    return Suppression.objects.filter(email_hash=address_hash(address)).first()


def postmark(base: dict, delivery: Delivery, provider_id: str) -> dict:
    return {**base, "MessageID": provider_id, "Email": delivery.email}


def mailgun(delivery: Delivery, severity="permanent", event="failed") -> dict:
    payload = copy.deepcopy(MAILGUN_FAILED)
    data = payload["event-data"]
    data["event"], data["severity"], data["recipient"] = event, severity, delivery.email
    data["message"]["headers"]["message-id"] = message_id(
        delivery.send.issue, delivery.subscriber_id
    ).strip("<>")
    return signed(payload)


def sendgrid(base: dict, delivery: Delivery, **changes) -> list:
    smtp_id = message_id(delivery.send.issue, delivery.subscriber_id)
    return [{**base, "email": delivery.email, "smtp-id": smtp_id, **changes}]


def first_sent(send, provider_id: str | None = None) -> Delivery:
    [delivery_id] = hand_over(send, sent=1, provider_ids=[provider_id] if provider_id else None)
    return Delivery.objects.select_related("send__issue").get(pk=delivery_id)


# -- Postmark ----------------------------------------------------------------------


def test_a_postmark_hard_bounce_suppresses_the_address_and_marks_the_delivery(client, send):
    delivery = first_sent(send, "883953f4-6105-42a2-a16a-77a8eac79483")
    response = post(
        client, "postmark", postmark(POSTMARK_BOUNCE, delivery, delivery.provider_message_id)
    )
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.bounced_at is not None and delivery.state == Delivery.State.SENT
    assert "unable to deliver" in delivery.reason
    assert suppression_of(delivery.email).reason == Suppression.Reason.BOUNCED


def test_a_postmark_spam_complaint_suppresses_the_address_and_marks_the_delivery(client, send):
    delivery = first_sent(send, "00000000-0000-0000-0000-000000000000")
    response = post(client, "postmark", postmark(POSTMARK_COMPLAINT, delivery, "0" * 8 + "-0000"))
    assert response.status_code == 200
    # Matched by the address-checked provider id, or not at all: this one names none of ours.
    delivery.refresh_from_db()
    assert delivery.complained_at is None
    assert suppression_of(delivery.email).reason == Suppression.Reason.COMPLAINED
    response = post(
        client, "postmark", postmark(POSTMARK_COMPLAINT, delivery, delivery.provider_message_id)
    )
    delivery.refresh_from_db()
    assert delivery.complained_at is not None


def test_a_bounce_is_matched_by_the_delivery_in_its_metadata(client, send):
    """A provider message id we never recorded (the handoff's answer lost),
    but the metadata the copy was sent with comes back with the event."""
    delivery = first_sent(send)
    event = {
        **postmark(POSTMARK_BOUNCE, delivery, "never-recorded-id"),
        "Metadata": {"delivery": str(delivery.pk)},
    }
    assert post(client, "postmark", event).status_code == 200
    delivery.refresh_from_db()
    assert delivery.bounced_at is not None
    assert suppression_of(delivery.email).reason == Suppression.Reason.BOUNCED


def test_a_postmark_soft_bounce_changes_nothing(client, send):
    delivery = first_sent(send, "soft-1")
    soft = {**postmark(POSTMARK_BOUNCE, delivery, "soft-1"), "Type": "SoftBounce", "TypeCode": 4096}
    assert post(client, "postmark", soft).status_code == 200
    delivery.refresh_from_db()
    assert delivery.bounced_at is None
    assert suppression_of(delivery.email) is None


def test_a_bounce_for_an_address_we_sent_nothing_to_still_suppresses_it(client, send):
    assert post(client, "postmark", POSTMARK_BOUNCE).status_code == 200
    assert suppression_of("john@example.com").reason == Suppression.Reason.BOUNCED
    assert not Delivery.objects.filter(bounced_at__isnull=False).exists()


def test_an_event_naming_a_delivery_to_another_address_is_not_pinned_on_it(client, send):
    delivery = first_sent(send, "pm-1")
    other = {**POSTMARK_BOUNCE, "MessageID": "pm-1", "Email": "someone-else@example.com"}
    assert post(client, "postmark", other).status_code == 200
    delivery.refresh_from_db()
    assert delivery.bounced_at is None and suppression_of(delivery.email) is None
    assert suppression_of("someone-else@example.com") is not None


# -- Mailgun -----------------------------------------------------------------------


def test_a_mailgun_permanent_failure_is_matched_by_our_message_id(client, send):
    delivery = first_sent(send)
    response = post(client, "mailgun", mailgun(delivery))
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.bounced_at is not None
    assert suppression_of(delivery.email).reason == Suppression.Reason.BOUNCED


def test_a_mailgun_complaint_is_recorded(client, send):
    delivery = first_sent(send)
    response = post(client, "mailgun", mailgun(delivery, severity=None, event="complained"))
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.complained_at is not None
    assert suppression_of(delivery.email).reason == Suppression.Reason.COMPLAINED


def test_a_mailgun_temporary_failure_changes_nothing(client, send):
    delivery = first_sent(send)
    assert post(client, "mailgun", mailgun(delivery, severity="temporary")).status_code == 200
    assert suppression_of(delivery.email) is None


def test_a_mailgun_post_with_a_wrong_signature_is_refused(client, send):
    delivery = first_sent(send)
    forged = mailgun(delivery)
    forged["signature"]["signature"] = "0" * 64
    response = post(client, "mailgun", forged)
    assert response.status_code == 400
    assert suppression_of(delivery.email) is None


def test_mailgun_without_a_signing_key_is_not_set_up_rather_than_a_500(client, send, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    response = post(client, "mailgun", mailgun(first_sent(send)))
    assert response.status_code == 404
    assert "not set up" in response.content.decode()


# -- SendGrid ----------------------------------------------------------------------


def test_a_sendgrid_bounce_and_spam_report_are_matched_by_our_message_id(client, send):
    bounced, complained = (first_sent(send) for _ in range(2))
    payload = sendgrid(SENDGRID_BOUNCE, bounced) + sendgrid(SENDGRID_SPAMREPORT, complained)
    assert post(client, "sendgrid", payload).status_code == 200
    bounced.refresh_from_db()
    complained.refresh_from_db()
    assert bounced.bounced_at is not None and complained.complained_at is not None
    assert suppression_of(bounced.email).reason == Suppression.Reason.BOUNCED
    assert suppression_of(complained.email).reason == Suppression.Reason.COMPLAINED


def test_a_sendgrid_blocked_bounce_is_temporary(client, send):
    delivery = first_sent(send)
    payload = sendgrid(SENDGRID_BOUNCE, delivery, type="blocked", status="4.0.0")
    assert post(client, "sendgrid", payload).status_code == 200
    assert suppression_of(delivery.email) is None


# -- refusals ---------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "newsroom-hooks:wrong", "nobody:" + SECRET])
@pytest.mark.parametrize(
    ("provider", "payload"),
    [("postmark", POSTMARK_BOUNCE), ("sendgrid", [SENDGRID_BOUNCE])],
)
def test_posts_without_the_shared_secret_are_refused_and_change_nothing(
    client, send, provider, payload, secret
):
    response = post(client, provider, payload, secret=secret)
    assert response.status_code == 400
    assert not Suppression.objects.exists()


@pytest.mark.parametrize("provider", ["postmark", "sendgrid", "mailgun"])
@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"\xff\xfe", b'"a string"', b"[1, 2]", b'{"RecordType": []}']
)
def test_a_body_that_is_not_the_providers_format_is_a_400_not_a_500(client, provider, raw):
    response = post(client, provider, None, raw=raw)
    assert 400 <= response.status_code < 500
    assert not Suppression.objects.exists()


def test_webhooks_are_off_until_a_secret_is_set(client, settings):
    settings.ANYMAIL = {}
    response = post(client, "postmark", POSTMARK_BOUNCE)
    assert response.status_code == 404
    assert "ANYMAIL_WEBHOOK_SECRET" in response.content.decode()
    assert not Suppression.objects.exists()


def test_a_get_on_a_webhook_changes_nothing(client):
    response = client.get(reverse("anymail:postmark_tracking_webhook"), **auth())
    assert response.status_code == 405
