"""Attribution: which orders the reminders recovered (``recovery-attribution`` subscription).

An order counts as recovered when it is placed within ``REMINDER_ATTRIBUTION_WINDOW``
after a reminder of its cart (or to its address, from another cart of the same shopper, or
whose recovery link restored its lines into the order's cart: a signed-in shopper's) was
sent or had its link opened. The latest such touch gets the credit, once per order and
once per reminder; the decision is published as ``OrderRecovered``, with the order's total
after any discount, so the dashboard can count revenue from events alone.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from cart.events import CartCheckedOut
from cart.selectors import order_get
from eventbus.envelope import Envelope
from eventbus.outbox import publish
from notifications.controls import attribution_window
from notifications.events import OrderRecovered
from notifications.models import Reminder

logger = logging.getLogger(__name__)


class OrderNotPlacedYet(Exception):
    """The cart projection has not turned the checkout into an order yet: retry later."""


def _latest_touch(reminder: Reminder, *, start: datetime, end: datetime) -> tuple[datetime, str]:
    touches = [
        (moment, touch)
        for moment, touch in ((reminder.sent_at, "sent"), (reminder.clicked_at, "link-opened"))
        if moment is not None and start <= moment <= end
    ]
    return max(touches)


@transaction.atomic
def order_attribute(*, event: CartCheckedOut, envelope: Envelope) -> Reminder | None:
    """Credit the reminder that recovered this checkout's order, if one did."""
    if Reminder.objects.filter(recovered_order_id=event.order_id).exists():
        return None  # already credited (a redelivery under another subscription cannot be)
    order = order_get(order_id=event.order_id)
    if order is None:
        raise OrderNotPlacedYet(f"order {event.order_id} is not placed yet")
    placed_at = envelope.time
    start = placed_at - attribution_window()
    touched = Q(sent_at__range=(start, placed_at)) | Q(clicked_at__range=(start, placed_at))
    whose = Q(cart_id=event.cart_id) | Q(restored_to_cart_id=event.cart_id)
    if order.email:
        whose |= Q(email__iexact=order.email)
    candidates = list(
        Reminder.objects.select_for_update().filter(whose, touched, recovered_at__isnull=True)
    )
    if not candidates:
        return None
    credited = max(candidates, key=lambda item: _latest_touch(item, start=start, end=placed_at))
    _, touch = _latest_touch(credited, start=start, end=placed_at)
    credited.recovered_at = placed_at
    credited.recovered_order_id = event.order_id
    credited.save(update_fields=["recovered_at", "recovered_order_id", "updated_at"])
    publish(
        OrderRecovered(
            reminder_id=credited.pk,
            cart_id=event.cart_id,
            order_id=event.order_id,
            step=credited.step,
            touch=touch,
            total=f"{order.total:.2f}",
            currency=order.currency,
            discount_code=order.discount_code,
            placed_at=placed_at.isoformat(),
        )
    )
    logger.info(
        "order %s recovered by reminder %s (%s, step %d)",
        event.order_id,
        credited.pk,
        touch,
        credited.step,
    )
    return credited
