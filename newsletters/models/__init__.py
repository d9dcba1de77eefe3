from newsletters.models.imports import SubscriberImport
from newsletters.models.sending import Delivery, Send
from newsletters.models.subscribers import (
    ConsentRecord,
    Subscriber,
    Subscription,
    Suppression,
)

__all__ = [
    "ConsentRecord",
    "Delivery",
    "Send",
    "Subscriber",
    "SubscriberImport",
    "Subscription",
    "Suppression",
]
