"""Reminders of abandoned carts, the addresses that opted out, and the emails sent."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class Reminder(models.Model):
    """One scheduled abandoned-cart email: at most one is pending per cart.

    ``activity_sequence`` is the cart event the reminder was (re)scheduled for; the mailer
    sends only while the cart has not moved past it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        # Claimed by the mailer and being sent. A row that stays here had its worker die
        # between claiming and recording the result: the email may or may not have gone
        # out, so it is never sent again automatically (at most one email).
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    cart = models.ForeignKey("cart.Cart", on_delete=models.CASCADE, related_name="reminders")
    email = models.EmailField(max_length=254)
    step = models.PositiveSmallIntegerField(default=1, help_text="Step in REMINDER_SERIES.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(
        max_length=255, blank=True, help_text="Why it was skipped, cancelled or failed."
    )
    due_at = models.DateTimeField()
    activity_sequence = models.PositiveIntegerField(
        help_text="The cart event (sequence number) the reminder was scheduled for."
    )
    activity_at = models.DateTimeField(help_text="When that cart event happened.")
    schedule_key = models.CharField(
        max_length=64, help_text="The bus backend's name for the schedule."
    )
    send_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the recovery link was used (it works once)."
    )
    # What the recovery link names the reminder by: random, so no link can be guessed from
    # another, even by someone who knows SECRET_KEY (the signature only adds expiry).
    link_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The cart the link restored the lines into: the reminder's own, or a signed-in
    # shopper's (whose order then counts as recovered by it, notifications.attribution).
    restored_to_cart_id = models.UUIDField(
        null=True, blank=True, help_text="The cart its recovery link restored the lines into."
    )
    recovered_at = models.DateTimeField(null=True, blank=True)
    recovered_order_id = models.UUIDField(null=True, blank=True)
    first_scheduled_at = models.DateTimeField(
        null=True, blank=True, help_text="When CartReminderScheduled announced it."
    )
    discount_code = models.ForeignKey(
        "cart.DiscountCode",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The code its email carries (REMINDER_DISCOUNTS).",
    )

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["cart"],
                condition=models.Q(status="pending"),
                name="one_pending_reminder_per_cart",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="reminder_status_due"),
            models.Index(
                fields=["due_at"], condition=models.Q(status="pending"), name="reminder_pending_due"
            ),
            models.Index(fields=["email"], name="reminder_email"),
            models.Index(
                fields=["restored_to_cart_id"],
                condition=models.Q(restored_to_cart_id__isnull=False),
                name="reminder_restored_to_cart",
            ),
        ]

    def __str__(self) -> str:
        return f"reminder {self.pk} (step {self.step}, {self.status}) for cart {self.cart_id}"


class EmailSuppression(models.Model):
    """An address that unsubscribed: it never gets a reminder again."""

    email = models.EmailField(max_length=254, unique=True, help_text="Stored lower-case.")
    source = models.CharField(max_length=32, blank=True, help_text="How it was recorded.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "unsubscribed address"
        verbose_name_plural = "unsubscribed addresses"

    def __str__(self) -> str:
        return self.email


class SentEmail(models.Model):
    """The log of reminder emails that went out."""

    reminder = models.ForeignKey(
        Reminder, null=True, on_delete=models.SET_NULL, related_name="emails"
    )
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    message_id = models.CharField(max_length=255, unique=True)
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to}"


class RecoveryFact(models.Model):
    """One fact of the recovery dashboard, projected from one event (notifications.recovery).

    ``key`` makes each fact once (a redelivery or a rebuild inserts nothing new): per cart
    and day for carts with items, per event for contact changes, per reminder for its
    outcomes and per order for recoveries. The dashboard's figures are counts and sums of
    these rows, so they can always be rebuilt from the events (``rebuild_recovery_dashboard``).
    """

    class Kind(models.TextChoices):
        CART_ACTIVE = "cart_active", "Cart had items added (that day)"
        CONTACT = "contact", "Cart contact changed"
        SCHEDULED = "scheduled", "Reminder scheduled"
        SENT = "sent", "Reminder sent"
        SKIPPED = "skipped", "Reminder skipped"
        CANCELLED = "cancelled", "Reminder cancelled"
        LINK_OPENED = "link_opened", "Recovery link opened"
        RECOVERED = "recovered", "Order recovered"

    key = models.CharField(max_length=96, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    cart_id = models.UUIDField()
    reminder_id = models.BigIntegerField(null=True, blank=True)
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    sequence = models.PositiveIntegerField(null=True, blank=True)
    reachable = models.BooleanField(null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    order_id = models.UUIDField(null=True, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    discount_code = models.CharField(max_length=32, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "occurred_at"], name="recovery_fact_kind_time"),
            models.Index(fields=["cart_id", "kind"], name="recovery_fact_cart_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"
