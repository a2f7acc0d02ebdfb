"""Reminder commands behind the admin's actions and the links in reminder emails."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from cart.services import Restored, cart_restore_for_request
from eventbus.outbox import publish
from eventbus.scheduling import cancel_schedule
from notifications.controls import reminder_due_at
from notifications.discounts import reminder_discount_apply
from notifications.events import RecoveryLinkOpened
from notifications.models import EmailSuppression, Reminder
from notifications.reminders import (
    reminder_due_event,
    reminder_lock,
    reminder_mark_cancelled,
    reminder_schedule,
    to_the_second,
)
from notifications.selectors import email_normalize, recovery_link_get

logger = logging.getLogger(__name__)


@transaction.atomic
def reminder_cancel(*, reminder_id: int, reason: str) -> bool:
    """Cancel a pending reminder and its schedule; False when it was not pending."""
    locked = reminder_lock(reminder_id)
    if locked is None or locked[0].status != Reminder.Status.PENDING:
        return False
    reminder_mark_cancelled(locked[0], reason=reason)
    return True


@transaction.atomic
def reminder_send_now(*, reminder_id: int) -> bool:
    """Make a pending reminder due now: its CartReminderDue goes out through the outbox
    and the mailer handles it like any other (re-checks included)."""
    locked = reminder_lock(reminder_id)
    if locked is None or locked[0].status != Reminder.Status.PENDING:
        return False
    reminder = locked[0]
    cancel_schedule(reminder.schedule_key)
    reminder.due_at = to_the_second(timezone.now())
    reminder.save(update_fields=["due_at", "updated_at"])
    publish(reminder_due_event(reminder))
    return True


@transaction.atomic
def reminder_reschedule(*, reminder_id: int, due_at: datetime) -> bool:
    """Move a pending reminder to ``due_at``; a failed one, or one left ``sending`` by a
    dead worker, becomes pending again (when its cart has no other pending reminder)."""
    locked = reminder_lock(reminder_id)
    if locked is None:
        return False
    reminder, cart = locked
    retryable = {Reminder.Status.FAILED, Reminder.Status.SENDING}
    if reminder.status in retryable:
        if Reminder.objects.filter(cart=cart, status=Reminder.Status.PENDING).exists():
            return False
        reminder.status = Reminder.Status.PENDING
        reminder.send_attempts = 0
        reminder.reason = ""
    elif reminder.status != Reminder.Status.PENDING:
        return False
    reminder.due_at = reminder_due_at(due_at)
    reminder.save()
    reminder_schedule(reminder)
    return True


@transaction.atomic
def email_unsubscribe(*, email: str, source: str) -> int:
    """Record the opt-out and cancel the address's pending reminders; returns how many."""
    address = email_normalize(email)
    EmailSuppression.objects.get_or_create(email=address, defaults={"source": source[:32]})
    pending = Reminder.objects.filter(email__iexact=address, status=Reminder.Status.PENDING)
    cancelled = sum(
        reminder_cancel(reminder_id=reminder_id, reason="unsubscribed")
        for reminder_id in pending.values_list("pk", flat=True)
    )
    logger.info("unsubscribed an address (%s); %d reminders cancelled", source, cancelled)
    return cancelled


@transaction.atomic
def recovery_link_redeem(*, link_token: uuid.UUID, request: HttpRequest) -> Restored | None:
    """Use a reminder's recovery link: restore its cart for the caller (a cart command),
    mark the link used (``RecoveryLinkOpened``, which starts an attribution window), note
    the cart the lines went to (a signed-in shopper's own: its order is the reminder's to
    credit) and put the email's discount code on that cart, in one transaction, so it works
    once. None when the link is not live (used meanwhile, replaced by a newer reminder's,
    or unknown)."""
    reminder_id = (
        Reminder.objects.filter(link_token=link_token).values_list("pk", flat=True).first()
    )
    locked = reminder_lock(reminder_id) if reminder_id is not None else None
    if locked is None:
        return None
    reminder, _cart = locked
    # Checked under the locks: two clicks at once restore the cart only once.
    if not recovery_link_get(link_token=link_token).live:
        return None
    restored = cart_restore_for_request(request=request, cart_id=reminder.cart_id)
    if restored.granted:
        opened_at = timezone.now()
        restored_to = restored.cart.pk if restored.cart is not None else None
        if Reminder.objects.filter(pk=reminder_id, clicked_at__isnull=True).update(
            clicked_at=opened_at, restored_to_cart_id=restored_to
        ):
            reminder.clicked_at = opened_at
            publish(
                RecoveryLinkOpened(
                    reminder_id=reminder.pk,
                    cart_id=str(reminder.cart_id),
                    step=reminder.step,
                    opened_at=opened_at.isoformat(),
                )
            )
        reminder_discount_apply(reminder, cart=restored.cart)
    return restored
