"""The cart's subscriptions. Thin: parse, then call the projection service."""

from __future__ import annotations

from cart.projection import cart_projection_apply
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.subscriptions import subscribe


@subscribe(name="cart-projection", pattern={"source": ["shop.cart"]}, batch=True)
def project_cart(items: list[tuple[DomainEvent, Envelope]]) -> None:
    """Builds the cart lines that shoppers see from the cart's events."""
    cart_projection_apply(items=items)
