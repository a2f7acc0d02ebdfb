"""The cart badge in the navigation of every page."""

from __future__ import annotations

from django.http import HttpRequest

from cart.selectors import cart_get_for_request, cart_item_count


def cart_badge(request: HttpRequest) -> dict[str, int]:
    return {"cart_item_count": cart_item_count(cart=cart_get_for_request(request=request))}
