"""A send whose complaint or hard-bounce rate crosses its limit pauses itself,
writes it in the audit trail, shows it on the issue's page and mails the
publisher who put the issue out."""

import pytest
from django.urls import reverse

from newsletters.delivery import ledger, sending, thresholds
from newsletters.models import Delivery, Send
from stories.models import AuditEntry
from tests.factories import user_in
from tests.send_helpers import hand_over, live_send, mailing_newsletter

pytestmark = pytest.mark.django_db

S = Send.State


@pytest.fixture
def small_sample(settings):
    settings.NEWSROOM_MAIL_RATE_MIN_SAMPLE = 10


def delivered(send, count: int) -> list[Delivery]:
    return list(Delivery.objects.filter(pk__in=hand_over(send, sent=count)))


def test_a_complaint_rate_over_the_limit_pauses_the_send_and_tells_the_publisher(
    small_sample, smtp_server, client, django_capture_on_commit_callbacks
):
    send = live_send(mailing_newsletter(), readers=20)
    copies = delivered(send, 20)
    ledger.record_complaint(copies[0], "Marked as spam")
    # The note goes once the pause has committed.
    with django_capture_on_commit_callbacks(execute=True):
        reason = thresholds.check(send)
    assert reason is not None and "complaint rate is over 0.1%" in reason
    send.refresh_from_db()
    assert send.state == S.PAUSED and send.paused_by is None and send.reason == reason
    entry = AuditEntry.objects.get(issue=send.issue, action="mail_paused")
    assert entry.actor is None and entry.comment == reason
    # The publisher who published the issue hears of it.
    [note] = smtp_server.wait_for(1)
    assert note.recipients == ("factory-publishers@example.com",)
    assert f"Mail of issue #{send.issue.number} paused" in note.subject
    assert reason in note.message.get_content()
    # And the issue's page says so.
    client.force_login(user_in("Publishers", username="on-duty"))
    page = client.get(reverse("admin:stories_issue_change", args=[send.issue.pk]))
    html = page.content.decode()
    assert "This send paused itself." in html and "Resume sending" in html


def test_a_hard_bounce_rate_over_two_percent_pauses_the_send(small_sample, smtp_server):
    send = live_send(mailing_newsletter(), readers=40)
    copies = delivered(send, 40)
    ledger.record_bounce(copies[0], "Hard bounce")
    assert "hard-bounce rate is over 2% (1 of 40 copies)" in thresholds.check(send)
    assert Send.objects.get(pk=send.pk).state == S.PAUSED


def test_a_rate_at_the_limit_is_not_over_it(small_sample):
    send = live_send(mailing_newsletter(), readers=50)
    copies = delivered(send, 50)
    ledger.record_bounce(copies[0], "Hard bounce")  # 1 in 50: exactly 2%
    assert thresholds.check(send) is None
    assert Send.objects.get(pk=send.pk).state == S.SENDING


def test_refusals_while_sending_count_as_hard_bounces(small_sample, smtp_server):
    send = live_send(mailing_newsletter(), readers=30)
    hand_over(send, sent=28, refused=2)  # 2 of 30 refused for good: 6.7%
    assert thresholds.tallies(send) == {"attempted": 30, "bounced": 2, "complained": 0}
    reason = thresholds.check(send)
    assert "hard-bounce rate is over 2%" in reason
    assert Send.objects.get(pk=send.pk).state == S.PAUSED


def test_within_the_limits_the_send_carries_on(small_sample):
    send = live_send(mailing_newsletter(), readers=60)
    hand_over(send, sent=59, refused=1)  # 1.7% bounced, no complaint
    assert thresholds.check(send) is None
    assert Send.objects.get(pk=send.pk).state == S.SENDING


def test_one_early_complaint_does_not_stop_a_send_judged_over_the_minimum_sample(smtp_server):
    send = live_send(mailing_newsletter(), readers=20)
    copies = delivered(send, 20)
    ledger.record_complaint(copies[0], "Marked as spam")
    # 1 complaint counts as 1 in 1,000 (the default minimum), which is not over 0.1%.
    assert thresholds.check(send) is None
    ledger.record_complaint(copies[1], "Marked as spam")
    assert "judged over at least 1000" in thresholds.check(send)


def test_a_paused_or_finished_send_is_left_alone(small_sample, publisher):
    send = live_send(mailing_newsletter(), readers=10)
    copies = delivered(send, 10)
    ledger.record_complaint(copies[0], "Marked as spam")
    sending.pause_send(publisher, send)
    assert thresholds.check(Send.objects.get(pk=send.pk)) is None
    assert AuditEntry.objects.filter(issue=send.issue, action="mail_paused").count() == 1


def test_the_limits_are_settings(small_sample, settings):
    settings.NEWSROOM_MAIL_COMPLAINT_RATE = 0.2
    send = live_send(mailing_newsletter(), readers=10)
    copies = delivered(send, 10)
    ledger.record_complaint(copies[0], "Marked as spam")
    assert thresholds.check(send) is None


def test_with_no_known_publisher_every_publisher_is_told(
    small_sample, smtp_server, django_capture_on_commit_callbacks
):
    send = live_send(mailing_newsletter(), readers=10)
    AuditEntry.objects.filter(issue=send.issue).update(actor=None)
    user_in("Publishers", username="night-desk")
    copies = delivered(send, 10)
    ledger.record_complaint(copies[0], "Marked as spam")
    with django_capture_on_commit_callbacks(execute=True):
        thresholds.check(send)
    [note] = smtp_server.wait_for(1)
    assert set(note.recipients) == {"factory-publishers@example.com", "night-desk@example.com"}


def test_a_webhook_complaint_over_the_limit_pauses_the_send(small_sample, client, settings):
    import base64
    import json

    settings.ANYMAIL = {"WEBHOOK_SECRET": "hooks:secret"}
    send = live_send(mailing_newsletter(), readers=10)
    ids = hand_over(send, sent=10, provider_ids=[f"pm-{n}" for n in range(10)])
    copy = Delivery.objects.get(pk=ids[0])
    response = client.post(
        reverse("anymail:postmark_tracking_webhook"),
        json.dumps(
            {
                "RecordType": "SpamComplaint",
                "Type": "SpamComplaint",
                "TypeCode": 512,
                "MessageID": copy.provider_message_id,
                "Email": copy.email,
                "BouncedAt": "2019-11-05T16:33:54.9070259Z",
                "Details": "Test spam complaint details",
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"hooks:secret").decode(),
    )
    assert response.status_code == 200
    assert Send.objects.get(pk=send.pk).state == S.PAUSED
