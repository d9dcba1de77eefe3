"""Multi-row INSERTs for imports and generated data, without model instances.

bulk_create builds a model instance per row and prepares every value through
its field, which is most of the time of a 100,000-row import; here rows are
plain tuples already in database form, sent a few thousand at a time as one
INSERT ... VALUES statement (PostgreSQL and SQLite alike), optionally
skipping rows a unique constraint already holds and returning columns of the
rows written.
"""

from collections.abc import Sequence

from django.db import connection

from newsletters.models import ConsentRecord, Subscriber, Subscription
from newsletters.models.subscribers import new_link_key

# Rows per statement: within SQLite's 32,766 parameters for the widest table.
ROWS_PER_STATEMENT = 2000


def db_datetime(value):
    """A datetime as the database backend stores it (naive UTC text on SQLite)."""
    return connection.ops.adapt_datetimefield_value(value)


def insert_rows(
    model,
    fields: Sequence[str],
    rows: Sequence[tuple],
    *,
    skip_conflicts: bool = False,
    returning: Sequence[str] = (),
) -> list[tuple]:
    """Insert rows (tuples in the order of fields) into model's table."""
    if not rows:
        return []
    opts = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(opts.get_field(name).column) for name in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    tail = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    if returning:
        tail += " RETURNING " + ", ".join(quote(opts.get_field(n).column) for n in returning)
    written = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            sql = (
                f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES "
                + ", ".join([one] * len(chunk))
                + tail
            )
            cursor.execute(sql, [value for row in chunk for value in row])
            if returning:
                written.extend(cursor.fetchall())
    return written


# -- the rows an import (or generated data) adds to a list --------------------


def insert_subscribers(rows: Sequence[tuple[str, str, str]], at, **options) -> list[tuple]:
    """New subscribers from (email, email_hash, name) rows, each with its own
    link key, created at (database form); options as for insert_rows."""
    return insert_rows(
        Subscriber,
        ["email", "email_hash", "name", "link_key", "created_at"],
        [(email, email_hash, name, new_link_key(), at) for email, email_hash, name in rows],
        **options,
    )


def insert_confirmed_subscriptions(
    subscriber_ids, newsletter_id: int, source: str, at, *, skip_conflicts: bool = False
) -> list[int]:
    """Confirmed subscriptions of subscriber_ids to a newsletter, confirmed at
    (database form); the ids of those written."""
    CONFIRMED = Subscription.State.CONFIRMED.value
    written = insert_rows(
        Subscription,
        [
            "subscriber",
            "newsletter",
            "state",
            "source",
            "created_at",
            "state_changed_at",
            "confirmed_at",
            "unsubscribed_via",
        ],
        [
            (subscriber_id, newsletter_id, CONFIRMED, source, at, at, at, "")
            for subscriber_id in subscriber_ids
        ],
        skip_conflicts=skip_conflicts,
        returning=["id"],
    )
    return [pk for (pk,) in written]


def insert_consents(subscription_ids, kind: str, source: str, wording: str, at) -> None:
    """One consent record per subscription: how it was given, where, in which words."""
    insert_rows(
        ConsentRecord,
        ["subscription", "kind", "source", "wording", "created_at"],
        [(pk, kind, source, wording, at) for pk in subscription_ids],
    )
