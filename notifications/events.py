"""The reminder events: a reminder falls due (scheduled), and its email went out.

``CartReminderSent`` is at version 2; version 1 stays declared, with converters both ways,
so stored v1 events reach today's consumers and a consumer written for v1 keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.versioning import downcaster, upcaster

_UUID = {"type": "string", "format": "uuid", "minLength": 36, "maxLength": 36}
_ID = {"type": "integer", "minimum": 1}
_REMINDER_ID = {**_ID, "description": "The reminder (notifications.Reminder)."}
_CART_ID = {**_UUID, "description": "The cart the reminder is about."}
_STEP = {**_ID, "description": "Which reminder of the series (REMINDER_SERIES), from 1."}


@dataclass(frozen=True, kw_only=True)
class CartReminderDue(DomainEvent):
    """Published by the schedule when a reminder falls due.

    ``activity_sequence`` is the cart event the reminder was scheduled for: a firing left
    over from before a reschedule carries an older one, and the mailer ignores it.
    """

    source = "shop.notifications"
    schema = {
        "type": "object",
        "properties": {
            "reminder_id": _REMINDER_ID,
            "cart_id": _CART_ID,
            "step": _STEP,
            "activity_sequence": {
                "type": "integer",
                "minimum": 0,
                "description": "The cart event (sequence) the reminder was scheduled for.",
            },
        },
        "required": ["reminder_id", "cart_id", "step", "activity_sequence"],
    }

    reminder_id: int
    cart_id: str
    step: int
    activity_sequence: int


@dataclass(frozen=True, kw_only=True)
class CartReminderSentV1(DomainEvent):
    """The abandoned-cart email went out (version 1: its Message-ID only).

    Superseded by version 2; kept for stored events and consumers written for it.
    """

    source = "shop.notifications"
    detail_type = "CartReminderSent"
    version = 1
    schema = {
        "type": "object",
        "properties": {
            "reminder_id": _REMINDER_ID,
            "cart_id": _CART_ID,
            "step": _STEP,
            "message_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "The email's Message-ID header.",
                "examples": ["<170000000000.1.42@shop.example>"],
            },
        },
        "required": ["reminder_id", "cart_id", "step", "message_id"],
    }

    reminder_id: int
    cart_id: str
    step: int
    message_id: str


@dataclass(frozen=True, kw_only=True)
class CartReminderSent(DomainEvent):
    """A reminder went out: on which channel, with which message id, and when.

    Version 2 names the channel, so that reminders by other channels can follow, and
    carries the moment of sending; version 1's message_id became channel_message_id.
    """

    source = "shop.notifications"
    version = 2
    schema = {
        "type": "object",
        "properties": {
            "reminder_id": _REMINDER_ID,
            "cart_id": _CART_ID,
            "step": _STEP,
            "channel": {
                "type": "string",
                "enum": ["email"],
                "description": "How the reminder went out.",
            },
            "channel_message_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "The message's id on its channel (an email's Message-ID).",
                "examples": ["<170000000000.1.42@shop.example>"],
            },
            "sent_at": {
                "type": "string",
                "format": "date-time",
                "description": "When the message was handed to the channel (UTC).",
            },
        },
        "required": ["reminder_id", "cart_id", "step", "channel", "channel_message_id", "sent_at"],
    }

    reminder_id: int
    cart_id: str
    step: int
    channel: str
    channel_message_id: str
    sent_at: str


@upcaster(CartReminderSentV1, CartReminderSent)
def _sent_v1_to_v2(detail: dict[str, Any], envelope: Envelope) -> dict[str, Any]:
    """Version 1 was only ever email; it was published in the transaction that recorded
    the sending, so the event's time is when the email went out (to the second)."""
    detail["channel"] = "email"
    detail["channel_message_id"] = detail.pop("message_id")
    detail["sent_at"] = envelope.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return detail


@downcaster(CartReminderSent, CartReminderSentV1)
def _sent_v2_to_v1(detail: dict[str, Any], envelope: Envelope) -> dict[str, Any]:
    """Version 1 readers know emails only; v2 has no other channel yet."""
    detail["message_id"] = detail.pop("channel_message_id")
    del detail["channel"], detail["sent_at"]
    return detail


_REASON = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "description": "Why, in words an admin reads (also the dashboard's grouping).",
    "examples": ["frequency cap: this address had a reminder less than 16h ago"],
}
_MOMENT = {"type": "string", "format": "date-time"}


@dataclass(frozen=True, kw_only=True)
class CartReminderScheduled(DomainEvent):
    """A new reminder was scheduled for a cart (moving it later publishes nothing)."""

    source = "shop.notifications"
    schema = {
        "type": "object",
        "properties": {
            "reminder_id": _REMINDER_ID,
            "cart_id": _CART_ID,
            "step": _STEP,
            "due_at": {**_MOMENT, "description": "When it was first due (UTC)."},
        },
        "required": ["reminder_id", "cart_id", "step", "due_at"],
    }

    reminder_id: int
    cart_id: str
    step: int
    due_at: str


@dataclass(frozen=True, kw_only=True)
class CartReminderSkipped(DomainEvent):
    """A due reminder was not sent: a re-check or a sending control refused it."""

    source = "shop.notifications"
    schema = {
        "type": "object",
        "properties": {
            "reminder_id": _REMINDER_ID,
            "cart_id": _CART_ID,
            "step": _STEP,
            "reason": _REASON,
        },
        "required": ["reminder_id", "cart_id", "step", "reason"],
    }

    reminder_id: int
    cart_id: str
    step: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class CartReminderCancelled(DomainEvent):
    """A pending reminder was cancelled before it fell due (checkout, empty cart, staff...)."""

    source = "shop.notifications"
    schema = CartReminderSkipped.schema

    reminder_id: int
    cart_id: str
    step: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecoveryLinkOpened(DomainEvent):
    """The recovery link of a reminder email was opened for the first time."""

    source = "shop.notifications"
    schema = {
        "type": "object",
        "properties": {
            "reminder_id": _REMINDER_ID,
            "cart_id": _CART_ID,
            "step": _STEP,
            "opened_at": {**_MOMENT, "description": "When (UTC)."},
        },
        "required": ["reminder_id", "cart_id", "step", "opened_at"],
    }

    reminder_id: int
    cart_id: str
    step: int
    opened_at: str


@dataclass(frozen=True, kw_only=True)
class OrderRecovered(DomainEvent):
    """An order was placed within REMINDER_ATTRIBUTION_WINDOW of a reminder's email or of
    the opening of its link: the reminder gets the credit (the latest such touch)."""

    source = "shop.notifications"
    schema = {
        "type": "object",
        "properties": {
            "reminder_id": _REMINDER_ID,
            "cart_id": {**_UUID, "description": "The cart that was checked out."},
            "order_id": {**_UUID, "description": "The order (cart.Order)."},
            "step": _STEP,
            "touch": {
                "type": "string",
                "enum": ["sent", "link-opened"],
                "description": "What the credit is for: the email, or the opening of its link.",
            },
            "total": {
                "type": "string",
                "pattern": r"^\d+\.\d{2}$",
                "description": "The order's total (after any discount), as a decimal string.",
                "examples": ["42.50"],
            },
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["EUR"]},
            "discount_code": {
                "type": "string",
                "maxLength": 32,
                "description": "The discount code the order used; empty for none.",
            },
            "placed_at": {**_MOMENT, "description": "When the order was placed (UTC)."},
        },
        "required": [
            "reminder_id",
            "cart_id",
            "order_id",
            "step",
            "touch",
            "total",
            "currency",
            "discount_code",
            "placed_at",
        ],
    }

    reminder_id: int
    cart_id: str
    order_id: str
    step: int
    touch: str
    total: str
    currency: str
    discount_code: str
    placed_at: str
