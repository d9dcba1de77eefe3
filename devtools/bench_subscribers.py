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
from newsletters.bulk import db_datetime, insert_rows
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
            rows = []
            for i in range(made, made + size):
                email = f"reader-{run}-{i}@bench.example"
                joined = now - timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60))
                rows.append((email, address_hash(email), f"Reader {i}", new_link_key(), joined))
            # RETURNING rows are matched by key, not by their order.
            ids = dict(
                insert_rows(
                    Subscriber,
                    ["email", "email_hash", "name", "link_key", "created_at"],
                    [(*row[:4], db_datetime(row[4])) for row in rows],
                    returning=["email_hash", "id"],
                )
            )
            subscriptions, joined_by_subscriber = [], {}
            for row in rows:
                subscriber_id = ids[row[1]]
                state, joined = rng.choice(states), row[4]
                joined_by_subscriber[subscriber_id] = joined
                left = joined + (now - joined) / 2 if state == "unsubscribed" else None
                subscriptions.append(
                    (
                        subscriber_id,
                        rng.choice(newsletters),
                        state,
                        Subscription.Source.FORM.value,
                        db_datetime(joined),
                        db_datetime(left or joined),
                        None if state == "pending" else db_datetime(joined),
                        db_datetime(left) if left else None,
                        "link" if left else "",
                    )
                )
            created = insert_rows(
                Subscription,
                [
                    "subscriber",
                    "newsletter",
                    "state",
                    "source",
                    "created_at",
                    "state_changed_at",
                    "confirmed_at",
                    "unsubscribed_at",
                    "unsubscribed_via",
                ],
                subscriptions,
                returning=["id", "subscriber"],
            )
            insert_rows(
                ConsentRecord,
                ["subscription", "kind", "source", "wording", "created_at"],
                [
                    (
                        pk,
                        ConsentKind.SIGNUP.value,
                        "Benchmark data",
                        WORDING,
                        db_datetime(joined_by_subscriber[subscriber_id]),
                    )
                    for pk, subscriber_id in created
                ],
            )
        made += size
        if progress:
            progress("subscribers", made, count)
    return made
