"""Readers on the list: their addresses, one subscription per newsletter with
its own state, the consent behind each, and the addresses nothing may mail."""

import secrets

from django.db import models
from django.db.models import Exists, OuterRef
from django.db.models.functions import Lower
from django.utils import timezone

from newsletters.addresses import address_hash, normalize_email


def new_link_key() -> str:
    return secrets.token_urlsafe(9)


class SuppressionReason(models.TextChoices):
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Marked as spam"
    ERASED = "erased", "Erased at the reader's request"
    BLOCKED = "blocked", "Blocked by staff"


class Suppression(models.Model):
    """An address no mail may go to, kept only as its hash (newsletters.addresses).

    No form, import or admin action lifts one; staff remove it explicitly, and
    only for reasons other than erasure."""

    Reason = SuppressionReason

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.email_hash[:12]}…)"


class SubscriberQuerySet(models.QuerySet):
    def suppressed(self, flag: bool = True):
        """Subscribers whose address is (or, with flag False, is not) suppressed."""
        is_suppressed = Exists(Suppression.objects.filter(email_hash=OuterRef("email_hash")))
        return self.filter(is_suppressed if flag else ~is_suppressed)


class Subscriber(models.Model):
    """One reader's address, normalised and unique however it is spelled."""

    email = models.EmailField("email address", max_length=254)
    email_hash = models.CharField(max_length=64, unique=True, editable=False)
    name = models.CharField(max_length=200, blank=True)
    # Part of every signed link: a reused row id (SQLite may hand out the id
    # of an erased reader again) can never honour the erased reader's links.
    link_key = models.CharField(max_length=16, default=new_link_key, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="subscriber_email_unique_any_case")
        ]
        permissions = [
            ("export_subscribers", "Can export subscribers as CSV"),
            ("import_subscribers", "Can import subscribers from CSV"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        self.email_hash = address_hash(self.email)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = set(update_fields) | {"email_hash"}
        super().save(*args, **kwargs)

    @property
    def is_suppressed(self) -> bool:
        return Suppression.objects.filter(email_hash=self.email_hash).exists()


class SubscriptionState(models.TextChoices):
    PENDING = "pending", "Pending confirmation"
    CONFIRMED = "confirmed", "Confirmed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


class SubscriptionSource(models.TextChoices):
    FORM = "form", "Signup form"
    IMPORT = "import", "Import"
    ADMIN = "admin", "Added by staff"
    PREFERENCES = "preferences", "Preferences page"


class UnsubscribeChannel(models.TextChoices):
    LINK = "link", "Unsubscribe link"
    ONE_CLICK = "one_click", "One-click (mail client)"
    PREFERENCES = "preferences", "Preferences page"
    STAFF = "staff", "Staff"
    MAILTO = "mailto", "Unsubscribe mail (mail client)"


class SubscriptionQuerySet(models.QuerySet):
    def mailable(self):
        """Confirmed subscriptions whose address is not suppressed: who may get
        a newsletter's mail now."""
        suppressed = Suppression.objects.filter(email_hash=OuterRef("subscriber__email_hash"))
        return self.filter(state=SubscriptionState.CONFIRMED).exclude(Exists(suppressed))


class Subscription(models.Model):
    """A subscriber's place on one newsletter's list. Its state changes only in
    newsletters/services.py."""

    State = SubscriptionState
    Source = SubscriptionSource

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="subscriptions"
    )
    newsletter = models.ForeignKey(
        "stories.Newsletter", on_delete=models.PROTECT, related_name="subscriptions"
    )
    state = models.CharField(
        max_length=20,
        choices=SubscriptionState.choices,
        default=SubscriptionState.PENDING,
        editable=False,
    )
    source = models.CharField(max_length=20, choices=SubscriptionSource.choices, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    state_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True, editable=False)
    unsubscribed_via = models.CharField(
        max_length=20, choices=UnsubscribeChannel.choices, blank=True, editable=False
    )
    # The issue whose mail the unsubscribe came from, when a link said so.
    unsubscribed_from_issue = models.ForeignKey(
        "stories.Issue",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "newsletter"], name="one_subscription_per_newsletter"
            )
        ]
        indexes = [
            models.Index(fields=["newsletter", "state"]),
            models.Index(fields=["newsletter", "confirmed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} on {self.newsletter}"


class ConsentKind(models.TextChoices):
    SIGNUP = "signup", "Asked through a form"
    CONFIRMATION = "confirmation", "Confirmed from the mailed link"
    # Ticked on the preferences page, which only a link mailed to the address
    # opens: the same proof of the mailbox as a confirmation, said truthfully.
    PREFERENCES = "preferences", "Chosen on the preferences page (opened from a mailed link)"
    IMPORT = "import", "Imported with a stated basis"
    STAFF = "staff", "Added by staff with a stated basis"


class ConsentRecord(models.Model):
    """Evidence of consent: when, through which form or import, from which
    client address, and the exact words the reader saw. Rows are only added."""

    Kind = ConsentKind

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="consents"
    )
    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    source = models.CharField(
        max_length=300, help_text="The page whose form was used, or the import."
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    wording = models.TextField(help_text="The exact words shown, or the stated basis.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.created_at:%Y-%m-%d}"
