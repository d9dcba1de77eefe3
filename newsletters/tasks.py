"""Work that outlives a request, on Django's tasks API. Each task re-reads the
database and acts on what it finds there, so running one twice, or late,
does no harm."""

from django_tasks import task

from newsletters.mail.confirmation import subscription_mail
from newsletters.models import Subscription

WANTED_STATE = {"confirm": Subscription.State.PENDING, "already": Subscription.State.CONFIRMED}


@task()
def send_subscription_mail(subscription_id: int, kind: str) -> str:
    """Send the confirmation (or "already subscribed") mail, if it still applies."""
    subscription = (
        Subscription.objects.select_related("subscriber", "newsletter")
        .filter(pk=subscription_id)
        .first()
    )
    if subscription is None:
        return "gone"  # erased meanwhile
    if subscription.state != WANTED_STATE[kind]:
        return "state changed"
    if subscription.subscriber.is_suppressed:
        return "suppressed"
    subscription_mail(subscription, kind).send()
    return "sent"


@task()
def run_subscriber_import(import_id: int) -> str:
    """Run a previewed CSV import (newsletters/importing.py)."""
    from newsletters.importing import run_import

    return run_import(import_id)
