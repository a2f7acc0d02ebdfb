"""The links in our emails: restore a saved cart, unsubscribe (RFC 8058 one-click), confirm
a reminder address.

Following a link (GET) never changes anything: link scanners in mail systems follow every
link. Each page asks, and its form's POST (CSRF-protected, but for the one-click
unsubscribe that mail clients send) acts.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from cart.selectors import cart_summary
from cart.services import cart_contact_confirm
from notifications.discounts import reminder_discount_notice
from notifications.selectors import recovery_link_get
from notifications.services import email_unsubscribe, recovery_link_redeem
from notifications.tokens import (
    InvalidToken,
    confirm_token_read,
    recover_token_read,
    unsubscribe_token_read,
)

_UNAVAILABLE = {
    "used": "This link was used already: it restores a cart once.",
    "replaced": "A newer reminder about this cart was sent: only its link works now.",
    "unknown": "This cart no longer exists.",
    "closed": "That cart has already been checked out.",
}


def _invalid_link(request: HttpRequest, error: InvalidToken) -> HttpResponse:
    return render(request, "notifications/link_invalid.html", {"message": str(error)}, status=400)


def _unavailable(request: HttpRequest, reason: str) -> HttpResponse:
    """A link that no longer gives a cart: sign in (for an account's cart), or shop on."""
    login = f"{reverse('login')}?{urlencode({'next': reverse('cart:page')})}"
    return render(
        request,
        "notifications/recover_unavailable.html",
        {"message": _UNAVAILABLE[reason], "login_url": login},
        status=410,
    )


@require_http_methods(["GET", "POST"])
def recover_cart(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the saved cart (its lines and total, no contact details) and asks; POST
    restores it, once (see ``cart_restore_for_request``)."""
    try:
        link_token = recover_token_read(token)
    except InvalidToken as error:
        return _invalid_link(request, error)
    link = recovery_link_get(link_token=link_token)
    if not link.live:
        return _unavailable(request, link.state)
    cart = link.reminder.cart
    if not cart.is_open:
        return _unavailable(request, "closed")
    signed_in = request.user.is_authenticated
    if cart.user_id is not None and not (signed_in and request.user.pk == cart.user_id):
        # An account's cart: shown to that account only, which signing in reaches anyway.
        messages.info(request, "Sign in to see the cart you saved.")
        return HttpResponseRedirect(
            f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}"
        )
    if request.method == "GET":
        summary = cart_summary(cart=cart)
        return render(
            request,
            "notifications/recover.html",
            {
                "lines": summary.lines,
                "total": summary.total,
                "currency": summary.currency,
                "into_account": signed_in and cart.user_id is None,
            },
        )
    restored = recovery_link_redeem(link_token=link_token, request=request)
    if restored is None:  # used by a click that came just before this one
        return _unavailable(request, recovery_link_get(link_token=link_token).state)
    if restored.outcome == "closed":
        return _unavailable(request, "closed")
    if restored.outcome == "merged":
        messages.success(request, "Welcome back! The saved items are in your cart.")
    else:
        messages.success(request, "Welcome back! Your cart is as you left it.")
    if notice := reminder_discount_notice(link.reminder, cart=restored.cart):
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


@require_http_methods(["GET", "POST"])
def confirm_contact(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks the address's owner to confirm; POST confirms it for the cart's reminders."""
    try:
        cart_id, email = confirm_token_read(token)
    except InvalidToken as error:
        return _invalid_link(request, error)
    if request.method == "GET":
        return render(request, "notifications/confirm_contact.html", {"email": email})
    if not cart_contact_confirm(cart_id=cart_id, email=email):
        return _invalid_link(
            request, InvalidToken("This cart no longer uses this address, or no longer exists.")
        )
    return render(request, "notifications/contact_confirmed.html", {"email": email})
