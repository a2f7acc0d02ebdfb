"""The links in reminder emails: restore the cart, unsubscribe (RFC 8058 one-click)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from cart.selectors import SESSION_KEY
from cart.services import cart_merge_guest_into_user
from notifications.discounts import reminder_discount_notice
from notifications.services import email_unsubscribe, reminder_link_followed
from notifications.tokens import InvalidToken, recover_token_read, unsubscribe_token_read


def _invalid_link(request: HttpRequest, error: InvalidToken) -> HttpResponse:
    return render(request, "notifications/link_invalid.html", {"message": str(error)}, status=400)


@require_GET
def recover_cart(request: HttpRequest, token: str) -> HttpResponse:
    """Bring the shopper back to the cart the email was about, in any browser."""
    try:
        reminder_id = recover_token_read(token)
    except InvalidToken as error:
        return _invalid_link(request, error)
    reminder = reminder_link_followed(reminder_id=reminder_id)
    if reminder is None:
        return _invalid_link(request, InvalidToken("This cart no longer exists."))
    cart = reminder.cart
    if not cart.is_open:
        messages.info(request, "That cart has already been checked out.")
    elif cart.user_id is None:
        if request.user.is_authenticated:
            # Signed in: the saved items join the account's cart.
            cart_merge_guest_into_user(guest_cart=cart, user=request.user)
        else:
            # The signed link stands in for the session that created the cart.
            request.session[SESSION_KEY] = str(cart.pk)
        messages.success(request, "Welcome back! Your cart is as you left it.")
    elif request.user.is_authenticated and request.user.pk == cart.user_id:
        messages.success(request, "Welcome back! Your cart is as you left it.")
    else:
        messages.info(request, "Sign in to see the cart you saved.")
    if not cart.is_checked_out and (notice := reminder_discount_notice(reminder)):
        messages.info(request, notice)
    return HttpResponseRedirect(reverse("cart:page"))


@csrf_exempt  # RFC 8058: mail clients POST here without a session or CSRF token.
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (link scanners follow GETs); POST unsubscribes."""
    try:
        email = unsubscribe_token_read(token)
    except InvalidToken as error:
        return _invalid_link(request, error)
    if request.method == "GET":
        return render(request, "notifications/unsubscribe_confirm.html", {"email": email})
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    email_unsubscribe(email=email, source="one-click" if one_click else "link")
    return render(request, "notifications/unsubscribed.html", {"email": email})
