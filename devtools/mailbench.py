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

from devtools.bench_subscribers import WORDING
from devtools.benchdata import Generator, Sizes
from newsletters.addresses import address_hash
from newsletters.bulk import (
    db_datetime,
    insert_confirmed_subscriptions,
    insert_consents,
    insert_subscribers,
)
from newsletters.models import Subscription
from newsletters.models.subscribers import ConsentKind
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
        extra = list(confirmed.order_by("-pk").values_list("pk", flat=True)[: have - count])
        for start in range(0, len(extra), BATCH):  # within a statement's parameters
            Subscription.objects.filter(pk__in=extra[start : start + BATCH]).delete()
        return count
    run = secrets.token_hex(4)
    now = timezone.now()
    made = have
    while made < count:
        size = min(BATCH, count - made)
        with transaction.atomic():
            at = db_datetime(now)
            emails = [f"mail-{run}-{i}@bench.example" for i in range(made, made + size)]
            subscribers = insert_subscribers(
                [
                    (email, address_hash(email), f"Reader {i}")
                    for i, email in enumerate(emails, made)
                ],
                at,
                returning=["id"],
            )
            subscriptions = insert_confirmed_subscriptions(
                [pk for (pk,) in subscribers], newsletter.pk, Subscription.Source.FORM.value, at
            )
            insert_consents(subscriptions, ConsentKind.SIGNUP.value, "Benchmark data", WORDING, at)
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
