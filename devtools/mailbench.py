"""Data for `make bench-mail`: a newsletter with exactly N confirmed
subscribers and a fresh 10-story issue, ready to go live.

Rows are written directly, as generated bench data: nobody signed up, and
the stories are approved without a review. Addresses use the reserved
.example domain.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from devtools.benchdata import Generator, Sizes
from newsletters.addresses import address_hash
from newsletters.bulk import db_datetime, insert_rows
from newsletters.models import Subscriber, Subscription
from newsletters.models.subscribers import new_link_key
from stories.models import Issue, IssueItem, Newsletter, Story

SLUG = "mail-bench"
BATCH = 5000


def bench_newsletter() -> Newsletter:
    newsletter, _ = Newsletter.objects.get_or_create(
        slug=SLUG,
        defaults={
            "name": "Mail Bench",
            "sender_name": "Mail Bench",
            "sender_email": "bench@newsroom.example",
            "postal_address": "1 Example Street, Exampletown",
            "description": "Benchmark newsletter.",
        },
    )
    return newsletter


def cancel_unfinished_sends(newsletter: Newsletter) -> None:
    """Earlier runs stopped midway must not send into this one."""
    from newsletters.delivery import sending
    from newsletters.models import Send

    publisher, _ = get_user_model().objects.get_or_create(
        username="bench-mail-publisher", defaults={"is_superuser": True, "is_staff": True}
    )
    for send in Send.objects.filter(
        newsletter=newsletter, state__in=[Send.State.SENDING, Send.State.PAUSED]
    ):
        sending.cancel_send(publisher, send, "An earlier benchmark run, stopped midway.")


def ensure_subscribers(newsletter: Newsletter, count: int) -> int:
    """Make the newsletter's confirmed subscribers exactly count."""
    confirmed = Subscription.objects.filter(newsletter=newsletter, state="confirmed")
    have = confirmed.count()
    if have > count:
        extra = confirmed.order_by("-pk").values_list("pk", flat=True)[: have - count]
        Subscription.objects.filter(pk__in=list(extra)).delete()
        return count
    run = secrets.token_hex(4)
    now = timezone.now()
    made = have
    while made < count:
        size = min(BATCH, count - made)
        with transaction.atomic():
            rows = []
            for i in range(made, made + size):
                email = f"mail-{run}-{i}@bench.example"
                rows.append((email, address_hash(email), f"Reader {i}", new_link_key()))
            ids = insert_rows(
                Subscriber,
                ["email", "email_hash", "name", "link_key", "created_at"],
                [(*row, db_datetime(now)) for row in rows],
                returning=["id"],
            )
            insert_rows(
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
                    (
                        subscriber_id,
                        newsletter.pk,
                        "confirmed",
                        "form",
                        db_datetime(now),
                        db_datetime(now),
                        db_datetime(now),
                        "",
                    )
                    for (subscriber_id,) in ids
                ],
            )
        made += size
    return count


def ten_story_issue(newsletter: Newsletter, seed: int = 2025) -> Issue:
    """A new draft issue of newsletter holding ten approved stories."""
    text = Generator(Sizes(), seed=seed)
    author, _ = get_user_model().objects.get_or_create(
        username="bench-mail-author", defaults={"first_name": "Bench", "last_name": "Author"}
    )
    now = timezone.now()
    stories = []
    for _ in range(10):
        headline = text.headline()
        story = Story(
            headline=headline,
            slug=f"{slugify(headline)[:180]}-{secrets.token_hex(3)}",
            dek=text.sentence(8, 14),
            tldr=text.sentence(),
            body="\n\n".join(text.paragraph() for _ in range(7)),
            why_it_matters="\n".join(f"- {text.sentence(6, 12)}" for _ in range(3)),
            created_by=author,
            status=Story.Status.APPROVED,
        )
        story.save()
        story.authors.add(author)
        stories.append(story)
    number = (newsletter.issues.aggregate(m=Max("number"))["m"] or 0) + 1
    issue = Issue.objects.create(
        newsletter=newsletter,
        number=number,
        headline=f"Bench issue {number}: {text.headline()}",
        intro=text.paragraph(),
        closing_tldr=text.sentence(),
    )
    IssueItem.objects.bulk_create(
        IssueItem(issue=issue, story=story, position=i) for i, story in enumerate(stories, 1)
    )
    del now
    return issue


def make_live(issue: Issue) -> None:
    """Put the bench issue live now, as publish_issue_now would (bench data:
    no review, no audit)."""
    now = timezone.now()
    Issue.objects.filter(pk=issue.pk).update(
        status=Issue.Status.PUBLISHED, publish_at=now, published_at=now
    )
    Story.objects.filter(issue_items__issue=issue).update(
        status=Story.Status.PUBLISHED, published_at=now
    )
