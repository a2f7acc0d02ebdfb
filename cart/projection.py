"""The cart projection: applies cart events to cart lines, in per-cart sequence order.

Events may arrive twice (the bus dedupes per subscription) and out of order: one that
arrives before its predecessors waits in ``PendingCartEvent`` and is applied as soon as
the gap closes, so an add and a remove end in the same state whichever came first.

It takes events in batches (what the transport delivered together) and does a fixed
number of queries per batch, however many events and carts it holds: the carts are locked
and their lines and parked events read once, the events applied in memory, and the changes
written back in bulk. Prices come from the catalog as the accepting request recorded them
in the outbox, never from a message alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

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
from eventbus.outbox import recorded_details
from shop.models import Product

logger = logging.getLogger(__name__)

Item = tuple[DomainEvent, Envelope]


@dataclass
class _CartState:
    """One locked cart of a batch, its lines by sku, and what changed."""

    cart: Cart
    lines: dict[str, CartLine]
    parked: dict[int, PendingCartEvent]
    # This batch's events and the parked ones, parsed: what may be applied now.
    candidates: list[tuple[DomainEvent, Envelope, PendingCartEvent | None]] = field(
        default_factory=list
    )
    removed: list[CartLine] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    applied_parked: list[PendingCartEvent] = field(default_factory=list)
    newly_parked: dict[int, Envelope] = field(default_factory=dict)
    moved: bool = False


@dataclass
class _Batch:
    """What the events of a batch need beyond their carts: products and recorded prices."""

    products: dict[str, Product]
    prices: dict[str, dict[str, Any]]  # event id -> the detail the accept recorded
    orders: list[tuple[Order, list[CartLine], CartCheckedOut]] = field(default_factory=list)


def cart_projection_apply(*, items: Iterable[Item]) -> None:
    """Apply each event if it is next in its cart's sequence; park it if it is early.

    Runs inside the delivery's transaction (the carts stay locked until it commits).
    """
    by_cart: dict[str, list[Item]] = {}
    for event, envelope in items:
        by_cart.setdefault(str(event.cart_id), []).append((event, envelope))
    carts = _lock_carts(by_cart)
    for cart_id in by_cart.keys() - carts.keys():
        logger.warning("events for unknown cart %s ignored", cart_id)
    if not carts:
        return
    for cart_id, state in carts.items():
        state.candidates = [
            *((*_parked_event(row), row) for row in state.parked.values()),
            *((event, envelope, None) for event, envelope in by_cart[cart_id]),
        ]
    batch = _Batch(products=_products(carts.values()), prices=_recorded_details(carts.values()))
    for state in carts.values():
        _apply_cart(state, batch)
    _write(carts.values(), batch)


def _lock_carts(by_cart: dict[str, list[Item]]) -> dict[str, _CartState]:
    """The carts of the batch, locked in id order (no deadlock between two batches), with
    their lines and their parked events: three queries."""
    carts = {
        str(cart.pk): cart
        for cart in Cart.objects.select_for_update().filter(pk__in=list(by_cart)).order_by("pk")
    }
    lines: dict[str, dict[str, CartLine]] = {cart_id: {} for cart_id in carts}
    for line in CartLine.objects.filter(cart_id__in=list(carts)):
        lines[str(line.cart_id)][line.sku] = line
    parked: dict[str, dict[int, PendingCartEvent]] = {cart_id: {} for cart_id in carts}
    for row in PendingCartEvent.objects.filter(cart_id__in=list(carts)):
        parked[str(row.cart_id)][row.sequence] = row
    return {
        cart_id: _CartState(cart=cart, lines=lines[cart_id], parked=parked[cart_id])
        for cart_id, cart in carts.items()
    }


def _products(states: Iterable[_CartState]) -> dict[str, Product]:
    """The products the batch may need: those added, and, for a checkout, its cart's."""
    skus: set[str] = set()
    for state in states:
        events = [event for event, _, _ in state.candidates]
        skus |= {event.sku for event in events if isinstance(event, ItemAddedToCart)}
        if any(isinstance(event, CartCheckedOut) for event in events):
            skus |= state.lines.keys()
    if not skus:
        return {}
    # From the database, not the catalog cache: the lines' foreign keys need ids that exist.
    return {product.sku: product for product in Product.objects.filter(sku__in=skus)}


def _recorded_details(states: Iterable[_CartState]) -> dict[str, dict[str, Any]]:
    """The details the accepting requests recorded in the outbox for the batch's adds."""
    ids = [
        envelope.id
        for state in states
        for event, envelope, _ in state.candidates
        if isinstance(event, ItemAddedToCart)
    ]
    return recorded_details(ids) if ids else {}


def _apply_cart(state: _CartState, batch: _Batch) -> None:
    cart = state.cart
    waiting: dict[int, tuple[DomainEvent, Envelope, PendingCartEvent | None]] = {}
    for event, envelope, row in state.candidates:  # parked ones first: a duplicate keeps its row
        if event.sequence > cart.applied_sequence and event.sequence not in waiting:
            waiting[event.sequence] = (event, envelope, row)
    while cart.applied_sequence + 1 in waiting:
        event, envelope, row = waiting.pop(cart.applied_sequence + 1)
        _APPLIERS[type(event)](state, event, envelope, batch)
        cart.applied_sequence = event.sequence
        cart.last_event_id = envelope.id
        if not isinstance(event, CartContactChanged):
            cart.last_activity_at = envelope.time
        state.moved = True
        if row is not None:
            state.applied_parked.append(row)
    for sequence, (_event, envelope, row) in waiting.items():
        if row is None:
            state.newly_parked[sequence] = envelope
            logger.info(
                "cart %s: event %d parked until %d arrives",
                cart.pk,
                sequence,
                cart.applied_sequence + 1,
            )


def _parked_event(row: PendingCartEvent) -> tuple[DomainEvent, Envelope]:
    envelope = Envelope.from_dict(row.envelope)
    return from_envelope(envelope), envelope


def _apply_add(
    state: _CartState, event: ItemAddedToCart, envelope: Envelope, batch: _Batch
) -> None:
    product = batch.products.get(event.sku)
    if product is None:
        return
    recorded = batch.prices.get(envelope.id)
    if recorded is None:
        # No outbox row (pruned history, or a message that never went through our
        # outbox): the catalog's price, never the message's.
        logger.warning("event %s has no outbox row; the catalog price is used", envelope.id)
        unit_price, currency = product.price, product.currency
    else:
        unit_price, currency = Decimal(recorded["unit_price"]), recorded["currency"]
    line = state.lines.get(event.sku)
    current = line.quantity if line else 0
    # A line never exceeds what the product allows now (its stock may have fallen since
    # the add was accepted against it).
    quantity = min(current + event.quantity, max(cart_line_limit(product=product), current))
    if line is None:
        line = CartLine(
            cart=state.cart,
            product=product,
            sku=event.sku,
            quantity=quantity,
            unit_price=unit_price,
            currency=currency,
        )
        state.lines[event.sku] = line
    else:
        line.quantity = quantity
        line.unit_price = unit_price
    state.changed.add(event.sku)


def _apply_quantity(
    state: _CartState, event: CartItemQuantityChanged, envelope: Envelope, batch: _Batch
) -> None:
    line = state.lines.get(event.sku)
    if line is not None:
        line.quantity = event.quantity
        state.changed.add(event.sku)


def _apply_remove(
    state: _CartState, event: CartItemRemoved, envelope: Envelope, batch: _Batch
) -> None:
    line = state.lines.pop(event.sku, None)
    state.changed.discard(event.sku)
    if line is not None and line.pk is not None:
        state.removed.append(line)


def _apply_checkout(
    state: _CartState, event: CartCheckedOut, envelope: Envelope, batch: _Batch
) -> None:
    cart = state.cart
    lines = list(state.lines.values())
    order = Order(
        id=event.order_id,
        cart=cart,
        user_id=cart.user_id,
        email=cart.contact_email,
        currency=cart.currency,
        total=sum((line.line_total for line in lines), Decimal("0.00")),
    )
    batch.orders.append((order, lines, event))


def _apply_contact(
    state: _CartState, event: CartContactChanged, envelope: Envelope, batch: _Batch
) -> None:
    """Contact details live on the cart row already; only the sequence moves."""


_APPLIERS: dict[type[DomainEvent], Callable[..., None]] = {
    ItemAddedToCart: _apply_add,
    CartItemQuantityChanged: _apply_quantity,
    CartItemRemoved: _apply_remove,
    CartCheckedOut: _apply_checkout,
    CartContactChanged: _apply_contact,
}


def _write(states: Iterable[_CartState], batch: _Batch) -> None:
    """Write the batch's changes back: a statement per kind of change, not per event."""
    states = list(states)
    now = timezone.now()
    created, updated, removed = [], [], []
    for state in states:
        removed += state.removed
        for sku in state.changed:
            line = state.lines[sku]
            line.updated_at = now
            (updated if line.pk else created).append(line)
    if removed:
        CartLine.objects.filter(pk__in=[line.pk for line in removed]).delete()
    if created:
        CartLine.objects.bulk_create(created)
    if updated:
        CartLine.objects.bulk_update(updated, ["quantity", "unit_price", "updated_at"])
    applied = [row.pk for state in states for row in state.applied_parked]
    if applied:
        PendingCartEvent.objects.filter(pk__in=applied).delete()
    parked = [
        PendingCartEvent(cart=state.cart, sequence=sequence, envelope=envelope.to_dict())
        for state in states
        for sequence, envelope in state.newly_parked.items()
    ]
    if parked:
        PendingCartEvent.objects.bulk_create(parked, ignore_conflicts=True)
    moved = [state.cart for state in states if state.moved]
    for cart in moved:
        cart.updated_at = now
    if moved:
        Cart.objects.bulk_update(
            moved, ["applied_sequence", "last_event_id", "last_activity_at", "updated_at"]
        )
    for order, lines, event in batch.orders:
        _create_order(order, lines, event, batch)


def _create_order(
    order: Order, lines: list[CartLine], event: CartCheckedOut, batch: _Batch
) -> None:
    if Order.objects.filter(Q(pk=order.pk) | Q(cart=order.cart)).exists():
        return  # created by an earlier delivery of this checkout
    order.save(force_insert=True)
    order_discount_apply(order=order, event=event)
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product_id=line.product_id,
            sku=line.sku,
            name=batch.products[line.sku].name,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in lines
    )
