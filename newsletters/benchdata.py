"""Subscribers at scale for benchmarks: `generate_bench_data --subscribers N`.

Rows are written with bulk_create in batches, directly rather than through
newsletters/services.py: this is generated data, nobody signed up, and no
mail may be queued for it. Every subscription still gets its consent record,
saying it is benchmark data. Addresses use the reserved .example domain.
"""

import random
import secrets
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from newsletters.addresses import address_hash
from newsletters.models import ConsentRecord, Subscriber, Subscription
from newsletters.models.subscribers import ConsentKind, new_link_key
from stories.models import Newsletter

BATCH = 5000
WORDING = "Benchmark data: generated, never signed up."
# Most readers confirm; some never do; a few leave again.
STATES = [("confirmed", 85), ("pending", 10), ("unsubscribed", 5)]


def generate_subscribers(
    count: int, seed: int = 2025, progress: Callable[[str, int, int], None] | None = None
) -> int:
    rng = random.Random(seed)
    newsletters = list(Newsletter.objects.order_by("pk").values_list("pk", flat=True))
    if not newsletters or count < 1:
        return 0
    run = secrets.token_hex(4)  # a second run adds new addresses, never clashes
    now = timezone.now()
    states = [state for state, weight in STATES for _ in range(weight)]
    made = 0
    while made < count:
        size = min(BATCH, count - made)
        with transaction.atomic():
            subscribers = []
            for i in range(made, made + size):
                email = f"reader-{run}-{i}@bench.example"
                subscribers.append(
                    Subscriber(
                        email=email,
                        email_hash=address_hash(email),
                        name=f"Reader {i}",
                        link_key=new_link_key(),
                        created_at=now - timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60)),
                    )
                )
            subscribers = Subscriber.objects.bulk_create(subscribers, batch_size=BATCH)
            subscriptions = []
            for subscriber in subscribers:
                state = rng.choice(states)
                joined = subscriber.created_at
                subscriptions.append(
                    Subscription(
                        subscriber_id=subscriber.pk,
                        newsletter_id=rng.choice(newsletters),
                        state=state,
                        source=Subscription.Source.FORM,
                        created_at=joined,
                        state_changed_at=joined,
                        confirmed_at=None if state == "pending" else joined,
                        unsubscribed_at=(
                            joined + (now - joined) / 2 if state == "unsubscribed" else None
                        ),
                        unsubscribed_via="link" if state == "unsubscribed" else "",
                    )
                )
            subscriptions = Subscription.objects.bulk_create(subscriptions, batch_size=BATCH)
            ConsentRecord.objects.bulk_create(
                [
                    ConsentRecord(
                        subscription_id=s.pk,
                        kind=ConsentKind.SIGNUP,
                        source="Benchmark data",
                        wording=WORDING,
                        created_at=s.created_at,
                    )
                    for s in subscriptions
                ],
                batch_size=BATCH,
            )
        made += size
        if progress:
            progress("subscribers", made, count)
    return made
