"""The cart projection: applies cart events to cart lines, in per-cart sequence order.

Events may arrive twice (the bus dedupes per subscription) and out of order: one that
arrives before its predecessors waits in ``PendingCartEvent`` and is applied as soon as
the gap closes, so an add and a remove end in the same state whichever came first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from django.db import transaction

from cart.discounts import order_discount_apply
from cart.events import (
    CartCheckedOut,
    CartContactChanged,
    CartItemQuantityChanged,
    CartItemRemoved,
    ItemAddedToCart,
)
from cart.models import Cart, CartLine, Order, OrderLine, PendingCartEvent
from cart.selectors import cart_line_limit
from eventbus.conversion import from_envelope
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from shop.models import Product

logger = logging.getLogger(__name__)


@transaction.atomic
def cart_projection_apply(*, event: DomainEvent, envelope: Envelope) -> None:
    """Apply ``event`` if it is next in its cart's sequence; park it if it is early."""
    cart = Cart.objects.select_for_update().filter(pk=event.cart_id).first()
    if cart is None:
        logger.warning("event %s for unknown cart %s ignored", envelope.id, event.cart_id)
        return
    if event.sequence <= cart.applied_sequence:
        return  # already applied (a redelivery under another event id cannot happen)
    if event.sequence > cart.applied_sequence + 1:
        PendingCartEvent.objects.get_or_create(
            cart=cart, sequence=event.sequence, defaults={"envelope": envelope.to_dict()}
        )
        logger.info(
            "cart %s: event %d parked until %d arrives",
            cart.pk,
            event.sequence,
            cart.applied_sequence + 1,
        )
        return
    _apply(cart, event, envelope)
    # Apply whatever was waiting for this one.
    while True:
        waiting = PendingCartEvent.objects.filter(
            cart=cart, sequence=cart.applied_sequence + 1
        ).first()
        if waiting is None:
            break
        parked = Envelope.from_dict(waiting.envelope)
        _apply(cart, from_envelope(parked), parked)
        waiting.delete()
    cart.save(update_fields=["applied_sequence", "last_event_id", "last_activity_at", "updated_at"])


def _apply(cart: Cart, event: DomainEvent, envelope: Envelope) -> None:
    _APPLIERS[type(event)](cart, event)
    cart.applied_sequence = event.sequence
    cart.last_event_id = envelope.id
    if not isinstance(event, CartContactChanged):
        cart.last_activity_at = envelope.time


def _apply_add(cart: Cart, event: ItemAddedToCart) -> None:
    product = Product.objects.filter(sku=event.sku).first()
    if product is None:
        return
    line = CartLine.objects.filter(cart=cart, sku=event.sku).first()
    current = line.quantity if line else 0
    # The request checked the limit against the lines it saw; concurrent adds can still
    # overshoot, so the projection clamps too.
    quantity = min(current + event.quantity, max(cart_line_limit(product=product), current))
    if line is None:
        CartLine.objects.create(
            cart=cart,
            product=product,
            sku=event.sku,
            quantity=quantity,
            unit_price=Decimal(event.unit_price),
            currency=event.currency,
        )
    else:
        line.quantity = quantity
        line.unit_price = Decimal(event.unit_price)
        line.save(update_fields=["quantity", "unit_price", "updated_at"])


def _apply_quantity(cart: Cart, event: CartItemQuantityChanged) -> None:
    CartLine.objects.filter(cart=cart, sku=event.sku).update(quantity=event.quantity)


def _apply_remove(cart: Cart, event: CartItemRemoved) -> None:
    CartLine.objects.filter(cart=cart, sku=event.sku).delete()


def _apply_checkout(cart: Cart, event: CartCheckedOut) -> None:
    lines = list(cart.lines.select_related("product"))
    order, created = Order.objects.get_or_create(
        id=event.order_id,
        defaults={
            "cart": cart,
            "user_id": cart.user_id,
            "email": cart.contact_email,
            "currency": cart.currency,
            "total": sum((line.line_total for line in lines), Decimal("0.00")),
        },
    )
    if created:
        order_discount_apply(order=order, event=event)
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product=line.product,
                sku=line.sku,
                name=line.product.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for line in lines
        )


def _apply_contact(cart: Cart, event: CartContactChanged) -> None:
    """Contact details live on the cart row already; only the sequence moves."""


_APPLIERS: dict[type[DomainEvent], Callable] = {
    ItemAddedToCart: _apply_add,
    CartItemQuantityChanged: _apply_quantity,
    CartItemRemoved: _apply_remove,
    CartCheckedOut: _apply_checkout,
    CartContactChanged: _apply_contact,
}
