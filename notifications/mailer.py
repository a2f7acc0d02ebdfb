"""The abandoned-cart mailer: sends a due reminder's email, at most once.

It runs outside the delivery transaction (``subscribe(atomic=False)``) and commits in
three steps:

1. claim: lock, re-check, set ``sending`` and count the attempt, commit;
2. send through Django's email backend, holding no transaction;
3. record: ``sent``, the log row and ``CartReminderSent``, commit.

A duplicate delivery or a second worker finds ``sending`` or ``sent`` and does nothing. A
send that fails sets the reminder back to ``pending`` and raises, so the bus retries; the
last attempt ends ``failed`` and raises PermanentFailure, which the bus turns into a dead
letter. A worker that dies between steps 1 and 3 leaves ``sending``: the email may or may
not have gone out, so it is never sent again by itself; the admin shows such rows (and can
reschedule them). Sending inside the claim transaction instead would send twice whenever
the commit after a successful send failed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from cart.selectors import cart_summary
from eventbus.failures import PermanentFailure, max_attempts
from eventbus.outbox import publish
from notifications.controls import reminder_due_at, sending_refusal
from notifications.discounts import reminder_discount_issue
from notifications.eligibility import reminder_refusal
from notifications.emails import reminder_email_build
from notifications.events import CartReminderSent
from notifications.metrics import EMAILS_FAILED, EMAILS_SENT
from notifications.models import Reminder, SentEmail
from notifications.offer import reminder_offer
from notifications.reminders import reminder_lock, reminder_mark_skipped, reminder_schedule
from notifications.selectors import reminder_delays

logger = logging.getLogger(__name__)

# A firing this much before the reminder's due time belongs to an older schedule (the
# reminder was pushed out since): ignore it, the newer schedule fires later. Schedules fire
# to the second, so a little slack covers rounding and clock skew.
EARLY_FIRING_TOLERANCE = timedelta(seconds=30)


class CartViewBehind(Exception):
    """The cart projection has not applied the cart's latest events: retry later."""


class ReminderSendFailed(Exception):
    """The email backend refused the message; the bus retries the delivery."""


def _refusal(*, reminder: Reminder, cart: Any, has_lines: bool) -> str:
    """Why a due reminder must not be sent, or "" when it should be: the cart must not have
    moved since it was scheduled, and must still pass the eligibility rule."""
    if cart.is_open and cart.accepted_sequence > reminder.activity_sequence:
        return "cart changed after the reminder was scheduled"
    if cart.is_open and cart.applied_sequence < cart.accepted_sequence:
        raise CartViewBehind(f"cart {cart.pk}: lines not up to date yet")
    return reminder_refusal(cart=cart, empty=not has_lines, scheduled=True)


def _claim(reminder_id: int, activity_sequence: int) -> EmailMultiAlternatives | None:
    """Step 1: the message to send, with the reminder committed as ``sending``; None when
    there is nothing to send."""
    with transaction.atomic():
        locked = reminder_lock(reminder_id)
        if locked is None:
            logger.info("reminder %s is gone; nothing to send", reminder_id)
            return None
        reminder, cart = locked
        if reminder.status != Reminder.Status.PENDING:
            logger.info("reminder %s is %s; nothing to send", reminder.pk, reminder.status)
            return None
        if (
            activity_sequence != reminder.activity_sequence
            or reminder.due_at > timezone.now() + EARLY_FIRING_TOLERANCE
        ):
            logger.info("reminder %s was rescheduled; this firing is ignored", reminder.pk)
            return None
        summary = cart_summary(cart=cart)
        reason = _refusal(reminder=reminder, cart=cart, has_lines=bool(summary.lines))
        offer = reminder_offer(summary=summary)
        reason = reason or sending_refusal(reminder=reminder, email=cart.contact_email, offer=offer)
        if reason:
            reminder_mark_skipped(reminder, reason=reason)
            return None
        # The rule approved the cart's address now (an account's may have changed).
        reminder.email = cart.contact_email
        reminder_discount_issue(reminder)
        message = reminder_email_build(reminder=reminder, summary=offer)
        reminder.status = Reminder.Status.SENDING
        reminder.send_attempts += 1
        reminder.save(update_fields=["email", "status", "send_attempts", "updated_at"])
    return message


def _record_failure(reminder_id: int, error: Exception) -> None:
    """After a failed send: back to pending and raise for a retry, or, on the last
    attempt, ``failed`` and a PermanentFailure (the bus's dead letter)."""
    text = f"{type(error).__name__}: {error}"
    with transaction.atomic():
        reminder, cart = reminder_lock(reminder_id)  # type: ignore[misc]  # it was just claimed
        final = reminder.send_attempts >= max_attempts()
        if final:
            reminder.status = Reminder.Status.FAILED
            reminder.reason = f"sending failed {reminder.send_attempts} times: {text}"[:255]
        elif Reminder.objects.filter(cart=cart, status=Reminder.Status.PENDING).exists():
            # The cart changed meanwhile and has a newer reminder: that one will be sent.
            reminder_mark_skipped(
                reminder, reason="replaced by a newer reminder after a failed send"
            )
        else:
            reminder.status = Reminder.Status.PENDING
            reminder.reason = f"attempt {reminder.send_attempts} failed: {text}"[:255]
        reminder.save(update_fields=["status", "reason", "updated_at"])
    logger.warning("reminder %s: sending failed (%s): %s", reminder_id, reminder.status, text)
    if final:
        raise PermanentFailure(f"reminder {reminder_id}: {reminder.reason}") from error
    if reminder.status == Reminder.Status.PENDING:
        raise ReminderSendFailed(f"reminder {reminder_id}: {text}") from error


def _schedule_next_step(*, reminder: Reminder, cart: Any) -> Reminder | None:
    """Step N was sent: schedule step N+1 at the sent time plus the gap between the two
    delays of the series, if the cart is still untouched and nothing else is pending."""
    delays = reminder_delays()
    if reminder.step >= len(delays) or not cart.is_open:
        return None
    if cart.accepted_sequence != reminder.activity_sequence:
        return None
    if Reminder.objects.filter(cart=cart, status=Reminder.Status.PENDING).exists():
        return None
    gap = max(delays[reminder.step] - delays[reminder.step - 1], timedelta())
    following = Reminder.objects.create(
        cart=cart,
        email=reminder.email,
        step=reminder.step + 1,
        activity_sequence=reminder.activity_sequence,
        activity_at=reminder.activity_at,
        due_at=reminder_due_at(reminder.sent_at + gap),
        schedule_key=reminder.schedule_key,
    )
    reminder_schedule(following)
    return following


def _record_sent(reminder_id: int, message: EmailMultiAlternatives) -> Reminder:
    """Step 3: ``sent``, the log row, CartReminderSent and the next step, in one commit."""
    with transaction.atomic():
        reminder, cart = reminder_lock(reminder_id)  # type: ignore[misc]
        reminder.status = Reminder.Status.SENT
        reminder.sent_at = timezone.now()
        reminder.reason = ""
        reminder.save(update_fields=["status", "sent_at", "reason", "updated_at"])
        message_id = message.extra_headers["Message-ID"]
        SentEmail.objects.create(
            reminder=reminder,
            to=reminder.email,
            subject=message.subject,
            message_id=message_id,
            sent_at=reminder.sent_at,
        )
        publish(
            CartReminderSent(
                reminder_id=reminder.pk,
                cart_id=str(reminder.cart_id),
                step=reminder.step,
                channel="email",
                channel_message_id=message_id,
                sent_at=reminder.sent_at.isoformat(),
            )
        )
        _schedule_next_step(reminder=reminder, cart=cart)
    logger.info("reminder %s sent (step %d)", reminder.pk, reminder.step)
    return reminder


def reminder_send_due(*, reminder_id: int, activity_sequence: int) -> Reminder | None:
    """Send a due reminder's email at most once (see the module docstring); returns the
    sent reminder, or None when there was nothing to send."""
    message = _claim(reminder_id, activity_sequence)
    if message is None:
        return None
    try:
        message.send()
    except Exception as error:
        EMAILS_FAILED.inc()
        _record_failure(reminder_id, error)
        return None
    EMAILS_SENT.inc()
    return _record_sent(reminder_id, message)
