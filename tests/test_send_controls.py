"""A publisher's controls over an issue's mail on its admin page (web only,
pause, resume, cancel, retry the failed), the live progress panel, the
failed deliveries and each send's totals on the newsletter's page."""

import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from newsletters.delivery import ledger, progress, sending
from newsletters.models import Delivery, Send, Subscription
from stories.models import AuditEntry
from tests.factories import (
    NewsletterFactory,
    SubscriptionFactory,
    issue_with_stories,
    published_issue,
    user_in,
)
from tests.send_helpers import hand_over, live_send, mailing_newsletter

pytestmark = pytest.mark.django_db

D = Delivery.State
S = Send.State


def control_url(issue, name):
    return reverse(f"admin:newsletters_issue_mail_{name.replace('-', '_')}", args=[issue.pk])


def change_url(issue):
    return reverse("admin:stories_issue_change", args=[issue.pk])


def page_of(client, issue) -> str:
    response = client.get(change_url(issue))
    assert response.status_code == 200
    return response.content.decode()


def mail_actions(issue) -> list[str]:
    return list(
        AuditEntry.objects.filter(issue=issue, action__startswith="mail_")
        .order_by("pk")
        .values_list("action", flat=True)
    )


@pytest.fixture
def newsletter():
    return mailing_newsletter()


# -- web only --------------------------------------------------------------------


def test_a_publisher_marks_an_issue_web_only_before_it_goes_live(client, publisher, newsletter):
    issue = issue_with_stories(1, newsletter=newsletter)
    client.force_login(publisher)
    assert "Web only: do not mail" in page_of(client, issue)
    response = client.post(control_url(issue, "web-only"), follow=True)
    assert "it will not be mailed when it goes live" in response.content.decode()
    assert Send.objects.get(issue=issue).state == S.WEB_ONLY
    assert mail_actions(issue) == ["mail_web_only"]
    # And changes their mind: it will be mailed after all.
    assert "Mail it when it goes live" in page_of(client, issue)
    client.post(control_url(issue, "mail-it"))
    assert not Send.objects.filter(issue=issue).exists()
    assert mail_actions(issue) == ["mail_web_only", "mail_chosen"]


def test_a_web_only_issue_is_not_mailed_when_it_goes_live(publisher, newsletter):
    SubscriptionFactory.create_batch(3, newsletter=newsletter)
    issue = issue_with_stories(1, newsletter=newsletter)
    sending.choose_web_only(publisher, issue)
    published = published_issue(1, newsletter=newsletter)
    due = list(sending.issues_due_for_mail())
    assert published in due and issue not in due


def test_web_only_is_refused_once_the_issue_is_live(client, publisher, newsletter):
    issue = published_issue(1, newsletter=newsletter)
    client.force_login(publisher)
    assert "Web only: do not mail" not in page_of(client, issue)
    response = client.post(control_url(issue, "web-only"), follow=True)
    assert "This issue is already live" in response.content.decode()
    assert not Send.objects.filter(issue=issue).exists()


def test_editors_see_the_mail_but_no_controls_and_cannot_post_them(client, editor, newsletter):
    send = live_send(newsletter)
    client.force_login(editor)
    page = page_of(client, send.issue)
    assert 'id="mail-progress"' in page
    assert "Pause sending" not in page and "Cancel the send" not in page
    for name in ["pause", "resume", "retry", "cancel", "web-only", "mail-it"]:
        assert client.post(control_url(send.issue, name)).status_code == 403
    send.refresh_from_db()
    assert send.state == S.SENDING


def test_writers_see_no_mail_panel_at_all(client, writer, newsletter):
    send = live_send(newsletter)
    client.force_login(writer)
    page = page_of(client, send.issue)
    assert 'id="mail"' not in page
    progress_url = reverse("admin:newsletters_issue_mail_progress", args=[send.issue.pk])
    assert client.get(progress_url).status_code == 403


@pytest.mark.parametrize("name", ["pause", "resume", "retry", "web-only", "mail-it"])
def test_controls_change_nothing_on_a_get(client, publisher, newsletter, name):
    send = live_send(newsletter)
    client.force_login(publisher)
    assert client.get(control_url(send.issue, name)).status_code == 405
    send.refresh_from_db()
    assert send.state == S.SENDING


def test_controls_need_the_csrf_token(publisher, newsletter):
    from django.test import Client

    send = live_send(newsletter)
    client = Client(enforce_csrf_checks=True)
    client.force_login(publisher)
    assert client.post(control_url(send.issue, "pause")).status_code == 403
    send.refresh_from_db()
    assert send.state == S.SENDING


# -- pause, resume, cancel, retry ------------------------------------------------------


def test_pause_and_resume_from_the_issue_page(client, publisher, newsletter):
    send = live_send(newsletter)
    client.force_login(publisher)
    assert "Pause sending" in page_of(client, send.issue)
    response = client.post(control_url(send.issue, "pause"), follow=True)
    assert "is paused; nothing more goes out" in response.content.decode()
    send.refresh_from_db()
    assert send.state == S.PAUSED
    assert ledger.claim(send.pk, 10) == []  # no worker gets work from a paused send
    page = page_of(client, send.issue)
    assert "Resume sending" in page and "Pause sending" not in page
    response = client.post(control_url(send.issue, "resume"), follow=True)
    assert "is sending again, from where it stopped" in response.content.decode()
    send.refresh_from_db()
    assert send.state == S.SENDING
    assert mail_actions(send.issue) == ["mail_started", "mail_paused", "mail_resumed"]


def test_resuming_a_send_that_is_not_paused_says_why(client, publisher, newsletter):
    send = live_send(newsletter)
    client.force_login(publisher)
    response = client.post(control_url(send.issue, "resume"), follow=True)
    assert "Only a paused send can be resumed; this one is sending." in response.content.decode()


def test_cancel_asks_first_then_skips_what_was_not_sent(client, publisher, newsletter):
    send = live_send(newsletter, readers=5)
    hand_over(send, sent=2)
    client.force_login(publisher)
    confirm = client.get(control_url(send.issue, "cancel"))
    assert confirm.status_code == 200
    assert "the 3 copies not yet sent will not be" in confirm.content.decode()
    send.refresh_from_db()
    assert send.state == S.SENDING  # the GET changed nothing
    response = client.post(
        control_url(send.issue, "cancel"), {"reason": "Wrong issue went out."}, follow=True
    )
    assert "is cancelled" in response.content.decode()
    send.refresh_from_db()
    assert send.state == S.CANCELLED
    counts = ledger.delivery_counts(send)
    assert counts[D.SENT] == 2 and counts[D.SKIPPED] == 3
    entry = AuditEntry.objects.get(issue=send.issue, action="mail_cancelled")
    assert entry.actor == publisher and "Wrong issue went out." in entry.comment
    page = page_of(client, send.issue)
    assert "Resume sending" not in page and "Cancel the send" not in page


def test_retry_queues_only_the_failed_and_never_a_sent_copy(client, publisher, newsletter):
    send = live_send(newsletter, readers=6)
    hand_over(send, sent=4, refused=2)
    sent_before = dict(
        Delivery.objects.filter(send=send, state=D.SENT).values_list("pk", "sent_at")
    )
    client.force_login(publisher)
    assert "Retry the failed deliveries" in page_of(client, send.issue)
    response = client.post(control_url(send.issue, "retry"), follow=True)
    assert "2 failed deliveries of issue" in response.content.decode()
    counts = ledger.delivery_counts(send)
    assert counts[D.SENT] == 4 and counts[D.QUEUED] == 2 and counts[D.FAILED] == 0
    assert (
        dict(Delivery.objects.filter(send=send, state=D.SENT).values_list("pk", "sent_at"))
        == sent_before
    )
    # A worker now claims the queued copies only; the sent ones are not offered.
    claimed = {c.delivery_id for c in ledger.claim(send.pk, 100)}
    assert claimed.isdisjoint(sent_before)
    assert "mail_retried" in mail_actions(send.issue)


def test_retry_with_nothing_failed_says_so(client, publisher, newsletter):
    send = live_send(newsletter)
    client.force_login(publisher)
    assert "Retry the failed deliveries" not in page_of(client, send.issue)
    response = client.post(control_url(send.issue, "retry"), follow=True)
    assert "No deliveries of this send have failed." in response.content.decode()


def test_controls_on_an_issue_without_mail_are_a_404(client, publisher, newsletter):
    issue = issue_with_stories(1, newsletter=newsletter)
    client.force_login(publisher)
    assert client.post(control_url(issue, "pause")).status_code == 404


# -- progress --------------------------------------------------------------------------


def test_the_panel_shows_counts_and_an_accessible_progress_bar(client, publisher, newsletter):
    send = live_send(newsletter, readers=10)
    hand_over(send, sent=6, refused=1)
    client.force_login(publisher)
    page = page_of(client, send.issue)
    assert '<progress id="mail-progress-bar" max="10" value="7"' in page
    assert '<label for="mail-progress-bar"' in page
    assert "7 of 10 done" in page
    assert 'data-field="sent">6<' in page and 'data-field="failed">1<' in page
    assert 'data-field="queued">3<' in page
    assert "js/send-progress.js" in page and "<script>" not in page
    # The failed copy is listed with its reason.
    assert "550 5.1.1 No such user" in page


def test_the_progress_endpoint_gives_counts_rate_and_estimated_finish(
    client, publisher, newsletter
):
    send = live_send(newsletter, readers=10)
    hand_over(send, sent=4)
    client.force_login(publisher)
    url = reverse("admin:newsletters_issue_mail_progress", args=[send.issue.pk])
    response = client.get(url)
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["state"] == "sending"
    assert (data["sent"], data["queued"], data["total"], data["done"]) == (4, 6, 10, 4)
    assert data["percent"] == 40
    assert data["rate"] > 0 and data["eta"] is not None
    assert re.fullmatch(r"\d\d:\d\d:\d\d", data["eta_label"])


def test_a_paused_send_has_no_rate_or_estimate(publisher, newsletter):
    send = live_send(newsletter)
    sending.pause_send(publisher, send)
    shown = progress.progress(Send.objects.get(pk=send.pk))
    assert shown.rate is None and shown.eta is None and shown.state == S.PAUSED


def test_progress_reads_in_two_queries_however_large_the_send(
    newsletter, django_assert_num_queries
):
    small = live_send(newsletter, readers=3)
    large = live_send(NewsletterFactory(name="The Numbered Digest"), readers=40)
    for send in (small, large):
        # 1. counts by state, grouped; 2. copies sent in the last minute.
        with django_assert_num_queries(2):
            progress.progress(send)


def test_failed_deliveries_are_paginated_and_a_bad_page_is_not_an_error(
    client, publisher, newsletter
):
    send = live_send(newsletter, readers=progress.FAILED_PER_PAGE + 7)
    hand_over(send, refused=progress.FAILED_PER_PAGE + 7)
    client.force_login(publisher)
    url = reverse("admin:newsletters_issue_mail_failed", args=[send.issue.pk])
    first = client.get(url)
    assert len(first.context["page"].rows) == progress.FAILED_PER_PAGE
    assert "Next page" in first.content.decode()
    assert len(client.get(url + "?page=2").context["page"].rows) == 7
    for bad in ["abc", "999", "-1", "1e9"]:
        response = client.get(url, {"page": bad})
        assert response.status_code == 200


def test_failed_addresses_are_masked_unless_the_user_may_see_subscribers(
    client, publisher, newsletter
):
    send = live_send(newsletter, readers=1)
    hand_over(send, refused=1)
    address = Delivery.objects.get(send=send).email
    client.force_login(publisher)
    assert address not in page_of(client, send.issue)
    assert progress.masked(address) in page_of(client, send.issue)
    audience_publisher = user_in("Publishers", username="list-keeper")
    audience_publisher.groups.add(*user_in("Audience", username="audience").groups.all())
    client.force_login(type(audience_publisher).objects.get(pk=audience_publisher.pk))
    assert address in page_of(client, send.issue)


# -- the newsletter's page --------------------------------------------------------------


def test_the_newsletter_page_lists_each_sends_totals(client, publisher, newsletter):
    send = live_send(newsletter, readers=6)
    hand_over(send, sent=4, refused=1)
    sent = list(Delivery.objects.filter(send=send, state=D.SENT))
    ledger.record_bounce(sent[0], "Hard bounce: mailbox does not exist")
    ledger.record_complaint(sent[1], "Marked as spam")
    Subscription.objects.filter(subscriber=sent[2].subscriber, newsletter=newsletter).update(
        state=Subscription.State.UNSUBSCRIBED, unsubscribed_from_issue=send.issue
    )
    [row] = progress.newsletter_sends(newsletter)
    assert row["issue"] == send.issue
    assert (row["audience"], row["delivered"], row["bounced"]) == (6, 3, 2)
    assert (row["complained"], row["failed"], row["unsubscribed"]) == (1, 1, 1)
    client.force_login(publisher)
    page = client.get(reverse("admin:stories_newsletter_change", args=[newsletter.pk]))
    html = page.content.decode()
    assert "Issues mailed" in html and f"#{send.issue.number}" in html
    assert "<caption>The latest send and what became of it</caption>" in html


def test_a_finished_send_shows_when_it_finished_instead_of_a_rate(client, publisher, newsletter):
    send = live_send(newsletter, readers=3)
    client.force_login(publisher)
    assert "messages a second" in page_of(client, send.issue)  # while it sends
    hand_over(send, sent=3)
    assert sending.finish_if_done(send.pk)
    send.refresh_from_db()
    assert send.state == S.FINISHED
    page = page_of(client, send.issue)
    assert "messages a second" not in page and "Estimated finish" not in page
    assert "<dt>Finished at</dt>" in page
    finished = timezone.localtime(send.finished_at).strftime("%H:%M:%S")
    assert f"<dd>{finished}, " in page


def test_the_newsletter_page_counts_in_constant_queries(newsletter, django_assert_num_queries):
    for _ in range(3):
        send = live_send(newsletter, readers=2)
        hand_over(send, sent=1, refused=1)
    # 1. the sends with their issues; 2. delivery totals grouped by send;
    # 3. unsubscribes grouped by issue.
    with django_assert_num_queries(3):
        rows = progress.newsletter_sends(newsletter)
    assert len(rows) == 3


def test_the_scheduler_finishes_a_send_whose_worker_died_after_its_last_copies(newsletter):
    """A worker killed between recording the last copies and finishing the
    send leaves it sending with nothing left; the scheduler's next pass
    finishes it, however recently that worker touched it."""
    send = live_send(newsletter, readers=3)
    hand_over(send, sent=3)
    Send.objects.filter(pk=send.pk).update(worked_at=timezone.now())
    assert sending.kick_stalled_sends() == []
    send.refresh_from_db()
    assert send.state == S.FINISHED
    assert AuditEntry.objects.filter(issue=send.issue, action="mail_finished").count() == 1


def test_the_scheduler_leaves_sending_a_send_with_a_copy_to_retry_later_or_held(newsletter):
    send = live_send(newsletter, readers=3)
    hand_over(send, sent=1)
    # One refused for now, to be tried again in a minute; one held by a worker.
    [retry] = ledger.claim(send.pk, 1)
    ledger.record_temporary_failure(retry.delivery_id, "451 4.7.1 Try again later")
    assert Delivery.objects.get(pk=retry.delivery_id).next_attempt_at > timezone.now()
    [held] = ledger.claim(send.pk, 1)
    Send.objects.filter(pk=send.pk).update(worked_at=timezone.now())
    assert sending.kick_stalled_sends() == []
    send.refresh_from_db()
    assert send.state == S.SENDING
    # The held copy is recorded; the one to retry still keeps the send open.
    ledger.record_sent([held.delivery_id])
    sending.kick_stalled_sends()
    send.refresh_from_db()
    assert send.state == S.SENDING
