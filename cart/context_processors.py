"""The cart badge in the navigation of every page: the item count, and whether accepted
events are still on their way to the projection ("updating…")."""

from __future__ import annotations

from django.http import HttpRequest

from cart.selectors import cart_get_for_request, cart_item_count


def cart_badge(request: HttpRequest) -> dict[str, int | bool]:
    cart = cart_get_for_request(request=request)
    return {
        "cart_item_count": cart_item_count(cart=cart),
        "cart_updating": cart is not None and cart.pending_events > 0,
    }
