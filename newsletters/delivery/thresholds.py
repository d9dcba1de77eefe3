"""A send that is hurting the sender's name stops itself.

Mailbox providers judge a sender by its complaint and bounce rates (Gmail
asks bulk senders to stay under 0.1% complaints, and lists with more than a
couple of percent of dead addresses are treated as bought). When a send
crosses either limit it pauses itself, writes that in the issue's audit
trail, and mails the publisher who put the issue out; the issue's page shows
why. Nothing more goes out until a publisher has looked and resumed it.

The rates are judged over at least MIN_SAMPLE copies, so that one early
complaint among the first few hundred copies does not stop a send, while a
small list still pauses on a handful.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q

from newsletters.delivery import ledger
from newsletters.models import Delivery, Send, Suppression
from stories.models import AuditEntry, Issue

log = logging.getLogger(__name__)

D = Delivery.State


def complaint_limit() -> float:
    return getattr(settings, "NEWSROOM_MAIL_COMPLAINT_RATE", 0.001)


def bounce_limit() -> float:
    return getattr(settings, "NEWSROOM_MAIL_BOUNCE_RATE", 0.02)


def min_sample() -> int:
    return getattr(settings, "NEWSROOM_MAIL_RATE_MIN_SAMPLE", 1000)


def hard_bounce_filter() -> Q:
    """A delivery that bounced for good: a provider's hard bounce, or refused
    by the mail server for good (it failed and its address is now suppressed
    as bounced). Needs the `refused` annotation of refused_annotation()."""
    return Q(bounced_at__isnull=False) | Q(state=D.FAILED, bounced_at__isnull=True, refused=True)


def refused_annotation():
    return Exists(
        Suppression.objects.filter(
            email_hash=OuterRef("subscriber__email_hash"), reason=Suppression.Reason.BOUNCED
        )
    )


def tallies(send: Send) -> dict[str, int]:
    """Copies handed over or refused, hard bounces and complaints: one query."""
    return (
        Delivery.objects.filter(send=send)
        .annotate(refused=refused_annotation())
        .aggregate(
            attempted=Count("pk", filter=Q(state__in=[D.SENT, D.FAILED])),
            bounced=Count("pk", filter=hard_bounce_filter()),
            complained=Count("pk", filter=Q(complained_at__isnull=False)),
        )
    )


def _percent(value: float) -> str:
    return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"


def crossing(send: Send) -> str | None:
    """Why send should pause now, or None while it is within both limits."""
    counts = tallies(send)
    base = max(counts["attempted"], min_sample())
    for kind, count, limit in (
        ("complaint", counts["complained"], complaint_limit()),
        ("hard-bounce", counts["bounced"], bounce_limit()),
    ):
        if count / base > limit:
            return (
                f"Paused by itself: its {kind} rate is over {_percent(limit)} "
                f"({count} of {counts['attempted']} copies"
                + (f", judged over at least {base}" if base > counts["attempted"] else "")
                + "). Check the list and the content, then resume or cancel."
            )
    return None


def check(send: Send) -> str | None:
    """Pause send if it crossed a limit, and tell its publisher; the reason, or None."""
    if send.state != Send.State.SENDING:
        return None
    reason = crossing(send)
    if reason is None:
        return None
    paused = ledger.pause_send_automatically(send, reason)
    if paused is None:
        return None  # paused or stopped meanwhile by someone else
    log.warning("Send %s paused itself: %s", send.pk, reason)
    _tell_publisher(paused, reason)
    return reason


def publisher_of(issue: Issue):
    """Who put the issue out: whoever started its send, else the last person
    to schedule or publish it; None if nobody is known (the scheduler)."""
    send = Send.objects.filter(issue=issue).select_related("started_by").first()
    if send is not None and send.started_by is not None:
        return send.started_by
    entry = (
        AuditEntry.objects.filter(
            issue=issue,
            action__in=["scheduled", "rescheduled", "published"],
            actor__isnull=False,
        )
        .select_related("actor")
        .order_by("-created_at", "-pk")
        .first()
    )
    return entry.actor if entry is not None else None


def _recipients(issue: Issue) -> list[str]:
    person = publisher_of(issue)
    if person is not None and person.is_active and person.email:
        return [person.email]
    # Nobody known: every active publisher hears of it.
    publishers = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(groups__permissions__codename="publish_issue")
            | Q(user_permissions__codename="publish_issue")
        )
        .exclude(email="")
        .distinct()
    )
    return sorted({user.email for user in publishers})


def _tell_publisher(send: Send, reason: str) -> None:
    issue = Issue.objects.get(pk=send.issue_id)
    recipients = _recipients(issue)
    if not recipients:
        return
    subject = " ".join(f"Mail of issue #{issue.number} paused: {issue.headline}".split())
    url = f"{settings.SITE_URL}/admin/stories/issue/{issue.pk}/change/#mail"
    body = f"{reason}\n\nThe send and its failed deliveries: {url}\n"

    def deliver():
        try:
            send_mail(subject, body, None, recipients)
        except Exception:  # the pause stands whether or not the note goes out
            log.exception("Could not tell the publisher that send %s paused", send.pk)

    transaction.on_commit(deliver)
