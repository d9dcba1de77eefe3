"""Every change to an issue's mail: choosing web only, starting a send and
fixing its audience, pausing, resuming, cancelling, retrying the failed
copies, and recording what the mail server or provider said of each copy.

The admin, the periodic command (send_due_mail), the batch task and the
provider webhooks only call these functions; nothing else sets a send's or a
delivery's state. Each change runs in a transaction with the send row locked
and writes an audit row on the issue (stories.AuditEntry); tasks are queued
once the change has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from newsletters.addresses import address_hash
from newsletters.bulk import db_datetime
from newsletters.models import Delivery, Send, Subscription, Suppression
from newsletters.services import suppress_hash
from stories.editorial.workflow import WorkflowError
from stories.models import AuditEntry, Issue

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


def lease() -> timedelta:
    """How long a worker may hold claimed copies before they are taken back."""
    return timedelta(seconds=getattr(settings, "NEWSROOM_MAIL_LEASE_SECONDS", 300))


def max_attempts() -> int:
    return getattr(settings, "NEWSROOM_MAIL_MAX_ATTEMPTS", 5)


def backoff(attempts: int) -> timedelta:
    """The wait before a copy refused for now (4xx) is tried again: 1, 4, 16,
    64 minutes... capped at six hours."""
    base = getattr(settings, "NEWSROOM_MAIL_RETRY_SECONDS", 60)
    return timedelta(seconds=min(base * 4 ** max(attempts - 1, 0), 6 * 3600))


def parallel_tasks() -> int:
    """Batch tasks queued per send: one per worker process expected to share it."""
    return getattr(settings, "NEWSROOM_MAIL_PARALLEL", 2)


# -- helpers -------------------------------------------------------------------


def _require_publisher(user, doing: str) -> None:
    if user is None or not user.has_perm(PUBLISH_PERMISSION):
        raise WorkflowError(f"You do not have permission to {doing}.")


def _audit(actor, send: Send, action: str, before: str, after: str, comment: str = "") -> None:
    AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        issue_id=send.issue_id,
        object_repr=f"Mail of issue {send.issue_id}"[:300],
        from_status=before,
        to_status=after,
        comment=comment,
    )


def _state_word(send: Send) -> str:
    return send.get_state_display().lower()


def _locked(send: Send) -> Send:
    return Send.objects.select_for_update().get(pk=send.pk)


def _set_state(send: Send, state: str, now: datetime, reason: str, fields=()) -> str:
    before = send.state
    send.state, send.state_changed_at, send.reason = state, now, reason[:300]
    send.save(update_fields=["state", "state_changed_at", "reason", *fields])
    return before


def _queue_batches(send_id: int, count: int | None = None) -> None:
    """Queue the batch tasks of a send once the transaction commits."""
    from newsletters.delivery.tasks import send_batches

    count = parallel_tasks() if count is None else count

    def enqueue():
        for _ in range(count):
            send_batches.enqueue(send_id)

    transaction.on_commit(enqueue)


# -- web only --------------------------------------------------------------------


@transaction.atomic
def choose_web_only(user, issue: Issue, reason: str = "") -> Send:
    """Mark issue as web only: it will not be mailed when it goes live. Only
    before its mail has started."""
    _require_publisher(user, "choose whether issues are mailed")
    issue = Issue.objects.select_for_update().get(pk=issue.pk)
    existing = Send.objects.filter(issue=issue).first()
    if existing is not None:
        if existing.state == S.WEB_ONLY:
            return existing
        raise WorkflowError("This issue's mail has already started; pause or cancel it instead.")
    now = timezone.now()
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
    _audit(user, send, "mail_web_only", "", S.WEB_ONLY, send.reason)
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
    _audit(user, send, "mail_chosen", S.WEB_ONLY, "", "Will be mailed when it goes live.")
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
            _audit(
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
    send = _locked(send)
    if send.state != S.SENDING:
        raise WorkflowError(
            f"Only a send in progress can be paused; this one is {_state_word(send)}."
        )
    now = timezone.now()
    send.paused_at, send.paused_by = now, user
    before = _set_state(
        send, S.PAUSED, now, reason.strip() or "Paused by a publisher.", ["paused_at", "paused_by"]
    )
    _audit(user, send, "mail_paused", before, S.PAUSED, reason.strip())
    return send


@transaction.atomic
def pause_send_automatically(send: Send, reason: str) -> Send | None:
    """Pause a send on the system's own account (a bounce or complaint rate
    over its threshold, a mail server refusing the sender). None if it was
    not sending."""
    send = _locked(send)
    if send.state != S.SENDING:
        return None
    now = timezone.now()
    send.paused_at, send.paused_by = now, None
    before = _set_state(send, S.PAUSED, now, reason, ["paused_at", "paused_by"])
    _audit(None, send, "mail_paused", before, S.PAUSED, reason)
    return send


@transaction.atomic
def resume_send(user, send: Send) -> Send:
    """Carry on from where it stopped: only copies not yet sent go out."""
    _require_publisher(user, "resume sends")
    send = _locked(send)
    if send.state != S.PAUSED:
        raise WorkflowError(f"Only a paused send can be resumed; this one is {_state_word(send)}.")
    newsletter = send.newsletter
    if not newsletter.postal_address.strip():
        raise WorkflowError(
            f"{newsletter.name} has no postal address, which every mail must carry; add it first."
        )
    now = timezone.now()
    before = _set_state(send, S.SENDING, now, "")
    _audit(user, send, "mail_resumed", before, S.SENDING)
    _queue_batches(send.pk)
    return send


@transaction.atomic
def cancel_send(user, send: Send, reason: str = "") -> Send:
    """Stop for good: every copy not yet handed over is skipped."""
    _require_publisher(user, "cancel sends")
    send = _locked(send)
    if send.state not in (S.SENDING, S.PAUSED):
        raise WorkflowError(
            f"Only a send in progress or paused can be cancelled; this one is {_state_word(send)}."
        )
    now = timezone.now()
    note = reason.strip() or "Cancelled by a publisher."
    # Copies a worker holds right now may still reach the server; the worker
    # records them as sent, so only queued ones are skipped.
    Delivery.objects.filter(send=send, state=D.QUEUED).update(
        state=D.SKIPPED, reason=f"Send cancelled: {note}"[:500]
    )
    send.finished_at = now
    before = _set_state(send, S.CANCELLED, now, note, ["finished_at"])
    _audit(user, send, "mail_cancelled", before, S.CANCELLED, note)
    return send


@transaction.atomic
def retry_failed(user, send: Send) -> int:
    """Queue the failed copies again (never the sent ones); the send carries
    on. Addresses suppressed since are skipped when their turn comes."""
    _require_publisher(user, "retry failed deliveries")
    send = _locked(send)
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
        _set_state(send, S.SENDING, now, "", ["finished_at"])
    _audit(
        user, send, "mail_retried", before, send.state, f"{count} failed deliveries queued again"
    )
    if send.state == S.SENDING:
        _queue_batches(send.pk)
    return count


def finish_if_done(send_id: int) -> bool:
    """Mark a sending send finished once no copy is queued or held."""
    with transaction.atomic():
        send = Send.objects.select_for_update().filter(pk=send_id, state=S.SENDING).first()
        if send is None:
            return False
        if Delivery.objects.filter(send=send, state__in=[D.QUEUED, D.SENDING]).exists():
            return False
        now = timezone.now()
        send.finished_at = now
        before = _set_state(send, S.FINISHED, now, "", ["finished_at"])
        counts = delivery_counts(send)
        _audit(
            None,
            send,
            "mail_finished",
            before,
            S.FINISHED,
            f"{counts[D.SENT]} sent, {counts[D.FAILED]} failed, {counts[D.SKIPPED]} skipped",
        )
        return True


def delivery_counts(send: Send) -> dict[str, int]:
    """How many copies of send are in each state (one indexed query)."""
    counts = dict.fromkeys(D.values, 0)
    rows = Delivery.objects.filter(send=send).values_list("state").order_by()
    for state, count in rows.annotate(n=Count("pk")).values_list("state", "n"):
        counts[state] = count
    return counts


# -- the workers' side -----------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A copy a worker holds: what it needs to build and address it."""

    delivery_id: int
    subscriber_id: int
    email: str
    link_key: str
    attempts: int


def claim(send_id: int, size: int, now: datetime | None = None) -> list[Claimed]:
    """Take up to size due, queued copies of a sending send, mark them held
    and commit. Row locks that concurrent claimers skip (PostgreSQL; SQLite
    runs one writer at a time) make a copy go to one worker only. Copies
    whose reader unsubscribed or was suppressed since the audience was fixed
    are skipped here, with the reason."""
    now = now or timezone.now()
    with transaction.atomic():
        send = Send.objects.filter(pk=send_id, state=S.SENDING).first()
        if send is None:
            return []
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(send_id=send_id, state=D.QUEUED, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list(
                "pk",
                "subscriber_id",
                "email",
                "subscriber__link_key",
                "subscriber__email_hash",
                "attempts",
            )[:size]
        )
        if not rows:
            return []
        still_mailable = set(
            Subscription.objects.mailable()
            .filter(newsletter_id=send.newsletter_id, subscriber_id__in=[r[1] for r in rows])
            .values_list("subscriber_id", flat=True)
        )
        gone = [row[0] for row in rows if row[1] not in still_mailable]
        if gone:
            suppressed = set(
                Suppression.objects.filter(
                    email_hash__in=[r[4] for r in rows if r[0] in set(gone)]
                ).values_list("email_hash", flat=True)
            )
            by_reason: dict[str, list[int]] = {}
            for row in rows:
                if row[0] in set(gone):
                    why = (
                        "The address is suppressed."
                        if row[4] in suppressed
                        else "No longer subscribed."
                    )
                    by_reason.setdefault(why, []).append(row[0])
            for why, skip_ids in by_reason.items():
                Delivery.objects.filter(pk__in=skip_ids).update(state=D.SKIPPED, reason=why)
        held = [row for row in rows if row[0] not in set(gone)]
        Delivery.objects.filter(pk__in=[r[0] for r in held]).update(state=D.SENDING, claimed_at=now)
        Send.objects.filter(pk=send_id).update(worked_at=now)
    return [Claimed(r[0], r[1], r[2], r[3], r[5]) for r in held]


def _quick_commit(cursor) -> None:
    """Results are written in many small commits; on PostgreSQL they need not
    wait for the disk (a crash of the database loses the last few, which are
    then sent again with the same Message-ID)."""
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def record_sent(
    delivery_ids: Sequence[int],
    now: datetime | None = None,
    provider_ids: dict[int, str] | None = None,
) -> int:
    """Copies the server accepted. A copy already recorded sent stays as it was."""
    if not delivery_ids:
        return 0
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        _quick_commit(cursor)
        if provider_ids:
            for delivery_id, provider_id in provider_ids.items():
                Delivery.objects.filter(pk=delivery_id).exclude(state=D.SENT).update(
                    state=D.SENT, sent_at=now, provider_message_id=provider_id[:200], reason=""
                )
            rest = [i for i in delivery_ids if i not in provider_ids]
        else:
            rest = list(delivery_ids)
        return Delivery.objects.filter(pk__in=rest).exclude(state=D.SENT).update(
            state=D.SENT, sent_at=now, reason=""
        ) + len(provider_ids or ())


def record_permanent_failure(delivery_id: int, reason: str, suppress: bool = True) -> None:
    """A copy the server refused for good (5xx): failed, and the address
    suppressed so nothing is sent to it again."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .filter(pk=delivery_id)
            .exclude(state=D.SENT)
            .first()
        )
        if delivery is None:
            return
        delivery.state, delivery.reason = D.FAILED, reason[:500]
        delivery.attempts += 1
        delivery.save(update_fields=["state", "reason", "attempts"])
        if suppress:
            suppress_hash(
                address_hash(delivery.email),
                Suppression.Reason.BOUNCED,
                f"Refused while sending issue mail: {reason}",
            )


def record_temporary_failure(delivery_id: int, reason: str, now: datetime | None = None) -> None:
    """A copy refused for now (4xx): queued again after a backoff, or failed
    once it has been tried max_attempts() times."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .filter(pk=delivery_id)
            .exclude(state=D.SENT)
            .first()
        )
        if delivery is None:
            return
        delivery.attempts += 1
        if delivery.attempts >= max_attempts():
            delivery.state = D.FAILED
            delivery.reason = f"Gave up after {delivery.attempts} attempts: {reason}"[:500]
        else:
            delivery.state = D.QUEUED
            delivery.reason = reason[:500]
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        delivery.save(update_fields=["state", "reason", "attempts", "next_attempt_at"])


def release(
    delivery_ids: Iterable[int], now: datetime | None = None, delay: timedelta = timedelta()
) -> int:
    """Give back held copies not handed over (the connection failed, the
    send was paused): queued again, not counted as an attempt."""
    now = now or timezone.now()
    return Delivery.objects.filter(pk__in=list(delivery_ids), state=D.SENDING).update(
        state=D.QUEUED, next_attempt_at=now + delay
    )


def renew_claims(delivery_ids: Sequence[int], now: datetime | None = None) -> int:
    """A working worker's copies keep their lease."""
    return Delivery.objects.filter(pk__in=list(delivery_ids), state=D.SENDING).update(
        claimed_at=now or timezone.now()
    )


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
    task queue's rows say. An extra task finds nothing to claim and ends."""
    now = now or timezone.now()
    idle = now - timedelta(seconds=getattr(settings, "NEWSROOM_MAIL_IDLE_SECONDS", 60))
    kicked = []
    for send in Send.objects.filter(state=S.SENDING).only("pk", "worked_at"):
        if send.worked_at is not None and send.worked_at > idle:
            continue
        if Delivery.objects.filter(send=send, state=D.QUEUED, next_attempt_at__lte=now).exists():
            with transaction.atomic():
                Send.objects.filter(pk=send.pk).update(worked_at=now)
                _queue_batches(send.pk)
            kicked.append(send.pk)
        else:
            finish_if_done(send.pk)
    return kicked


# -- provider events (webhooks) ----------------------------------------------------------


def record_bounce(delivery: Delivery, reason: str, permanent: bool = True) -> None:
    """A provider reported the copy bounced; a hard bounce suppresses the address."""
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, bounced_at__isnull=True).update(
            bounced_at=timezone.now(), reason=reason[:500]
        )
        if permanent:
            suppress_hash(address_hash(delivery.email), Suppression.Reason.BOUNCED, reason[:300])


def record_complaint(delivery: Delivery, reason: str = "") -> None:
    """A reader marked the copy as spam: the address is suppressed."""
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, complained_at__isnull=True).update(
            complained_at=timezone.now()
        )
        suppress_hash(address_hash(delivery.email), Suppression.Reason.COMPLAINED, reason[:300])
