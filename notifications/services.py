"""Reminder services: the scheduling policy, the mailer, and the commands behind the links
and the admin.

Locking: every write to a cart's reminders first locks the cart row, then the reminder
(the order the cart projection and commands use too), so the policy, the mailer and the
admin never interleave on one cart.

At most one email per reminder. The mailer runs outside the delivery transaction
(``subscribe(atomic=False)``) and commits in three steps:

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
from datetime import datetime, timedelta

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from cart.events import CartCheckedOut, CartContactChanged, CartItemQuantityChanged, ItemAddedToCart
from cart.models import Cart
from cart.selectors import cart_lines
from eventbus.delivery import PermanentFailure, max_attempts
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.outbox import publish
from eventbus.scheduling import cancel_schedule, schedule
from notifications.emails import reminder_email_build
from notifications.events import CartReminderDue, CartReminderSent
from notifications.models import EmailSuppression, Reminder, SentEmail
from notifications.selectors import (
    email_is_suppressed,
    email_normalize,
    reminder_delays,
    reminder_schedule_key,
)

logger = logging.getLogger(__name__)

# A firing this much before the reminder's due time belongs to an older schedule (the
# reminder was pushed out since): ignore it, the newer schedule fires later. Schedules fire
# to the second, so a little slack covers rounding and clock skew.
EARLY_FIRING_TOLERANCE = timedelta(seconds=30)


class CartViewBehind(Exception):
    """The cart projection has not applied the cart's latest events: retry later."""


class ReminderSendFailed(Exception):
    """The email backend refused the message; the bus retries the delivery."""


def _to_the_second(moment: datetime) -> datetime:
    # Schedules (EventBridge Scheduler's at()) have one-second resolution.
    return moment.replace(microsecond=0)


def _due_event(reminder: Reminder) -> CartReminderDue:
    return CartReminderDue(
        reminder_id=reminder.pk,
        cart_id=str(reminder.cart_id),
        step=reminder.step,
        activity_sequence=reminder.activity_sequence,
    )


def _schedule(reminder: Reminder) -> None:
    """(Re)schedule the reminder's CartReminderDue; the cart's one key replaces the old one."""
    name = schedule(_due_event(reminder), at=reminder.due_at, key=reminder.schedule_key)
    if name != reminder.schedule_key:
        reminder.schedule_key = name
        reminder.save(update_fields=["schedule_key", "updated_at"])


def _cancel(reminder: Reminder, *, reason: str, sequence: int | None = None) -> None:
    reminder.status = Reminder.Status.CANCELLED
    reminder.reason = reason[:255]
    if sequence is not None:
        # Remember the event that cancelled it, so older events arriving late are ignored.
        reminder.activity_sequence = sequence
    reminder.save(update_fields=["status", "reason", "activity_sequence", "updated_at"])
    cancel_schedule(reminder.schedule_key)
    logger.info("reminder %s for cart %s cancelled: %s", reminder.pk, reminder.cart_id, reason)


def _lock(reminder_id: int) -> tuple[Reminder, Cart] | None:
    """Lock a reminder's cart, then the reminder (see the module docstring)."""
    cart_id = Reminder.objects.filter(pk=reminder_id).values_list("cart_id", flat=True).first()
    if cart_id is None:
        return None
    cart = Cart.objects.select_for_update().get(pk=cart_id)
    return Reminder.objects.select_for_update().get(pk=reminder_id), cart


# --- Policy ---------------------------------------------------------------------------------


def _cart_known_empty(*, cart: Cart, event: DomainEvent) -> bool:
    """Whether the projection shows the cart empty as of ``event``.

    The policy and the projection are separate subscriptions and run in any order, so the
    lines only count once the projection has caught up with this event (a contact change
    leaves lines alone: the events before it are enough). When it has not, the reminder
    stays and the mailer looks again at send time.
    """
    if isinstance(event, ItemAddedToCart | CartItemQuantityChanged):
        return False
    known_from = event.sequence - 1 if isinstance(event, CartContactChanged) else event.sequence
    return cart.applied_sequence >= known_from and not cart.lines.exists()


def _why_no_reminder(*, cart: Cart, event: DomainEvent) -> str:
    """Why this cart gets no reminder now, or "" when it should have one."""
    if isinstance(event, CartCheckedOut) or cart.status == Cart.Status.CHECKED_OUT:
        return "checked out"
    if cart.status != Cart.Status.OPEN:
        return f"cart {cart.get_status_display().lower()}"
    if not cart.contact_email:
        return "no email address"
    if not cart.consent:
        return "no consent"
    if email_is_suppressed(email=cart.contact_email):
        return "unsubscribed"
    if _cart_known_empty(cart=cart, event=event):
        return "cart is empty"
    return ""


def _recovery_record(*, cart: Cart, order_id: str, at: datetime) -> None:
    """An order after the shopper followed a reminder's link counts as recovered."""
    clicked = (
        Reminder.objects.filter(cart=cart, clicked_at__isnull=False, recovered_at__isnull=True)
        .order_by("-clicked_at")
        .first()
    )
    if clicked is not None:
        clicked.recovered_at = at
        clicked.recovered_order_id = order_id
        clicked.save(update_fields=["recovered_at", "recovered_order_id", "updated_at"])
        logger.info("cart %s recovered by reminder %s (order %s)", cart.pk, clicked.pk, order_id)


@transaction.atomic
def reminder_policy_apply(*, event: DomainEvent, envelope: Envelope) -> Reminder | None:
    """Keep one pending reminder per abandoned cart, due after the cart's last change.

    Decisions rest on the cart row's command side (status, email, consent, sequence), which
    is current, and on the event's sequence: an event older than the reminder's is ignored,
    since events may arrive out of order. Returns the pending reminder, if any.
    """
    cart = Cart.objects.select_for_update().filter(pk=event.cart_id).first()
    if cart is None:
        logger.warning("reminder policy: unknown cart %s", event.cart_id)
        return None
    latest = Reminder.objects.filter(cart=cart).order_by("-activity_sequence", "-pk").first()
    if latest is not None and event.sequence <= latest.activity_sequence:
        logger.info(
            "cart %s: event %d is not newer than reminder %s (%d); ignored",
            cart.pk,
            event.sequence,
            latest.pk,
            latest.activity_sequence,
        )
        return None
    pending = Reminder.objects.select_for_update().filter(cart=cart, status="pending").first()
    if isinstance(event, CartCheckedOut):
        _recovery_record(cart=cart, order_id=event.order_id, at=envelope.time)
    reason = _why_no_reminder(cart=cart, event=event)
    if reason:
        if pending is not None:
            _cancel(pending, reason=reason, sequence=event.sequence)
        return None
    if pending is None:
        pending = Reminder(cart=cart, schedule_key=reminder_schedule_key(cart_id=cart.pk))
    # Every change starts the series again: step 1, due after the first delay.
    pending.email = cart.contact_email
    pending.step = 1
    pending.activity_sequence = event.sequence
    pending.activity_at = envelope.time
    pending.due_at = _to_the_second(envelope.time + reminder_delays()[0])
    pending.reason = ""
    pending.save()
    _schedule(pending)
    logger.info("reminder %s for cart %s due at %s", pending.pk, cart.pk, pending.due_at)
    return pending


# --- Mailer ---------------------------------------------------------------------------------


def _why_not_send(*, reminder: Reminder, cart: Cart, has_lines: bool) -> str:
    """Why a due reminder must not be sent, or "" when it should be."""
    if cart.status != Cart.Status.OPEN:
        return (
            "checked out"
            if cart.status == Cart.Status.CHECKED_OUT
            else (f"cart {cart.get_status_display().lower()}")
        )
    if cart.accepted_sequence > reminder.activity_sequence:
        return "cart changed after the reminder was scheduled"
    if cart.applied_sequence < cart.accepted_sequence:
        raise CartViewBehind(f"cart {cart.pk}: lines not up to date yet")
    if not has_lines:
        return "cart is empty"
    if not cart.consent:
        return "consent withdrawn"
    if not cart.contact_email:
        return "no email address"
    if email_is_suppressed(email=reminder.email):
        return "unsubscribed"
    return ""


def _claim(reminder_id: int, activity_sequence: int) -> EmailMultiAlternatives | None:
    """Step 1: the message to send, with the reminder committed as ``sending``; None when
    there is nothing to send."""
    with transaction.atomic():
        locked = _lock(reminder_id)
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
        lines = list(cart_lines(cart=cart))
        reason = _why_not_send(reminder=reminder, cart=cart, has_lines=bool(lines))
        if reason:
            reminder.status = Reminder.Status.SKIPPED
            reminder.reason = reason
            reminder.save(update_fields=["status", "reason", "updated_at"])
            logger.info("reminder %s skipped: %s", reminder.pk, reason)
            return None
        message = reminder_email_build(reminder=reminder, cart=cart, lines=lines)
        reminder.status = Reminder.Status.SENDING
        reminder.send_attempts += 1
        reminder.save(update_fields=["status", "send_attempts", "updated_at"])
    return message


def _record_failure(reminder_id: int, error: Exception) -> None:
    """After a failed send: back to pending and raise for a retry, or, on the last
    attempt, ``failed`` and a PermanentFailure (the bus's dead letter)."""
    text = f"{type(error).__name__}: {error}"
    with transaction.atomic():
        reminder, cart = _lock(reminder_id)  # type: ignore[misc]  # it was just claimed
        final = reminder.send_attempts >= max_attempts()
        if final:
            reminder.status = Reminder.Status.FAILED
            reminder.reason = f"sending failed {reminder.send_attempts} times: {text}"[:255]
        elif Reminder.objects.filter(cart=cart, status=Reminder.Status.PENDING).exists():
            # The cart changed meanwhile and has a newer reminder: that one will be sent.
            reminder.status = Reminder.Status.SKIPPED
            reminder.reason = "replaced by a newer reminder after a failed send"
        else:
            reminder.status = Reminder.Status.PENDING
            reminder.reason = f"attempt {reminder.send_attempts} failed: {text}"[:255]
        reminder.save(update_fields=["status", "reason", "updated_at"])
    logger.warning("reminder %s: sending failed (%s): %s", reminder_id, reminder.status, text)
    if final:
        raise PermanentFailure(f"reminder {reminder_id}: {reminder.reason}") from error
    if reminder.status == Reminder.Status.PENDING:
        raise ReminderSendFailed(f"reminder {reminder_id}: {text}") from error


def _schedule_next_step(*, reminder: Reminder, cart: Cart) -> Reminder | None:
    """Step N was sent: schedule step N+1 at the sent time plus the gap between the two
    delays of the series, if the cart is still untouched and nothing else is pending."""
    delays = reminder_delays()
    if reminder.step >= len(delays) or cart.status != Cart.Status.OPEN:
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
        due_at=_to_the_second(reminder.sent_at + gap),
        schedule_key=reminder.schedule_key,
    )
    _schedule(following)
    return following


def _record_sent(reminder_id: int, message: EmailMultiAlternatives) -> Reminder:
    """Step 3: ``sent``, the log row, CartReminderSent and the next step, in one commit."""
    with transaction.atomic():
        reminder, cart = _lock(reminder_id)  # type: ignore[misc]
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
        _record_failure(reminder_id, error)
        return None
    return _record_sent(reminder_id, message)


# --- Commands from links and the admin ------------------------------------------------------


@transaction.atomic
def reminder_cancel(*, reminder_id: int, reason: str) -> bool:
    """Cancel a pending reminder and its schedule; False when it was not pending."""
    locked = _lock(reminder_id)
    if locked is None or locked[0].status != Reminder.Status.PENDING:
        return False
    _cancel(locked[0], reason=reason)
    return True


@transaction.atomic
def reminder_send_now(*, reminder_id: int) -> bool:
    """Make a pending reminder due now: its CartReminderDue goes out through the outbox
    and the mailer handles it like any other (re-checks included)."""
    locked = _lock(reminder_id)
    if locked is None or locked[0].status != Reminder.Status.PENDING:
        return False
    reminder = locked[0]
    cancel_schedule(reminder.schedule_key)
    reminder.due_at = _to_the_second(timezone.now())
    reminder.save(update_fields=["due_at", "updated_at"])
    publish(_due_event(reminder))
    return True


@transaction.atomic
def reminder_reschedule(*, reminder_id: int, due_at: datetime) -> bool:
    """Move a pending reminder to ``due_at``; a failed one, or one left ``sending`` by a
    dead worker, becomes pending again (when its cart has no other pending reminder)."""
    locked = _lock(reminder_id)
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
    reminder.due_at = _to_the_second(due_at)
    reminder.save()
    _schedule(reminder)
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
def reminder_link_followed(*, reminder_id: int) -> Reminder | None:
    """Note the first use of a reminder's recovery link (for the recovered count)."""
    reminder = Reminder.objects.select_related("cart").filter(pk=reminder_id).first()
    if reminder is None:
        return None
    if reminder.clicked_at is None:
        reminder.clicked_at = timezone.now()
        Reminder.objects.filter(pk=reminder.pk, clicked_at__isnull=True).update(
            clicked_at=reminder.clicked_at
        )
    return reminder
