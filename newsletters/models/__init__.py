from newsletters.models.imports import SubscriberImport
from newsletters.models.subscribers import (
    ConsentRecord,
    Subscriber,
    Subscription,
    Suppression,
)

__all__ = ["ConsentRecord", "Subscriber", "SubscriberImport", "Subscription", "Suppression"]
