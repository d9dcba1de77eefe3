"""The demo's subscribers: a few in each state, on the demo's newsletters.

Demo data, written directly (as devtools/benchdata.py writes its rows) rather
than through newsletters/services.py: nobody signed up, so no mail is queued.
Consent records say the rows are demo data.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from newsletters.addresses import address_hash
from newsletters.models import ConsentRecord, Subscriber, Subscription, Suppression
from stories.models import Newsletter

State = Subscription.State
# address, name, {newsletter slug or None for the default: state}, days ago
SUBSCRIBERS = [
    ("ada.reader@example.com", "Ada Reader", {None: "confirmed", "weekly-radar": "confirmed"}, 300),
    ("bo.lin@example.org", "Bo Lin", {None: "confirmed"}, 120),
    (
        "chidi@example.net",
        "",
        {"weekly-radar": "confirmed", "reels-thrills-and-bills": "confirmed"},
        60,
    ),
    ("dana.park@example.com", "Dana Park", {"reels-thrills-and-bills": "confirmed"}, 30),
    ("eli@example.org", "", {None: "pending"}, 2),
    ("fatima@example.com", "Fatima", {"weekly-radar": "pending"}, 1),
    (
        "gus@example.net",
        "Gus",
        {None: "unsubscribed", "reels-thrills-and-bills": "unsubscribed"},
        200,
    ),
    ("hana@example.com", "Hana", {"weekly-radar": "unsubscribed", None: "confirmed"}, 90),
]
# An address that bounced: suppressed, so no send reaches it.
BOUNCED = "old.address@example.com"
DEMO_WORDING = "Demo data: this subscriber was made up for the demo newsroom."


def load_demo_subscribers() -> int:
    now = timezone.now()
    newsletters = {n.slug: n for n in Newsletter.objects.all()}
    default = Newsletter.objects.default()
    with transaction.atomic():
        for email, name, states, days_ago in SUBSCRIBERS:
            joined = now - timedelta(days=days_ago)
            subscriber, _ = Subscriber.objects.get_or_create(
                email_hash=address_hash(email),
                defaults={"email": email, "name": name, "created_at": joined},
            )
            for slug, state in states.items():
                newsletter = default if slug is None else newsletters.get(slug)
                if newsletter is None:
                    continue
                confirmed = state != State.PENDING
                subscription, created = Subscription.objects.get_or_create(
                    subscriber=subscriber,
                    newsletter=newsletter,
                    defaults={
                        "state": state,
                        "source": Subscription.Source.FORM,
                        "created_at": joined,
                        "state_changed_at": now - timedelta(days=days_ago // 2),
                        "confirmed_at": joined + timedelta(minutes=5) if confirmed else None,
                        "unsubscribed_at": (
                            now - timedelta(days=days_ago // 2)
                            if state == State.UNSUBSCRIBED
                            else None
                        ),
                        "unsubscribed_via": "link" if state == State.UNSUBSCRIBED else "",
                    },
                )
                if created:
                    ConsentRecord.objects.create(
                        subscription=subscription,
                        kind=ConsentRecord.Kind.SIGNUP,
                        source="Demo data",
                        wording=DEMO_WORDING,
                        created_at=joined,
                    )
        Suppression.objects.get_or_create(
            email_hash=address_hash(BOUNCED),
            defaults={"reason": Suppression.Reason.BOUNCED, "note": "Demo: mailbox does not exist"},
        )
    return Subscriber.objects.count()
