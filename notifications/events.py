"""The reminder events: a reminder falls due (scheduled), and its email went out."""

from __future__ import annotations

from dataclasses import dataclass

from eventbus.events import DomainEvent

_UUID = {"type": "string", "format": "uuid", "minLength": 36, "maxLength": 36}
_ID = {"type": "integer", "minimum": 1}


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
            "reminder_id": _ID,
            "cart_id": _UUID,
            "step": _ID,
            "activity_sequence": {"type": "integer", "minimum": 0},
        },
        "required": ["reminder_id", "cart_id", "step", "activity_sequence"],
    }

    reminder_id: int
    cart_id: str
    step: int
    activity_sequence: int


@dataclass(frozen=True, kw_only=True)
class CartReminderSent(DomainEvent):
    source = "shop.notifications"
    schema = {
        "type": "object",
        "properties": {
            "reminder_id": _ID,
            "cart_id": _UUID,
            "step": _ID,
            "message_id": {"type": "string", "minLength": 1, "maxLength": 255},
        },
        "required": ["reminder_id", "cart_id", "step", "message_id"],
    }

    reminder_id: int
    cart_id: str
    step: int
    message_id: str
