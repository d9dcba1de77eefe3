"""Every change to who is on which list, and the rules for it.

Views, the admin, imports and commands call these functions; nothing else
sets a subscription's state. Each change runs in a transaction with the row
locked, saves only what it changes, and any mail it causes is queued as a
task once the change has committed (the task re-reads the row, so a mail
queued for a state that changed meanwhile is not sent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from newsletters import throttle
from newsletters.addresses import address_hash, normalize_email
from newsletters.links import BadLink, LinkTarget
from newsletters.models import ConsentRecord, Subscriber, Subscription, Suppression
from newsletters.models.subscribers import ConsentKind, SubscriptionSource, UnsubscribeChannel
from stories.models import Issue, Newsletter

State = Subscription.State

# Confirmation mails one address may be sent in an hour, whoever asks: a form
# cannot be used to flood someone's inbox.
ADDRESS_LIMIT = getattr(settings, "NEWSROOM_SIGNUP_MAILS_PER_ADDRESS_HOUR", 3)


def is_suppressed(address: str) -> bool:
    return Suppression.objects.filter(email_hash=address_hash(address)).exists()


def _queue_mail(subscription_id: int, kind: str) -> None:
    from newsletters.tasks import send_subscription_mail

    transaction.on_commit(lambda: send_subscription_mail.enqueue(subscription_id, kind))


def _subscriber_for(address: str, name: str = "") -> Subscriber:
    """The subscriber with address, created if new (a concurrent signup of the
    same address is met by the unique constraint and then read)."""
    subscriber = Subscriber.objects.filter(email_hash=address_hash(address)).first()
    if subscriber is not None:
        return subscriber
    try:
        with transaction.atomic():
            return Subscriber.objects.create(email=address, name=name[:200])
    except IntegrityError:
        return Subscriber.objects.get(email_hash=address_hash(address))


def request_signup(
    *,
    email: str,
    newsletters: Iterable[Newsletter],
    source: str,
    client_ip: str | None,
    wording: str,
    name: str = "",
) -> None:
    """A signup from a form. Returns nothing on purpose: the page answers the
    same whether the address was new, pending, confirmed, unsubscribed or
    suppressed, and only the mail (or its absence) differs: a new, pending or
    unsubscribed address gets a confirmation link, a confirmed one a note that
    it is already subscribed, a suppressed one nothing."""
    address = normalize_email(email)
    # Every newsletter ticked means one mail (a confirmation link or a note
    # that the address is already on that list), so each counts against the
    # address's hourly limit; those past it are dropped whole, mail and all.
    # The count is taken before the suppression check, so a suppressed
    # address spends its allowance exactly as any other would.
    allowed = [
        newsletter
        for newsletter in newsletters
        if throttle.hit("signup-address", address, ADDRESS_LIMIT, 3600)
    ]
    if not allowed or is_suppressed(address):
        return
    now = timezone.now()
    with transaction.atomic():
        subscriber = _subscriber_for(address, name)
        for newsletter in allowed:
            subscription, created = Subscription.objects.select_for_update().get_or_create(
                subscriber=subscriber,
                newsletter=newsletter,
                defaults={"source": SubscriptionSource.FORM, "state": State.PENDING},
            )
            if subscription.state == State.CONFIRMED:
                _queue_mail(subscription.pk, "already")
                continue
            if subscription.state == State.UNSUBSCRIBED:
                subscription.state = State.PENDING
                subscription.state_changed_at = now
                subscription.save(update_fields=["state", "state_changed_at"])
            ConsentRecord.objects.create(
                subscription=subscription,
                kind=ConsentKind.SIGNUP,
                source=source[:300],
                client_ip=client_ip or None,
                wording=wording,
                created_at=now,
            )
            _queue_mail(subscription.pk, "confirm")


# -- what a signed link points at ----------------------------------------------

GONE = "This address is no longer on our lists, so there is nothing to change."


def subscription_for(target: LinkTarget, lock: bool = False) -> Subscription:
    """The subscription a link points at, or BadLink if the reader is gone."""
    rows = Subscription.objects.select_related("subscriber", "newsletter")
    if lock:
        rows = rows.select_for_update(of=("self",))
    subscription = rows.filter(
        subscriber_id=target.subscriber_id,
        subscriber__link_key=target.link_key,
        newsletter_id=target.newsletter_id,
    ).first()
    if subscription is None:
        raise BadLink(GONE, gone=True)
    return subscription


def subscriber_for(target: LinkTarget) -> Subscriber:
    subscriber = Subscriber.objects.filter(
        pk=target.subscriber_id, link_key=target.link_key
    ).first()
    if subscriber is None:
        raise BadLink(GONE, gone=True)
    return subscriber


@dataclass(frozen=True)
class Outcome:
    subscription: Subscription
    changed: bool


def confirm(target: LinkTarget, *, client_ip: str | None, wording: str) -> Outcome:
    """Confirm a pending subscription from its mailed link (double opt-in)."""
    with transaction.atomic():
        subscription = subscription_for(target, lock=True)
        if subscription.state != State.PENDING or subscription.subscriber.is_suppressed:
            return Outcome(subscription, changed=False)
        now = timezone.now()
        subscription.state = State.CONFIRMED
        subscription.state_changed_at = subscription.confirmed_at = now
        subscription.unsubscribed_at = None
        subscription.unsubscribed_via = ""
        subscription.unsubscribed_from_issue = None
        subscription.save(
            update_fields=[
                "state",
                "state_changed_at",
                "confirmed_at",
                "unsubscribed_at",
                "unsubscribed_via",
                "unsubscribed_from_issue",
            ]
        )
        ConsentRecord.objects.create(
            subscription=subscription,
            kind=ConsentKind.CONFIRMATION,
            source="Confirmation link",
            client_ip=client_ip or None,
            wording=wording,
            created_at=now,
        )
    return Outcome(subscription, changed=True)


def _unsubscribe(subscription: Subscription, via: str, issue_id: int | None = None) -> bool:
    """Take a locked subscription off its list; False if it already was."""
    if subscription.state == State.UNSUBSCRIBED:
        return False
    subscription.state = State.UNSUBSCRIBED
    subscription.state_changed_at = subscription.unsubscribed_at = timezone.now()
    subscription.unsubscribed_via = via
    # The issue is named only while it exists: links outlive what they name.
    subscription.unsubscribed_from_issue_id = (
        issue_id if issue_id and Issue.objects.filter(pk=issue_id).exists() else None
    )
    subscription.save(
        update_fields=[
            "state",
            "state_changed_at",
            "unsubscribed_at",
            "unsubscribed_via",
            "unsubscribed_from_issue",
        ]
    )
    return True


def unsubscribe(target: LinkTarget, *, via: str) -> Outcome:
    """Unsubscribe from the newsletter a link names, at once: the next send
    reads the state and skips the address."""
    with transaction.atomic():
        subscription = subscription_for(target, lock=True)
        changed = _unsubscribe(subscription, via, target.issue_id)
    return Outcome(subscription, changed)


def unsubscribe_subscriptions(subscription_ids: Iterable[int], via: str) -> int:
    """Unsubscribe several subscriptions (staff, or "all" from preferences)."""
    changed = 0
    with transaction.atomic():
        rows = Subscription.objects.select_for_update().filter(pk__in=list(subscription_ids))
        for subscription in rows.order_by("pk"):
            changed += _unsubscribe(subscription, via)
    return changed


PREFERENCES_WORDING = (
    "Tick the newsletters you want to get by email. Untick one to stop getting it; "
    "you can change this at any time from the link at the foot of every mail."
)


def update_preferences(
    subscriber: Subscriber,
    *,
    wanted: Iterable[Newsletter],
    name: str,
    client_ip: str | None,
) -> None:
    """Set which newsletters subscriber gets and their name. The page was
    reached from a link mailed to the address, so ticking a newsletter there
    confirms it without another round trip."""
    wanted_ids = {newsletter.pk for newsletter in wanted}
    now = timezone.now()
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if name.strip() != subscriber.name:
            subscriber.name = name.strip()[:200]
            subscriber.save(update_fields=["name"])
        existing = {
            s.newsletter_id: s
            for s in Subscription.objects.select_for_update().filter(subscriber=subscriber)
        }
        suppressed = subscriber.is_suppressed
        for newsletter_id in wanted_ids - {
            nid for nid, s in existing.items() if s.state == State.CONFIRMED
        }:
            if suppressed:
                break  # nothing may be mailed there; the page says why
            subscription = existing.get(newsletter_id) or Subscription(
                subscriber=subscriber,
                newsletter_id=newsletter_id,
                source=SubscriptionSource.PREFERENCES,
            )
            subscription.state = State.CONFIRMED
            subscription.state_changed_at = subscription.confirmed_at = now
            subscription.unsubscribed_at = None
            subscription.unsubscribed_via = ""
            subscription.unsubscribed_from_issue = None
            subscription.save()
            ConsentRecord.objects.create(
                subscription=subscription,
                kind=ConsentKind.PREFERENCES,
                source="Preferences page",
                client_ip=client_ip or None,
                wording=PREFERENCES_WORDING,
                created_at=now,
            )
        for newsletter_id, subscription in existing.items():
            if newsletter_id not in wanted_ids:
                _unsubscribe(subscription, UnsubscribeChannel.PREFERENCES)


def unsubscribe_from_all(subscriber: Subscriber) -> int:
    ids = Subscription.objects.filter(subscriber=subscriber).values_list("pk", flat=True)
    return unsubscribe_subscriptions(ids, UnsubscribeChannel.PREFERENCES)


def erase(subscriber: Subscriber) -> None:
    """Delete everything held about the address (subscriptions and consent
    records go with it) and keep only its suppression hash, so no import or
    form can add it again."""
    with transaction.atomic():
        suppress_hash(subscriber.email_hash, Suppression.Reason.ERASED)
        Subscriber.objects.filter(pk=subscriber.pk).delete()


def suppress_hash(email_hash: str, reason: str, note: str = "") -> Suppression:
    """Suppress an address by hash. An existing suppression keeps its first
    reason, except that erasure always wins (it promises to hold nothing)."""
    suppression, created = Suppression.objects.get_or_create(
        email_hash=email_hash, defaults={"reason": reason, "note": note[:300]}
    )
    if not created and reason == Suppression.Reason.ERASED and suppression.reason != reason:
        suppression.reason = reason
        suppression.save(update_fields=["reason"])
    return suppression


def suppress_address(address: str, reason: str, note: str = "") -> Suppression:
    """Suppress an address (a hard bounce, a complaint, staff blocking it)."""
    return suppress_hash(address_hash(normalize_email(address)), reason, note)
