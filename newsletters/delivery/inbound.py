"""The mailto: of List-Unsubscribe: a reader's mail client sends a message
to the unsubscribe mailbox (newsletters.mail.message.unsubscribe_address)
whose subject is "unsubscribe <token>", the copy's signed unsubscribe token.
The provider posts it to django-anymail's inbound webhook
(/anymail/<provider>/inbound/, shut like the tracking webhooks until
ANYMAIL_WEBHOOK_SECRET is set), and this unsubscribes the reader the token
names, through the same service as the one-click link, with channel "mailto".

Only the token counts: a sender's address is easily forged and a reader may
write from another one, so a subject without a valid token (altered,
expired, someone else's words, a reply to the newsletter) changes nothing.
"""

from __future__ import annotations

import logging
import re

from anymail.signals import inbound

from newsletters import services
from newsletters.links import BadLink, read_token
from newsletters.mail.message import MAILTO_SUBJECT
from newsletters.models.subscribers import UnsubscribeChannel

log = logging.getLogger(__name__)

# "unsubscribe <token>", as the mailto: asks; a client may prefix "Re:" or
# the like. Signed tokens are URL-safe base64 and colons, nothing longer
# than a few hundred characters.
SUBJECT = re.compile(rf"\b{MAILTO_SUBJECT}\s+([A-Za-z0-9_\-:]{{20,500}})", re.IGNORECASE)


def handle_message(subject: str) -> str:
    """Unsubscribe whoever the subject's token names; says what was done."""
    match = SUBJECT.search(subject or "")
    if match is None:
        return "no token"
    try:
        target = read_token(match.group(1), "unsubscribe")
        outcome = services.unsubscribe(target, via=UnsubscribeChannel.MAILTO)
    except BadLink as error:
        return f"ignored: {error}"
    return "unsubscribed" if outcome.changed else "already unsubscribed"


def on_inbound(sender, event, esp_name, **kwargs) -> None:
    """anymail's inbound signal: one message received by the provider."""
    message = event.message
    subject = (message.subject or "") if message is not None else ""
    outcome = handle_message(subject)
    log.info("%s inbound mail to the unsubscribe mailbox: %s", esp_name, outcome)


def connect() -> None:
    inbound.connect(on_inbound, dispatch_uid="newsletters.delivery.inbound")
