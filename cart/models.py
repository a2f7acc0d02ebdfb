"""Carts, their projected lines, and orders.

A ``Cart`` row is the command side: it exists from the first accepted event and hands
out per-cart sequence numbers. ``CartLine`` is the projection that the cart consumer
builds from events; requests never write lines.
"""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone


def cart_access_key_new() -> str:
    """A fresh secret for a cart's session (see ``Cart.access_key``)."""
    return secrets.token_urlsafe(32)


class Cart(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CHECKED_OUT = "checked_out", "Checked out"
        MERGED = "merged", "Merged into a user's cart"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="carts",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    currency = models.CharField(max_length=3, default=settings.SHOP_CURRENCY)
    # Contact for abandoned-cart reminders (a guest's own; a user's comes from the account).
    email = models.EmailField(blank=True)
    consent = models.BooleanField(default=False)
    # A guest's address counts only once its owner followed the confirmation email's link.
    email_confirmed = models.BooleanField(default=False)
    # A guest's session holds the cart's id and this secret; only both reach the cart. A
    # restored recovery link gives the cart a new one, which cuts the old session off.
    # Blank only on carts from before access keys, which their session id alone reaches.
    access_key = models.CharField(
        max_length=64, blank=True, default=cart_access_key_new, editable=False
    )
    # Command side: the sequence number of the last accepted event, and each line's
    # quantity as accepted, which the next command is checked against (the projection's
    # lines may lag behind).
    accepted_sequence = models.PositiveIntegerField(default=0)
    accepted_lines = models.JSONField(default=dict, blank=True)
    # Projection side: the last event applied, in sequence order.
    applied_sequence = models.PositiveIntegerField(default=0)
    last_event_id = models.CharField(max_length=64, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(status="open"), name="one_open_cart_per_user"
            ),
        ]
        indexes = [
            # Pruning finds the guest carts nobody touched for CART_RETENTION.
            models.Index(
                fields=["updated_at"],
                condition=models.Q(user__isnull=True),
                name="cart_guest_updated",
            ),
        ]

    def __str__(self) -> str:
        return f"cart {self.id}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def is_checked_out(self) -> bool:
        return self.status == self.Status.CHECKED_OUT

    @property
    def pending_events(self) -> int:
        return self.accepted_sequence - self.applied_sequence

    @property
    def contact_email(self) -> str:
        return self.user.email if self.user_id and self.user.email else self.email

    @property
    def contact_confirmed(self) -> bool:
        """Whether consent to reminders counts: an account's address is its own; a guest's
        only once confirmed."""
        return self.user_id is not None or self.email_confirmed


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("shop.Product", on_delete=models.PROTECT)
    sku = models.CharField(max_length=32)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "sku"], name="one_line_per_sku"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class PendingCartEvent(models.Model):
    """An event that arrived before its predecessors; applied once the gap is filled."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="pending")
    sequence = models.PositiveIntegerField()
    envelope = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cart", "sequence"], name="one_pending_per_sequence"),
        ]

    def __str__(self) -> str:
        return f"cart {self.cart_id} event {self.sequence}"


class Order(models.Model):
    id = models.UUIDField(primary_key=True, editable=False)
    cart = models.OneToOneField(Cart, on_delete=models.PROTECT, related_name="order")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    email = models.EmailField(blank=True)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    # A discount code redeemed at checkout, and what it took off the lines' sum.
    discount_code = models.CharField(max_length=32, blank=True)
    discount_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    placed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-placed_at"]

    def __str__(self) -> str:
        return f"order {self.id}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("shop.Product", on_delete=models.PROTECT)
    sku = models.CharField(max_length=32)
    name = models.CharField(max_length=120)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class DiscountCode(models.Model):
    """A unique, single-use, expiring percentage off a cart (see :mod:`cart.discounts`).

    Applied to at most one open cart at a time (``applied_to``); redeemed once, by the
    checkout that places ``used_by_order_id``.
    """

    code = models.CharField(max_length=32, unique=True)
    percent = models.DecimalField(max_digits=5, decimal_places=2)
    reference = models.CharField(
        max_length=64, unique=True, help_text="What it was issued for (one code each)."
    )
    email = models.EmailField(blank=True, help_text="Who it was issued to.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    applied_to = models.OneToOneField(
        Cart, null=True, blank=True, on_delete=models.SET_NULL, related_name="discount_code"
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    used_by_order_id = models.UUIDField(null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.code
