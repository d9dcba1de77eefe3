"""Issue mail: started once when an issue goes live, one delivery per
confirmed subscriber, sent through a real SMTP server, with a publisher's
controls (web only, pause, resume, cancel, retry) and the server's answers
(5xx suppresses, 4xx retries later) recorded per copy."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from newsletters.delivery import ledger, sending
from newsletters.models import Delivery, Send, Subscription, Suppression
from newsroom.scheduler import Scheduler, configured_jobs
from stories.editorial import workflow
from stories.editorial.workflow import WorkflowError
from stories.models import AuditEntry
from tests.factories import (
    SubscriptionFactory,
    default_newsletter,
    published_issue,
    scheduled_issue,
    user_in,
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


def issue_mail(smtp_server) -> list:
    """The issue mail the server got (editorial notifications left out)."""
    return [m for m in smtp_server.messages if m.header("List-Id")]


def arrived_to(smtp_server) -> list[str]:
    return sorted(r for m in issue_mail(smtp_server) for r in m.recipients)


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
    assert mailto.startswith(f"<mailto:{issue.newsletter.sender_email}?subject=unsubscribe%20")
    # Each reader's links are their own, and the one-click link works for them.
    assert one_click != other.header("List-Unsubscribe").split(", ")[0]
    from newsletters.links import read_token

    token = one_click.strip("<>").split("/unsubscribe/")[1].split("/")[0]
    assert read_token(token, "unsubscribe").subscriber_id == first.pk
    # The mailto's subject carries the same signed token.
    assert mailto == f"<mailto:{issue.newsletter.sender_email}?subject=unsubscribe%20{token}>"
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


def test_web_only_is_refused_for_an_issue_already_live(
    smtp_server, django_capture_on_commit_callbacks, publisher
):
    """Whoever calls it (the admin, a command, a script): a live issue's mail
    has started or is about to, so it is paused or cancelled instead."""
    subscribers(1)
    issue = published_issue(1)
    with pytest.raises(WorkflowError, match="already live"):
        sending.choose_web_only(publisher, issue)
    assert not Send.objects.filter(issue=issue).exists()
    assert not AuditEntry.objects.filter(issue=issue, action="mail_web_only").exists()
    run_periodic(django_capture_on_commit_callbacks)  # ...and it is mailed, once
    assert len(arrived_to(smtp_server)) == 1


def test_an_issue_live_before_the_mail_window_is_not_mailed(
    smtp_server, django_capture_on_commit_callbacks
):
    subscribers(1)
    issue = published_issue(1, as_of=timezone.now() - timedelta(days=3))
    run_periodic(django_capture_on_commit_callbacks)
    assert smtp_server.messages == []
    assert not Send.objects.filter(issue=issue).exists()


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_mails_a_scheduled_issue_on_its_minute(smtp_server, editorial_groups):
    """run_scheduler's jobs as configured (publish_scheduled, then
    send_due_mail), at the minute before and the minute of the issue; the
    scheduler checks its connection around each job, so this commits for real."""
    newsletter = default_newsletter()
    newsletter.postal_address = "1 Example Street, Exampletown"
    newsletter.save(update_fields=["postal_address"])
    (reader,) = subscribers(1)
    when = (timezone.now() + timedelta(minutes=10)).replace(second=0, microsecond=0)
    issue = scheduled_issue(1, in_minutes=10)
    workflow.unschedule_issue(user_in("Publishers", username="p2"), issue)
    issue = workflow.schedule_issue(user_in("Publishers", username="p3"), issue, when)

    def minute_pass(at):
        with time_machine.travel(at, tick=False):
            Scheduler(configured_jobs(), StringIO(), StringIO(), threading.Event()).run_due(
                at.replace(second=0, microsecond=0)
            )

    minute_pass(when - timedelta(seconds=30))
    assert issue_mail(smtp_server) == []
    minute_pass(when + timedelta(seconds=1))
    assert arrived_to(smtp_server) == [reader.email]
    send = Send.objects.get(issue=issue)
    assert send.started_at == when + timedelta(seconds=1)
    assert send.state == Send.State.FINISHED
    minute_pass(when + timedelta(minutes=1, seconds=1))
    assert len(issue_mail(smtp_server)) == 1


def test_a_second_start_of_the_same_issue_creates_nothing(
    smtp_server, django_capture_on_commit_callbacks
):
    subscribers(2)
    issue = published_issue(1)
    with django_capture_on_commit_callbacks(execute=True):
        first = sending.start_send(issue)
        second = sending.start_send(issue)
    assert first is not None and second is None
    assert Send.objects.count() == 1 and Delivery.objects.count() == 2
    assert len(smtp_server.messages) == 2


def test_a_permanent_refusal_fails_the_copy_and_suppresses_the_address(
    smtp_server, django_capture_on_commit_callbacks
):
    good, bad = subscribers(2)
    smtp_server.refuse(bad.email, "550 5.1.1 No such user")
    issue = published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)

    assert arrived_to(smtp_server) == [good.email]
    failed = Delivery.objects.get(subscriber=bad)
    assert failed.state == D.FAILED and failed.reason.startswith("550")
    assert Suppression.objects.get(email_hash=bad.email_hash).reason == "bounced"
    assert Send.objects.get(issue=issue).state == Send.State.FINISHED


def test_hard_bounces_refused_while_sending_pause_the_send_over_the_limit(
    smtp_server, django_capture_on_commit_callbacks, settings
):
    """A 5xx is a hard bounce: the batch judges the send's bounce rate after
    each chunk that had one, not only when a provider's webhook reports one."""
    settings.NEWSROOM_MAIL_RATE_MIN_SAMPLE = 10
    settings.NEWSROOM_MAIL_RECORD_EVERY = 5
    settings.NEWSROOM_MAIL_PARALLEL = 1
    readers = subscribers(40)
    smtp_server.refuse(readers[0].email, "550 5.1.1 No such user")  # sent first
    issue = published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)

    send = Send.objects.get(issue=issue)
    # 1 of the first 5 copies, judged over 10: 10%, over the 2% limit.
    assert send.state == Send.State.PAUSED
    assert "hard-bounce rate is over 2%" in send.reason
    assert len(arrived_to(smtp_server)) == 4
    assert send.deliveries.filter(state=D.QUEUED).count() == 35
    assert AuditEntry.objects.filter(issue=issue, action="mail_paused").count() == 1


def test_a_refusal_within_the_bounce_limit_lets_the_send_finish(
    smtp_server, django_capture_on_commit_callbacks, settings
):
    settings.NEWSROOM_MAIL_RATE_MIN_SAMPLE = 100
    settings.NEWSROOM_MAIL_RECORD_EVERY = 5
    readers = subscribers(20)
    smtp_server.refuse(readers[0].email, "550 5.1.1 No such user")
    issue = published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)

    # 1 copy judged over at least 100: 1%, within the limit.
    assert Send.objects.get(issue=issue).state == Send.State.FINISHED
    assert len(arrived_to(smtp_server)) == 19


def test_a_temporary_refusal_is_retried_after_a_backoff(
    smtp_server, django_capture_on_commit_callbacks, settings
):
    settings.NEWSROOM_MAIL_RETRY_SECONDS = 60
    (reader,) = subscribers(1)
    smtp_server.refuse(reader.email, "451 4.7.1 Try again later", times=1)
    issue = published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert delivery.state == D.QUEUED and delivery.attempts == 1
    assert delivery.reason.startswith("451")
    assert smtp_server.messages == []
    assert Send.objects.get(issue=issue).state == Send.State.SENDING

    # Not before its time comes; then the scheduler's pass sends it.
    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        run_periodic(django_capture_on_commit_callbacks)
    assert smtp_server.messages == []
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        run_periodic(django_capture_on_commit_callbacks)
    assert arrived_to(smtp_server) == [reader.email]
    delivery.refresh_from_db()
    assert delivery.state == D.SENT
    assert Send.objects.get(issue=issue).state == Send.State.FINISHED


def test_a_copy_refused_for_now_too_many_times_fails(
    smtp_server, django_capture_on_commit_callbacks, settings
):
    settings.NEWSROOM_MAIL_MAX_ATTEMPTS = 2
    (reader,) = subscribers(1)
    smtp_server.refuse(reader.email, "452 4.2.2 Mailbox full")
    published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        run_periodic(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert delivery.state == D.FAILED and delivery.attempts == 2
    assert "Gave up after 2 attempts" in delivery.reason
    # A full mailbox is not a dead address.
    assert not Suppression.objects.exists()


def test_a_reader_who_unsubscribes_after_the_start_is_skipped(
    smtp_server, django_capture_on_commit_callbacks, settings
):
    stays, leaves = subscribers(2)
    issue = published_issue(1)
    sending.start_send(issue)  # on_commit never runs here: nothing is sent yet
    Subscription.objects.filter(subscriber=leaves).update(state="unsubscribed")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_due_mail")
    # The scheduler's pass found the send idle only once its idle time passed.
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        run_periodic(django_capture_on_commit_callbacks)
    assert arrived_to(smtp_server) == [stays.email]
    skipped = Delivery.objects.get(subscriber=leaves)
    assert skipped.state == D.SKIPPED and skipped.reason == "No longer subscribed."


def test_a_newsletter_without_a_postal_address_starts_paused_and_says_why(
    smtp_server, django_capture_on_commit_callbacks, _newsletter_can_mail, publisher
):
    subscribers(1)
    _newsletter_can_mail.postal_address = ""
    _newsletter_can_mail.save(update_fields=["postal_address"])
    issue = published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)
    send = Send.objects.get(issue=issue)
    assert send.state == Send.State.PAUSED and "postal address" in send.reason
    with pytest.raises(WorkflowError, match="postal address"):
        sending.resume_send(publisher, send)

    _newsletter_can_mail.postal_address = "1 Example Street"
    _newsletter_can_mail.save(update_fields=["postal_address"])
    with django_capture_on_commit_callbacks(execute=True):
        sending.resume_send(publisher, send)
    assert len(smtp_server.messages) == 1


# -- a publisher's controls ---------------------------------------------------------


def started(issue) -> Send:
    """issue's send, started with its tasks not yet run."""
    return sending.start_send(issue)


def test_pause_stops_the_send_and_resume_sends_only_what_is_left(
    smtp_server, django_capture_on_commit_callbacks, publisher, settings
):
    settings.NEWSROOM_MAIL_BATCH = 2
    readers = subscribers(5)
    send = started(published_issue(1))
    # Two copies go out, then the publisher pauses.
    ledger.claim(send.pk, 0)  # claiming nothing changes nothing
    from newsletters.delivery.batch import Sender

    first = ledger.claim(send.pk, 2)
    sender = Sender(Send.objects.select_related("issue__newsletter").get(pk=send.pk))
    sender.open()
    sender.run(first, lambda: True)
    sender.close()
    sending.pause_send(publisher, send, "Checking a figure.")
    assert ledger.claim(send.pk, 10) == []  # a paused send hands out nothing
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_due_mail")
    assert len(smtp_server.messages) == 2

    with django_capture_on_commit_callbacks(execute=True):
        sending.resume_send(publisher, send)
    assert arrived_to(smtp_server) == sorted(r.email for r in readers)
    send.refresh_from_db()
    assert send.state == Send.State.FINISHED
    actions = list(
        AuditEntry.objects.filter(issue=send.issue, action__startswith="mail_")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["mail_started", "mail_paused", "mail_resumed", "mail_finished"]


def test_cancel_skips_every_copy_not_yet_sent(
    smtp_server, django_capture_on_commit_callbacks, publisher
):
    subscribers(3)
    send = started(published_issue(1))
    with django_capture_on_commit_callbacks(execute=True):
        sending.cancel_send(publisher, send, "Wrong issue.")
        call_command("send_due_mail")
    assert smtp_server.messages == []
    assert set(send.deliveries.values_list("state", flat=True)) == {D.SKIPPED}
    with pytest.raises(WorkflowError):
        sending.resume_send(publisher, send)


def test_retry_queues_only_the_failed_copies(
    smtp_server, django_capture_on_commit_callbacks, publisher
):
    good, bad = subscribers(2)
    smtp_server.refuse(bad.email, "554 5.7.1 Rejected", times=1)
    issue = published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)
    send = Send.objects.get(issue=issue)
    assert send.state == Send.State.FINISHED
    # Staff lift the suppression after checking; the retry sends to bad only.
    Suppression.objects.filter(email_hash=bad.email_hash).delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.retry_failed(publisher, send) == 1
    assert arrived_to(smtp_server) == sorted([good.email, bad.email])
    with pytest.raises(WorkflowError, match="No deliveries"):
        sending.retry_failed(publisher, send)


@pytest.mark.parametrize("action", ["pause_send", "cancel_send", "retry_failed", "resume_send"])
def test_only_publishers_control_sends(editor, action):
    subscribers(1)
    send = started(published_issue(1))
    with pytest.raises(WorkflowError, match="permission"):
        getattr(sending, action)(editor, send)


def test_web_only_can_be_undone_before_the_issue_goes_live_only(publisher):
    upcoming = scheduled_issue(1, in_minutes=30)
    sending.choose_web_only(publisher, upcoming)
    sending.choose_mail(publisher, upcoming)
    assert not Send.objects.filter(issue=upcoming).exists()

    sending.choose_web_only(publisher, upcoming)
    with (
        time_machine.travel(upcoming.publish_at + timedelta(minutes=1)),
        pytest.raises(WorkflowError, match="already live"),
    ):
        sending.choose_mail(publisher, upcoming)


def test_a_killed_workers_copies_come_back_after_their_lease(
    smtp_server, django_capture_on_commit_callbacks, settings
):
    settings.NEWSROOM_MAIL_LEASE_SECONDS = 60
    readers = subscribers(3)
    send = started(published_issue(1))
    held = ledger.claim(send.pk, 2)  # ...and the worker dies here
    assert len(held) == 2
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_due_mail")  # within the lease: left alone
    assert Delivery.objects.filter(state=D.SENDING).count() == 2
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        run_periodic(django_capture_on_commit_callbacks)
    assert arrived_to(smtp_server) == sorted(r.email for r in readers)
    assert set(send.deliveries.values_list("state", flat=True)) == {D.SENT}


def test_a_sent_copy_is_never_sent_again(smtp_server, django_capture_on_commit_callbacks):
    (reader,) = subscribers(1)
    issue = published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    send = delivery.send
    # Whatever a confused caller does: record a failure, release, re-run.
    ledger.record_temporary_failure(delivery.pk, "451 later")
    ledger.record_permanent_failure(delivery.pk, "550 no")
    ledger.release([delivery.pk])
    with django_capture_on_commit_callbacks(execute=True):
        from newsletters.delivery.tasks import send_batches

        send_batches.enqueue(send.pk)
    delivery.refresh_from_db()
    assert delivery.state == D.SENT
    assert arrived_to(smtp_server) == [reader.email]
    assert issue.pk == send.issue_id


@pytest.mark.database_tasks
def test_a_batch_task_whose_time_is_up_queues_itself_again(
    smtp_server, django_capture_on_commit_callbacks, settings
):
    """The batch sender only says the send is still going; the task queues
    its successor, so the worker serves other tasks in between."""
    from django_tasks_db.models import DBTaskResult

    from newsletters.delivery.tasks import send_batches

    settings.NEWSROOM_MAIL_PARALLEL = 1
    readers = subscribers(3)
    with django_capture_on_commit_callbacks(execute=True):
        send = sending.start_send(published_issue(1))
    queued = DBTaskResult.objects.filter(task_path=send_batches.module_path)
    assert queued.count() == 1  # waiting for a worker

    settings.NEWSROOM_MAIL_TASK_SECONDS = 0  # its time is up at once
    assert send_batches.call(send.pk).endswith("carrying on in a new task")
    assert queued.count() == 2

    settings.NEWSROOM_MAIL_TASK_SECONDS = 60
    assert send_batches.call(send.pk) == "3 sent, 0 failed, 0 to retry"
    assert queued.count() == 2  # done: nothing more is queued
    assert arrived_to(smtp_server) == sorted(r.email for r in readers)
    assert Send.objects.get(pk=send.pk).state == Send.State.FINISHED


# -- other backends and the rate limit ---------------------------------------------------


def test_a_provider_backend_gets_the_same_mail_and_its_message_ids_are_kept(
    django_capture_on_commit_callbacks, settings, mailoutbox
):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    readers = subscribers(2)
    issue = published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)

    assert sorted(m.to[0] for m in mailoutbox) == sorted(r.email for r in readers)
    for message in mailoutbox:
        assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.extra_headers["Message-ID"].startswith(f"<issue-{issue.pk}.")
    provider_ids = set(Delivery.objects.values_list("provider_message_id", flat=True))
    assert provider_ids == {"0", "1"}  # the test provider numbers its messages
    assert set(Delivery.objects.values_list("state", flat=True)) == {D.SENT}


def test_a_provider_gets_each_copys_delivery_as_metadata_for_its_webhooks(
    django_capture_on_commit_callbacks, settings, mailoutbox
):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    subscribers(3)
    published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)

    deliveries = dict(Delivery.objects.values_list("email", "pk"))
    assert len(mailoutbox) == 3
    for message in mailoutbox:
        assert message.metadata == {"delivery": str(deliveries[message.to[0]])}
        # What the provider was asked to send carries it too.
        assert message.anymail_test_params["metadata"] == message.metadata


def test_prebuilt_and_provider_copies_carry_the_same_signed_unsubscribe_mailto(
    smtp_server, django_capture_on_commit_callbacks, settings, mailoutbox
):
    """The SMTP path splices each reader's token into prebuilt bytes; a
    provider gets a message built by newsletters.mail.message: both name the
    same mailbox and a token that unsubscribes that reader from that issue."""
    from newsletters.links import read_token

    settings.NEWSROOM_MAIL_UNSUBSCRIBE_ADDRESS = "Unsubscribe <unsubscribe@news.example>"
    first, second = subscribers(2)
    issue = published_issue(1)
    run_periodic(django_capture_on_commit_callbacks)  # through SMTP, prebuilt
    # A second issue's send goes through a provider's backend.
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    again = published_issue(2)
    run_periodic(django_capture_on_commit_callbacks)

    prefix = "mailto:unsubscribe@news.example?subject=unsubscribe%20"
    by_path = {
        "smtp": {m.recipients[0]: m.header("List-Unsubscribe") for m in issue_mail(smtp_server)},
        "provider": {m.to[0]: m.extra_headers["List-Unsubscribe"] for m in mailoutbox},
    }
    for path, issue_of_path in (("smtp", issue), ("provider", again)):
        assert set(by_path[path]) == {first.email, second.email}
        for reader in (first, second):
            mailto = by_path[path][reader.email].split(", ")[1].strip("<>")
            assert mailto.startswith(prefix), path
            target = read_token(mailto.removeprefix(prefix), "unsubscribe")
            assert (target.subscriber_id, target.issue_id) == (reader.pk, issue_of_path.pk)
            assert target.newsletter_id == issue.newsletter_id


def test_the_rate_limit_holds_every_worker_to_its_share_of_each_second(
    smtp_server, django_capture_on_commit_callbacks, settings, monkeypatch
):
    """NEWSROOM_MAIL_RATE is counted per second in the shared cache; a worker
    that has used the second's share waits for the next. The clock is moved
    rather than slept on."""
    settings.NEWSROOM_MAIL_RATE = 3
    settings.NEWSROOM_MAIL_RECORD_EVERY = 1
    readers = subscribers(7)
    waits = []
    with time_machine.travel(timezone.now(), tick=False) as traveller:

        def sleep(seconds):
            waits.append(seconds)
            traveller.shift(seconds)

        monkeypatch.setattr("newsletters.delivery.batch.time.sleep", sleep)
        published_issue(1)
        run_periodic(django_capture_on_commit_callbacks)
    assert arrived_to(smtp_server) == sorted(r.email for r in readers)
    # Seven messages at three a second span three seconds: two waits at least.
    assert len(waits) >= 2
