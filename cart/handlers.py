"""The cart's subscriptions. Thin: parse, then call the projection service."""

from __future__ import annotations

from cart.projection import cart_projection_apply
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.subscriptions import subscribe


@subscribe(name="cart-projection", pattern={"source": ["shop.cart"]})
def project_cart(event: DomainEvent, envelope: Envelope) -> None:
    """Builds the cart lines that shoppers see from the cart's events."""
    cart_projection_apply(event=event, envelope=envelope)
