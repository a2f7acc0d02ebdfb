"""What the policy, the mailer and the admin commands all do to a reminder row: lock it,
(re)schedule its ``CartReminderDue``, cancel or skip it, and announce each of these as an
event (``CartReminderScheduled``, ``CartReminderCancelled``, ``CartReminderSkipped``), which
the recovery dashboard counts.

Locking: every write to a cart's reminders first locks the cart row, then the reminder
(the order the cart's own commands and projection use too), so the policy, the mailer and
the admin never interleave on one cart.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from cart.selectors import cart_lock
from eventbus.outbox import publish
from eventbus.scheduling import cancel_schedule, schedule
from notifications.events import (
    CartReminderCancelled,
    CartReminderDue,
    CartReminderScheduled,
    CartReminderSkipped,
)
from notifications.models import Reminder

logger = logging.getLogger(__name__)


def to_the_second(moment: datetime) -> datetime:
    # Schedules (EventBridge Scheduler's at()) have one-second resolution.
    return moment.replace(microsecond=0)


def reminder_due_event(reminder: Reminder) -> CartReminderDue:
    return CartReminderDue(
        reminder_id=reminder.pk,
        cart_id=str(reminder.cart_id),
        step=reminder.step,
        activity_sequence=reminder.activity_sequence,
    )


def reminder_schedule(reminder: Reminder) -> None:
    """(Re)schedule the reminder's CartReminderDue; the cart's one key replaces the old one.
    The first time, CartReminderScheduled announces the reminder (moves announce nothing)."""
    name = schedule(reminder_due_event(reminder), at=reminder.due_at, key=reminder.schedule_key)
    changed = []
    if name != reminder.schedule_key:
        reminder.schedule_key = name
        changed.append("schedule_key")
    if reminder.first_scheduled_at is None:
        reminder.first_scheduled_at = timezone.now()
        changed.append("first_scheduled_at")
        publish(
            CartReminderScheduled(
                reminder_id=reminder.pk,
                cart_id=str(reminder.cart_id),
                step=reminder.step,
                due_at=reminder.due_at.astimezone(UTC).isoformat(),
            )
        )
    if changed:
        reminder.save(update_fields=[*changed, "updated_at"])


def reminder_mark_cancelled(
    reminder: Reminder, *, reason: str, sequence: int | None = None
) -> None:
    """Cancel a locked pending reminder and its schedule."""
    reminder.status = Reminder.Status.CANCELLED
    reminder.reason = reason[:255]
    if sequence is not None:
        # Remember the event that cancelled it, so older events arriving late are ignored.
        reminder.activity_sequence = sequence
    reminder.save(update_fields=["status", "reason", "activity_sequence", "updated_at"])
    cancel_schedule(reminder.schedule_key)
    publish(
        CartReminderCancelled(
            reminder_id=reminder.pk,
            cart_id=str(reminder.cart_id),
            step=reminder.step,
            reason=reminder.reason,
        )
    )
    logger.info("reminder %s for cart %s cancelled: %s", reminder.pk, reminder.cart_id, reason)


def reminder_mark_skipped(reminder: Reminder, *, reason: str) -> None:
    """A locked reminder that fell due is not sent, for ``reason``."""
    reminder.status = Reminder.Status.SKIPPED
    reminder.reason = reason[:255]
    reminder.save(update_fields=["status", "reason", "updated_at"])
    publish(
        CartReminderSkipped(
            reminder_id=reminder.pk,
            cart_id=str(reminder.cart_id),
            step=reminder.step,
            reason=reminder.reason,
        )
    )
    logger.info("reminder %s skipped: %s", reminder.pk, reason)


def reminder_lock(reminder_id: int) -> tuple[Reminder, Any] | None:
    """Lock a reminder's cart, then the reminder; None when the reminder is gone."""
    cart_id = Reminder.objects.filter(pk=reminder_id).values_list("cart_id", flat=True).first()
    if cart_id is None:
        return None
    cart = cart_lock(cart_id=cart_id)
    return Reminder.objects.select_for_update().get(pk=reminder_id), cart
