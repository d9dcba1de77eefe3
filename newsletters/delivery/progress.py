"""What the admin shows of a send: its counts, how far it is, how fast it
goes and when it should be done, the copies that failed, and each send's
totals on its newsletter's page. Reads only."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.utils import timezone

from newsletters.delivery import thresholds
from newsletters.delivery.ledger import delivery_counts
from newsletters.models import Delivery, Send, Subscription

D = Delivery.State
S = Send.State

# The window the current rate is measured over.
RATE_WINDOW = timedelta(seconds=60)
FAILED_PER_PAGE = 50
# Sends listed on a newsletter's page, newest first.
NEWSLETTER_SENDS = 20


@dataclass(frozen=True)
class Progress:
    state: str
    state_label: str
    reason: str
    queued: int
    sending: int
    sent: int
    failed: int
    skipped: int
    total: int
    done: int
    percent: int
    # Copies per second over the last minute, while sending; else None.
    rate: float | None
    # When the queued copies should be out at that rate; else None.
    eta: datetime | None

    @property
    def eta_label(self) -> str:
        """The estimated finish on the newsroom's clock, as the page shows it."""
        return timezone.localtime(self.eta).strftime("%H:%M:%S") if self.eta else "—"

    def as_json(self) -> dict:
        data = asdict(self)
        data["eta"] = self.eta.isoformat() if self.eta else None
        data["eta_label"] = self.eta_label
        data["rate"] = round(self.rate, 1) if self.rate is not None else None
        return data


def progress(send: Send, now: datetime | None = None) -> Progress:
    """Counts by state (one grouped query) and, while sending, the rate over
    the last minute (one more)."""
    now = now or timezone.now()
    counts = delivery_counts(send)
    total = sum(counts.values())
    done = counts[D.SENT] + counts[D.FAILED] + counts[D.SKIPPED]
    remaining = counts[D.QUEUED] + counts[D.SENDING]
    rate = eta = None
    if send.state == S.SENDING:
        recent = Delivery.objects.filter(
            send=send, state=D.SENT, sent_at__gte=now - RATE_WINDOW
        ).count()
        window = min(RATE_WINDOW, max(now - send.state_changed_at, timedelta(seconds=1)))
        rate = recent / window.total_seconds()
        if rate > 0 and remaining:
            eta = now + timedelta(seconds=remaining / rate)
    return Progress(
        state=send.state,
        state_label=send.get_state_display(),
        reason=send.reason,
        queued=counts[D.QUEUED],
        sending=counts[D.SENDING],
        sent=counts[D.SENT],
        failed=counts[D.FAILED],
        skipped=counts[D.SKIPPED],
        total=total,
        done=done,
        percent=100 if not total else min(100, (100 * done) // total),
        rate=rate,
        eta=eta,
    )


def masked(address: str) -> str:
    """An address shown to staff who may not see subscribers: enough to tell
    a domain's trouble apart, not enough to know the reader."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"


def failed_page(send: Send, number, show_addresses: bool):
    """One page of the send's failed copies with their reasons; an unusable
    page number gives the nearest page rather than an error."""
    failed = (
        Delivery.objects.filter(send=send, state=D.FAILED)
        .order_by("pk")
        .values("pk", "email", "reason", "attempts")
    )
    page = Paginator(failed, FAILED_PER_PAGE).get_page(number)
    page.rows = [
        {**row, "email": row["email"] if show_addresses else masked(row["email"])}
        for row in page.object_list
    ]
    return page


def mailable_count(newsletter_id: int) -> int:
    """Who would get the newsletter's mail if it started now."""
    return Subscription.objects.mailable().filter(newsletter_id=newsletter_id).count()


def newsletter_sends(newsletter, limit: int = NEWSLETTER_SENDS) -> list[dict]:
    """The newsletter's latest sends with their totals: delivered (handed over
    and not bounced), bounced (a provider's hard bounce, or refused for good
    by the mail server), complained, failed, and readers who unsubscribed
    through that issue's mail. Two grouped queries, whatever the counts."""
    sends = list(
        Send.objects.filter(newsletter=newsletter)
        .exclude(state=S.WEB_ONLY)
        .select_related("issue")
        .order_by("-created_at", "-pk")[:limit]
    )
    if not sends:
        return []
    ids = [send.pk for send in sends]
    totals = {
        row["send"]: row
        for row in Delivery.objects.filter(send_id__in=ids)
        .annotate(refused=thresholds.refused_annotation())
        .values("send")
        .annotate(
            sent=Count("pk", filter=Q(state=D.SENT)),
            bounced=Count("pk", filter=thresholds.hard_bounce_filter()),
            bounced_after_sending=Count("pk", filter=Q(state=D.SENT, bounced_at__isnull=False)),
            complained=Count("pk", filter=Q(complained_at__isnull=False)),
            failed=Count("pk", filter=Q(state=D.FAILED)),
            audience=Count("pk"),
        )
        .order_by()
    }
    unsubscribed = dict(
        Subscription.objects.filter(
            newsletter=newsletter, unsubscribed_from_issue_id__in=[s.issue_id for s in sends]
        )
        .values("unsubscribed_from_issue_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("unsubscribed_from_issue_id", "n")
    )
    rows = []
    for send in sends:
        row = totals.get(send.pk, {})
        rows.append(
            {
                "send": send,
                "issue": send.issue,
                "audience": row.get("audience", 0),
                "delivered": row.get("sent", 0) - row.get("bounced_after_sending", 0),
                "bounced": row.get("bounced", 0),
                "complained": row.get("complained", 0),
                "failed": row.get("failed", 0),
                "unsubscribed": unsubscribed.get(send.issue_id, 0),
            }
        )
    return rows
