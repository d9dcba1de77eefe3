"""A publisher's actions on an issue's mail, and the ones that put work in
the queue: choosing web only, starting a send and fixing its audience,
pausing, resuming, cancelling, retrying the failed copies, and (for
send_due_mail) taking back copies a dead worker held and waking sends no
worker is moving.

The admin and the periodic command only call these functions. Each change
runs in a transaction with the send row locked and writes an audit row on
the issue (stories.AuditEntry); batch tasks are queued once the change has
committed. What happens to each copy while it is sent (claims, results,
bounces, an automatic pause) is newsletters/delivery/ledger.py, which the
batch task uses: dependencies run actions -> tasks -> batch -> ledger.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from newsletters.bulk import db_datetime
from newsletters.delivery.ledger import (
    audit_send,
    finish_if_done,
    lease,
    locked,
    set_state,
    state_word,
)
from newsletters.delivery.tasks import send_batches
from newsletters.models import Delivery, Send, Subscription
from stories.editorial.workflow import WorkflowError
from stories.models import Issue

log = logging.getLogger(__name__)

S = Send.State
D = Delivery.State

PUBLISH_PERMISSION = "stories.publish_issue"


def mail_window() -> timedelta:
    """How long after its publication time an issue may still start its mail.

    An issue dated earlier than this when it goes live (content moved from
    another platform, an old issue published again after a withdrawal) is
    not mailed: its readers would get news days old, unasked."""
    return timedelta(hours=getattr(settings, "NEWSROOM_MAIL_WINDOW_HOURS", 24))


def parallel_tasks() -> int:
    """Batch tasks queued per send: one per worker process expected to share it."""
    return getattr(settings, "NEWSROOM_MAIL_PARALLEL", 2)


# -- helpers -------------------------------------------------------------------


def _require_publisher(user, doing: str) -> None:
    if user is None or not user.has_perm(PUBLISH_PERMISSION):
        raise WorkflowError(f"You do not have permission to {doing}.")


def _queue_batches(send_id: int, count: int | None = None) -> None:
    """Queue the batch tasks of a send once the transaction commits."""
    count = parallel_tasks() if count is None else count

    def enqueue():
        for _ in range(count):
            send_batches.enqueue(send_id)

    transaction.on_commit(enqueue)


# -- web only --------------------------------------------------------------------


@transaction.atomic
def choose_web_only(user, issue: Issue, reason: str = "") -> Send:
    """Mark issue as web only: it will not be mailed when it goes live. Only
    before it goes live: web only is a choice made before readers see the
    issue; once it is live its mail has started or is about to, and is paused
    or cancelled instead."""
    _require_publisher(user, "choose whether issues are mailed")
    issue = Issue.objects.select_for_update().get(pk=issue.pk)
    existing = Send.objects.filter(issue=issue).first()
    if existing is not None:
        if existing.state == S.WEB_ONLY:
            return existing
        raise WorkflowError("This issue's mail has already started; pause or cancel it instead.")
    now = timezone.now()
    if Issue.objects.published(now).filter(pk=issue.pk).exists():
        raise WorkflowError(
            "This issue is already live, so its mail has started or is about to; "
            "pause or cancel the send instead."
        )
    try:
        with transaction.atomic():
            send = Send.objects.create(
                issue=issue,
                newsletter_id=issue.newsletter_id,
                state=S.WEB_ONLY,
                reason=(reason.strip() or "Chosen as web only.")[:300],
                state_changed_at=now,
                created_at=now,
            )
    except IntegrityError:
        # The scheduler started the mail a moment ago.
        raise WorkflowError(
            "This issue's mail has just started; pause or cancel it instead."
        ) from None
    audit_send(user, send, "mail_web_only", "", S.WEB_ONLY, send.reason)
    return send


@transaction.atomic
def choose_mail(user, issue: Issue) -> None:
    """Undo "web only" for an issue that is not live yet: it will be mailed
    when it goes live. A live issue stays as it went out, so nobody is
    mailed an issue days after it appeared, by a change of mind."""
    _require_publisher(user, "choose whether issues are mailed")
    issue = Issue.objects.select_for_update().get(pk=issue.pk)
    send = Send.objects.select_for_update().filter(issue=issue).first()
    if send is None:
        return
    if send.state != S.WEB_ONLY:
        raise WorkflowError("This issue's mail has already started.")
    if Issue.objects.published().filter(pk=issue.pk).exists():
        raise WorkflowError("This issue is already live as web only; its mail can no longer start.")
    audit_send(user, send, "mail_chosen", S.WEB_ONLY, "", "Will be mailed when it goes live.")
    send.delete()


# -- starting --------------------------------------------------------------------


def issues_due_for_mail(now: datetime | None = None):
    """Live issues, gone live within the mail window, that have no send yet."""
    now = now or timezone.now()
    return (
        Issue.objects.published(now)
        .filter(publish_at__gte=now - mail_window(), send__isnull=True)
        .order_by("publish_at", "pk")
    )


def start_send(issue: Issue, actor=None, now: datetime | None = None) -> Send | None:
    """Start the mail of a live issue: create its send and fix its audience
    (every confirmed, unsuppressed subscriber of its newsletter, one delivery
    each) in one transaction, then queue the batch tasks.

    Exactly once on any number of servers: the send's unique issue makes a
    second start fail to insert, and that caller gets None. A newsletter
    without a postal address starts paused, saying so."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            if not Issue.objects.published(now).filter(pk=issue.pk).exists():
                raise WorkflowError("Only a live issue can be mailed.")
            newsletter = issue.newsletter
            state, reason = S.SENDING, ""
            if not newsletter.postal_address.strip():
                state = S.PAUSED
                reason = (
                    f"{newsletter.name} has no postal address, which every mail must "
                    "carry; add it to the newsletter, then resume."
                )
            send = Send.objects.create(
                issue=issue,
                newsletter=newsletter,
                state=state,
                reason=reason,
                state_changed_at=now,
                created_at=now,
                started_at=now,
                worked_at=now,
                started_by=actor if actor is not None and actor.is_authenticated else None,
                paused_at=now if state == S.PAUSED else None,
            )
            send.audience_size = fix_audience(send, now)
            send.save(update_fields=["audience_size"])
            audit_send(
                actor,
                send,
                "mail_started",
                "",
                state,
                reason or f"To {send.audience_size} subscribers",
            )
            if state == S.SENDING:
                _queue_batches(send.pk)
    except IntegrityError:
        return None  # another scheduler started it a moment ago
    return send


def fix_audience(send: Send, now: datetime) -> int:
    """Insert one queued delivery per mailable subscriber of the send's
    newsletter, in one INSERT ... SELECT (100,000 rows in a second or two)."""
    audience_sql, audience_params = (
        Subscription.objects.mailable()
        .filter(newsletter_id=send.newsletter_id)
        .values("subscriber_id")
        .query.sql_with_params()
    )
    quote = connection.ops.quote_name
    delivery = Delivery._meta
    subscriber = Subscription._meta.get_field("subscriber").related_model._meta
    columns = ", ".join(
        quote(delivery.get_field(name).column)
        for name in (
            "send",
            "subscriber",
            "email",
            "state",
            "reason",
            "attempts",
            "next_attempt_at",
            "provider_message_id",
        )
    )
    sql = (
        f"INSERT INTO {quote(delivery.db_table)} ({columns}) "
        f"SELECT %s, s.{quote('id')}, s.{quote('email')}, %s, '', 0, %s, '' "
        f"FROM {quote(subscriber.db_table)} s WHERE s.{quote('id')} IN ({audience_sql}) "
        f"ORDER BY s.{quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [send.pk, D.QUEUED, db_datetime(now), *audience_params])
        return cursor.rowcount


# -- a publisher's controls ----------------------------------------------------------


@transaction.atomic
def pause_send(user, send: Send, reason: str = "") -> Send:
    """Stop handing out work; copies a worker holds finish, nothing more starts."""
    _require_publisher(user, "pause sends")
    send = locked(send)
    if send.state != S.SENDING:
        raise WorkflowError(
            f"Only a send in progress can be paused; this one is {state_word(send)}."
        )
    now = timezone.now()
    send.paused_at, send.paused_by = now, user
    before = set_state(
        send, S.PAUSED, now, reason.strip() or "Paused by a publisher.", ["paused_at", "paused_by"]
    )
    audit_send(user, send, "mail_paused", before, S.PAUSED, reason.strip())
    return send


@transaction.atomic
def resume_send(user, send: Send) -> Send:
    """Carry on from where it stopped: only copies not yet sent go out."""
    _require_publisher(user, "resume sends")
    send = locked(send)
    if send.state != S.PAUSED:
        raise WorkflowError(f"Only a paused send can be resumed; this one is {state_word(send)}.")
    newsletter = send.newsletter
    if not newsletter.postal_address.strip():
        raise WorkflowError(
            f"{newsletter.name} has no postal address, which every mail must carry; add it first."
        )
    now = timezone.now()
    before = set_state(send, S.SENDING, now, "")
    audit_send(user, send, "mail_resumed", before, S.SENDING)
    _queue_batches(send.pk)
    return send


@transaction.atomic
def cancel_send(user, send: Send, reason: str = "") -> Send:
    """Stop for good: every copy not yet handed over is skipped."""
    _require_publisher(user, "cancel sends")
    send = locked(send)
    if send.state not in (S.SENDING, S.PAUSED):
        raise WorkflowError(
            f"Only a send in progress or paused can be cancelled; this one is {state_word(send)}."
        )
    now = timezone.now()
    note = reason.strip() or "Cancelled by a publisher."
    # Copies a worker holds right now may still reach the server; the worker
    # records them as sent, so only queued ones are skipped.
    Delivery.objects.filter(send=send, state=D.QUEUED).update(
        state=D.SKIPPED, reason=f"Send cancelled: {note}"[:500]
    )
    send.finished_at = now
    before = set_state(send, S.CANCELLED, now, note, ["finished_at"])
    audit_send(user, send, "mail_cancelled", before, S.CANCELLED, note)
    return send


@transaction.atomic
def retry_failed(user, send: Send) -> int:
    """Queue the failed copies again (never the sent ones); the send carries
    on. Addresses suppressed since are skipped when their turn comes."""
    _require_publisher(user, "retry failed deliveries")
    send = locked(send)
    if send.state not in (S.SENDING, S.PAUSED, S.FINISHED):
        raise WorkflowError(
            "Only a send that started and was not cancelled can retry its failures."
        )
    now = timezone.now()
    count = Delivery.objects.filter(send=send, state=D.FAILED).update(
        state=D.QUEUED, attempts=0, next_attempt_at=now, reason=""
    )
    if not count:
        raise WorkflowError("No deliveries of this send have failed.")
    before = send.state
    if send.state == S.FINISHED:
        send.finished_at = None
        set_state(send, S.SENDING, now, "", ["finished_at"])
    audit_send(
        user, send, "mail_retried", before, send.state, f"{count} failed deliveries queued again"
    )
    if send.state == S.SENDING:
        _queue_batches(send.pk)
    return count


# -- keeping sends moving (send_due_mail) -------------------------------------------


def release_stale_claims(now: datetime | None = None) -> int:
    """Copies held past their lease (a killed worker, a lost database
    connection) go back to queued, and a batch task is queued for each batch
    taken back, replacing the task that died with it. One copy of each such
    batch may have reached the server before the kill; it goes again with the
    same Message-ID."""
    now = now or timezone.now()
    stale = Delivery.objects.filter(state=D.SENDING, claimed_at__lt=now - lease())
    released = 0
    with transaction.atomic():
        cancelled = stale.filter(send__state=S.CANCELLED)
        released += cancelled.update(state=D.SKIPPED, reason="Send cancelled.")
        # One claim time per batch, so distinct claim times count dead tasks.
        batches = dict(
            stale.values_list("send_id")
            .order_by()
            .annotate(n=Count("claimed_at", distinct=True))
            .values_list("send_id", "n")
        )
        released += stale.update(state=D.QUEUED, next_attempt_at=now)
        for send_id in Send.objects.filter(pk__in=batches, state=S.SENDING).values_list(
            "pk", flat=True
        ):
            _queue_batches(send_id, min(batches[send_id], parallel_tasks()))
    return released


def kick_stalled_sends(now: datetime | None = None) -> list[int]:
    """Queue batch tasks again for sending sends with due work that no worker
    has claimed for a while: the delivery rows say work is left, whatever the
    task queue's rows say. An extra task finds nothing to claim and ends.

    A send with no copy left queued or held is marked finished on this pass,
    however recently a worker touched it: a worker killed between recording
    the last copies and finishing the send leaves exactly that behind."""
    now = now or timezone.now()
    idle = now - timedelta(seconds=getattr(settings, "NEWSROOM_MAIL_IDLE_SECONDS", 60))
    kicked = []
    for send in Send.objects.filter(state=S.SENDING).only("pk", "worked_at"):
        if finish_if_done(send.pk):
            continue
        if send.worked_at is not None and send.worked_at > idle:
            continue
        if Delivery.objects.filter(send=send, state=D.QUEUED, next_attempt_at__lte=now).exists():
            with transaction.atomic():
                Send.objects.filter(pk=send.pk).update(worked_at=now)
                _queue_batches(send.pk)
            kicked.append(send.pk)
    return kicked
