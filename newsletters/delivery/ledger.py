"""What happens to each copy of an issue's mail, at the level the batch
sender and the provider webhooks work at: claiming due copies, recording
what the mail server or provider said of each (sent, refused for good or
for now, bounced, complained), giving copies back, renewing a worker's
lease, pausing a send on the system's own account and marking it finished.

The publisher's actions that start work (newsletters/delivery/sending.py)
build on these; nothing here queues a task, so the batch sender can use it
without depending on the actions that queue the batch task. Each change runs
in a transaction; state changes of a send lock its row and write an audit
row on the issue (stories.AuditEntry).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from newsletters.addresses import address_hash
from newsletters.models import Delivery, Send, Subscription, Suppression
from newsletters.services import suppress_hash
from stories.models import AuditEntry

log = logging.getLogger(__name__)

S = Send.State
D = Delivery.State


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


# -- a send's state ---------------------------------------------------------------


def audit_send(actor, send: Send, action: str, before: str, after: str, comment: str = "") -> None:
    AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        issue_id=send.issue_id,
        object_repr=f"Mail of issue {send.issue_id}"[:300],
        from_status=before,
        to_status=after,
        comment=comment,
    )


def state_word(send: Send) -> str:
    return send.get_state_display().lower()


def locked(send: Send) -> Send:
    return Send.objects.select_for_update().get(pk=send.pk)


def set_state(send: Send, state: str, now: datetime, reason: str, fields=()) -> str:
    before = send.state
    send.state, send.state_changed_at, send.reason = state, now, reason[:300]
    send.save(update_fields=["state", "state_changed_at", "reason", *fields])
    return before


@transaction.atomic
def pause_send_automatically(send: Send, reason: str) -> Send | None:
    """Pause a send on the system's own account (a bounce or complaint rate
    over its threshold, a mail server refusing the sender). None if it was
    not sending."""
    send = locked(send)
    if send.state != S.SENDING:
        return None
    now = timezone.now()
    send.paused_at, send.paused_by = now, None
    before = set_state(send, S.PAUSED, now, reason, ["paused_at", "paused_by"])
    audit_send(None, send, "mail_paused", before, S.PAUSED, reason)
    return send


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
        before = set_state(send, S.FINISHED, now, "", ["finished_at"])
        counts = delivery_counts(send)
        audit_send(
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
