"""An issue's mail on its way out: one Send per issue, one Delivery per
subscriber it goes to.

The rows, not the task queue, are the truth about what was done: the unique
constraints make a second send of an issue, or a second copy for one
subscriber, impossible to record, and a delivery marked sent is never sent
again. States change only in newsletters/delivery/sending.py (a publisher's
actions) and newsletters/delivery/ledger.py (each copy's record).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class SendState(models.TextChoices):
    # Chosen before publication (or set for issues live before mail existed):
    # the issue is for the web only and nothing is mailed.
    WEB_ONLY = "web_only", "Web only"
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    FINISHED = "finished", "Finished"


class Send(models.Model):
    """The mail of one issue. Its audience (the deliveries) is fixed in the
    transaction that moves it to SENDING."""

    State = SendState

    issue = models.OneToOneField(
        "stories.Issue", on_delete=models.CASCADE, related_name="send", editable=False
    )
    # The issue's newsletter, kept here so a newsletter's sends list without a join.
    newsletter = models.ForeignKey(
        "stories.Newsletter", on_delete=models.PROTECT, related_name="sends", editable=False
    )
    state = models.CharField(
        max_length=20, choices=SendState.choices, editable=False, db_index=True
    )
    # Why it is paused, web only, or stopped: a sentence for the publisher.
    reason = models.CharField(max_length=300, blank=True, editable=False)
    state_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # When the audience was fixed and the first task queued; None while web only.
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    # None: started by the scheduler when the issue went live.
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    # None while running, or when it paused itself (a threshold, a refusing server).
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    # How many deliveries the audience held when the send started.
    audience_size = models.PositiveIntegerField(default=0, editable=False)
    # Last time a worker claimed work for it: the scheduler re-queues tasks
    # for a send nobody has touched for a while (a killed worker).
    worked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["newsletter", "-created_at"])]

    def __str__(self) -> str:
        return f"Mail of issue {self.issue_id} ({self.get_state_display()})"


class DeliveryState(models.TextChoices):
    QUEUED = "queued", "Queued"
    # Claimed by a worker (claimed_at is its lease); handed to the mail server
    # or about to be.
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Delivery(models.Model):
    """One subscriber's copy of one issue's mail."""

    State = DeliveryState

    send = models.ForeignKey(
        Send, on_delete=models.CASCADE, related_name="deliveries", editable=False
    )
    # Erasing a reader erases their deliveries with them (the address is
    # personal data); an unsent copy of an erased reader is then never sent.
    subscriber = models.ForeignKey(
        "newsletters.Subscriber",
        on_delete=models.CASCADE,
        related_name="deliveries",
        editable=False,
    )
    # The address when the audience was fixed: where this copy goes.
    email = models.EmailField(max_length=254, editable=False)
    state = models.CharField(
        max_length=10,
        choices=DeliveryState.choices,
        default=DeliveryState.QUEUED,
        editable=False,
    )
    # Why it failed or was skipped, or the last temporary failure: the server's
    # reply or a sentence.
    reason = models.CharField(max_length=500, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    # A queued copy is not tried before this (backoff after a 4xx).
    next_attempt_at = models.DateTimeField(default=timezone.now, editable=False)
    # When a worker claimed it: a copy still SENDING long after is taken back.
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What the provider called the message (anymail's message_id), for webhooks.
    provider_message_id = models.CharField(max_length=200, blank=True, editable=False)
    # Provider events after the handoff (webhooks).
    bounced_at = models.DateTimeField(null=True, blank=True, editable=False)
    complained_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["send", "subscriber"], name="one_delivery_per_send_and_subscriber"
            ),
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False),
                name="sent_delivery_has_sent_at",
            ),
        ]
        indexes = [
            # The claim: a send's queued copies that are due, oldest first;
            # also the per-state counts of the progress panel.
            models.Index(fields=["send", "state", "next_attempt_at"], name="delivery_claim_idx"),
            # Taking back the leases of killed workers.
            models.Index(
                fields=["state", "claimed_at"],
                condition=Q(state="sending"),
                name="delivery_lease_idx",
            ),
            models.Index(
                fields=["provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="delivery_provider_id_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_state_display()})"
