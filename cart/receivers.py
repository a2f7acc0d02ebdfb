"""Login merges the guest cart into the user's cart (through events)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from cart.models import Cart
from cart.selectors import SESSION_ACCESS_KEY, SESSION_KEY
from cart.services import cart_merge_guest_into_user


@receiver(user_logged_in, dispatch_uid="cart-merge-guest-cart")
def merge_guest_cart_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    cart_id = request.session.pop(SESSION_KEY, None)
    access_key = request.session.pop(SESSION_ACCESS_KEY, "")
    # The session's key must still be the cart's: one cut off by a restored recovery link
    # does not get the cart back by signing in.
    guest_cart = (
        Cart.objects.filter(pk=cart_id, access_key=access_key, user__isnull=True).first()
        if cart_id
        else None
    )
    if guest_cart is not None:
        cart_merge_guest_into_user(guest_cart=guest_cart, user=user)
