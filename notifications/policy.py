"""The reminder policy: keeps one pending reminder per abandoned cart, due a while after the
cart's last change, and cancels it when the cart no longer qualifies.

It takes cart events in batches and only needs each cart's newest event: the decision
rests on the cart's current state, which the newest event reflects, so a batch costs a
fixed number of queries per cart however many events each cart had in it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from cart.events import CartCheckedOut, CartContactChanged, CartItemQuantityChanged, ItemAddedToCart
from cart.selectors import cart_has_lines, cart_lock
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.tracing import handling
from notifications.controls import reminder_due_at
from notifications.eligibility import reminder_refusal
from notifications.models import Reminder
from notifications.reminders import reminder_mark_cancelled, reminder_schedule
from notifications.selectors import reminder_delays, reminder_schedule_key

logger = logging.getLogger(__name__)


def _cart_known_empty(*, cart: Any, event: DomainEvent) -> bool:
    """Whether the projection shows the cart empty as of ``event``.

    The policy and the projection are separate subscriptions and run in any order, so the
    lines only count once the projection has caught up with this event (a contact change
    leaves lines alone: the events before it are enough). When it has not, the reminder
    stays and the mailer looks again at send time.
    """
    if isinstance(event, ItemAddedToCart | CartItemQuantityChanged):
        return False
    known_from = event.sequence - 1 if isinstance(event, CartContactChanged) else event.sequence
    return cart.applied_sequence >= known_from and not cart_has_lines(cart=cart)


def reminder_policy_apply_batch(*, items: list[tuple[DomainEvent, Envelope]]) -> None:
    """Apply the policy to the newest event of each cart in ``items``."""
    newest: dict[str, tuple[DomainEvent, Envelope]] = {}
    for event, envelope in items:
        current = newest.get(str(event.cart_id))
        if current is None or event.sequence > current[0].sequence:
            newest[str(event.cart_id)] = (event, envelope)
    # In cart order, the order every writer locks carts in (no deadlocks between batches).
    for cart_id in sorted(newest):
        event, envelope = newest[cart_id]
        # The reminder it schedules continues this event's trace (and correlation id).
        with handling(envelope):
            reminder_policy_apply(event=event, envelope=envelope)


# No savepoint inside the delivery's transaction: nothing here recovers from a failure,
# which fails the delivery (and the bus retries the event alone); two statements per cart.
@transaction.atomic(savepoint=False)
def reminder_policy_apply(*, event: DomainEvent, envelope: Envelope) -> Reminder | None:
    """Keep one pending reminder per abandoned cart, due after the cart's last change.

    Decisions rest on the cart row's command side (status, email, consent, sequence), which
    is current, and on the event's sequence: an event older than the reminder's is ignored,
    since events may arrive out of order. Returns the pending reminder, if any.
    """
    cart = cart_lock(cart_id=event.cart_id)
    if cart is None:
        logger.warning("reminder policy: unknown cart %s", event.cart_id)
        return None
    # All of the cart's reminders (a handful) in one query: the latest and the pending one.
    reminders = list(Reminder.objects.select_for_update().filter(cart=cart))
    latest = max(reminders, key=lambda item: (item.activity_sequence, item.pk), default=None)
    if latest is not None and event.sequence <= latest.activity_sequence:
        logger.info(
            "cart %s: event %d is not newer than reminder %s (%d); ignored",
            cart.pk,
            event.sequence,
            latest.pk,
            latest.activity_sequence,
        )
        return None
    pending = next((item for item in reminders if item.status == Reminder.Status.PENDING), None)
    if isinstance(event, CartCheckedOut):
        reason = "checked out"  # recovery is notifications.attribution's business
    else:
        reason = reminder_refusal(
            cart=cart, empty=_cart_known_empty(cart=cart, event=event), scheduled=False
        )
    if reason:
        if pending is not None:
            reminder_mark_cancelled(pending, reason=reason, sequence=event.sequence)
        return None
    if pending is None:
        pending = Reminder(cart=cart, schedule_key=reminder_schedule_key(cart_id=cart.pk))
    # Every change starts the series again: step 1, due after the first delay.
    pending.email = cart.contact_email
    pending.step = 1
    pending.activity_sequence = event.sequence
    pending.activity_at = envelope.time
    pending.due_at = reminder_due_at(envelope.time + reminder_delays()[0])
    pending.reason = ""
    pending.save()
    reminder_schedule(pending)
    logger.info("reminder %s for cart %s due at %s", pending.pk, cart.pk, pending.due_at)
    return pending
