"""What mail providers report after the handoff, through django-anymail's
tracking webhooks (/anymail/<provider>/tracking/).

A hard bounce or a spam complaint suppresses the address (the one
suppression path, newsletters.services.suppress_hash, which a 5xx refusal
while sending takes too), is recorded against the delivery it concerns when
the event names it, and may pause the send (newsletters.delivery.thresholds).
Soft bounces, deferrals, opens and clicks change nothing.

Every request must carry the shared secret (ANYMAIL_WEBHOOK_SECRET, HTTP
basic auth) and, for providers that sign their posts, a valid signature;
anything else, or a body that is not the provider's format, is answered 400
with a sentence, never 500. A 500 is kept for our own failures (the
database down), which providers answer by posting again later.
"""

from __future__ import annotations

import logging
import re

from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.signals import EventType, RejectReason, tracking
from anymail.utils import get_anymail_setting
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponse
from django.urls import path, re_path
from django.urls.resolvers import RegexPattern

from newsletters.addresses import normalize_email
from newsletters.delivery import ledger, thresholds
from newsletters.models import Delivery, Suppression
from newsletters.services import suppress_address

log = logging.getLogger(__name__)

# Our own Message-ID (newsletters.mail.message.message_id): issue and subscriber.
OUR_MESSAGE_ID = re.compile(r"^<?issue-(\d{1,18})\.(\d{1,18})@[^>]+>?$")

# Providers' own words for a bounce that will not go away.
SOFT_BOUNCE_TYPES = {
    # Postmark's bounce "Type"s that anymail reports as bounced but that a
    # later message may get past.
    "Postmark": {"SoftBounce", "Transient", "DnsError", "VirusNotification", "AutoResponder"},
}


class BadWebhookPayload(SuspiciousOperation):
    """A post that passed authentication but is not the provider's format."""


# What reading a body of the wrong shape raises (UnicodeDecodeError is a ValueError).
MALFORMED = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def is_hard_bounce(event, esp_name: str) -> bool:
    if event.event_type == EventType.REJECTED:
        # Refused before sending because the address cannot exist.
        return event.reject_reason in (RejectReason.INVALID, RejectReason.BOUNCED)
    if event.event_type != EventType.BOUNCED:
        return False
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    if esp_name == "Postmark":
        return raw.get("Type") not in SOFT_BOUNCE_TYPES["Postmark"]
    if esp_name == "SendGrid":
        # SendGrid's "blocked" bounces are temporary refusals.
        return raw.get("type", "bounce") == "bounce"
    # Mailgun reports temporary failures as "deferred", never as "bounced".
    return True


def delivery_for(event) -> Delivery | None:
    """The delivery an event is about: by the provider's message id recorded at
    the handoff, by our own Message-ID, or by the delivery id in the
    message's metadata; and only if it went to the address the event names."""
    recipient = normalize_email(event.recipient or "")
    candidates = Delivery.objects.select_related("send")
    found = None
    if event.message_id:
        found = candidates.filter(provider_message_id=event.message_id[:200]).first()
        match = OUR_MESSAGE_ID.match(event.message_id.strip())
        if found is None and match:
            issue_id, subscriber_id = (int(group) for group in match.groups())
            found = candidates.filter(send__issue_id=issue_id, subscriber_id=subscriber_id).first()
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    if found is None and str(metadata.get("delivery", "")).isdigit():
        found = candidates.filter(pk=int(metadata["delivery"])).first()
    if found is not None and recipient and normalize_email(found.email) != recipient:
        log.warning("Webhook event for %s names a delivery to another address", recipient)
        return None
    return found


def _reason(event, esp_name: str, kind: str) -> str:
    said = event.description or event.mta_response or ""
    return f"{esp_name} reported a {kind}" + (f": {said}" if said else "") + "."


def handle_event(event, esp_name: str) -> str:
    """Act on one tracking event; says what was done (for logs and tests)."""
    if event.event_type == EventType.COMPLAINED:
        kind, reason = "complaint", Suppression.Reason.COMPLAINED
    elif is_hard_bounce(event, esp_name):
        kind, reason = "hard bounce", Suppression.Reason.BOUNCED
    else:
        return "ignored"
    note = _reason(event, esp_name, kind)
    delivery = delivery_for(event)
    if delivery is None:
        if not event.recipient:
            return "no address"
        # Not one of ours to count (a test send, an older mail), but the
        # address is as bad as ever.
        suppress_address(event.recipient, reason, note[:300])
        return f"suppressed ({kind}, no delivery)"
    if kind == "complaint":
        ledger.record_complaint(delivery, note)
    else:
        ledger.record_bounce(delivery, note, permanent=True)
    thresholds.check(delivery.send)
    return f"suppressed ({kind})"


def on_tracking(sender, event, esp_name, **kwargs) -> None:
    """anymail's tracking signal: the provider's event, normalised."""
    outcome = handle_event(event, esp_name)
    log.info("%s webhook %s for a delivery: %s", esp_name, event.event_type, outcome)


def connect() -> None:
    tracking.connect(on_tracking, dispatch_uid="newsletters.delivery.webhooks")


def checked(view_class):
    """anymail's tracking view, answering 400 with a sentence to a post whose
    body is not the provider's format, and 404 for a provider this site has
    not been set up for (say, a missing signing key), rather than 500."""

    class Checked(view_class):
        # A signature check reads the body too (Mailgun's), so both steps
        # are guarded; the shared secret is checked before either.
        def run_validators(self, request):
            try:
                return super().run_validators(request)
            except MALFORMED as error:
                raise self.malformed() from error

        def parse_events(self, request):
            try:
                return super().parse_events(request)
            except MALFORMED as error:
                raise self.malformed() from error

        def malformed(self) -> BadWebhookPayload:
            return BadWebhookPayload(
                f"This {self.esp_name} webhook post is not in {self.esp_name}'s format."
            )

    Checked.__name__ = Checked.__qualname__ = f"Checked{view_class.__name__}"
    inner = Checked.as_view()

    def view(request, *args, **kwargs):
        if not get_anymail_setting("webhook_secret", default=None):
            # Without the shared secret anyone could post a complaint and
            # suppress any address: the webhooks stay shut until it is set.
            return HttpResponse(
                "Webhooks are off until ANYMAIL_WEBHOOK_SECRET is set on this site.",
                status=404,
                content_type="text/plain; charset=utf-8",
            )
        try:
            return inner(request, *args, **kwargs)
        except AnymailConfigurationError:
            log.error("A %s webhook arrived but the provider is not set up", view_class.esp_name)
            return HttpResponse(
                "This provider's webhook is not set up on this site.",
                status=404,
                content_type="text/plain; charset=utf-8",
            )
        except (AnymailWebhookValidationFailure, SuspiciousOperation) as error:
            return HttpResponse(f"{error}", status=400, content_type="text/plain; charset=utf-8")

    view.csrf_exempt = True
    return view


def _webhook_urls():
    """anymail's tracking and inbound webhook URLs, every provider, each view
    checked. Inbound mail is taken in for the unsubscribe mailbox only
    (newsletters/delivery/inbound.py)."""
    from anymail import urls as anymail_urls

    patterns = []
    for pattern in anymail_urls.urlpatterns:
        name = pattern.name or ""
        view_class = getattr(pattern.callback, "view_class", None)
        if not name.endswith(("_tracking_webhook", "_inbound_webhook")) or view_class is None:
            continue
        route = re_path if isinstance(pattern.pattern, RegexPattern) else path
        patterns.append(route(str(pattern.pattern), checked(view_class), name=name))
    return patterns


# Included at anymail/ by newsroom/urls.py.
app_name = "anymail"
urlpatterns = _webhook_urls()
