"""Sends in a given state for the tests of the send's admin, webhooks and
thresholds; every change goes through newsletters.delivery.sending and
newsletters.delivery.ledger."""

from newsletters.delivery import ledger, sending
from newsletters.models import Send
from tests.factories import SubscriptionFactory, default_newsletter, published_issue


def mailing_newsletter():
    """The default newsletter, with the postal address its mail must carry."""
    newsletter = default_newsletter()
    newsletter.postal_address = "1 Example Street, Exampletown"
    newsletter.save()
    return newsletter


def live_send(newsletter, readers: int = 5) -> Send:
    """A live issue whose mail has started, to `readers` more confirmed
    subscribers of newsletter (which has a postal address)."""
    SubscriptionFactory.create_batch(readers, newsletter=newsletter)
    issue = published_issue(1, newsletter=newsletter)
    send = sending.start_send(issue)
    assert send.state == Send.State.SENDING
    return send


def hand_over(send, sent: int = 0, refused: int = 0, provider_ids=None) -> list[int]:
    """The workers' side: claim copies, then record `sent` of them accepted
    (with the provider's ids, if given, in order) and `refused` refused for
    good (5xx). Returns the ids of the copies recorded sent."""
    held = ledger.claim(send.pk, sent + refused)
    accepted = [c.delivery_id for c in held[:sent]]
    ids = dict(zip(accepted, provider_ids, strict=True)) if provider_ids else None
    ledger.record_sent(accepted, provider_ids=ids)
    for copy in held[sent:]:
        ledger.record_permanent_failure(copy.delivery_id, "550 5.1.1 No such user")
    return accepted
