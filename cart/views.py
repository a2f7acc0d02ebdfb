"""Cart pages. Forms post here and redirect (works without JavaScript); with JavaScript
the same actions go through the API and the page follows the projection. Both call the
same services; a refusal becomes a message on the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cart.discounts import (
    cart_discount,
    discount_code_apply_for_request,
    discount_code_remove_for_request,
    percent_text,
)
from cart.forms import AddToCartForm, ContactForm, DiscountCodeForm, QuantityForm
from cart.selectors import cart_get_for_request, cart_summary_for_request
from cart.services import (
    Accepted,
    cart_checkout_for_request,
    cart_contact_set_for_request,
    cart_item_add_for_request,
    cart_item_quantity_set_for_request,
    cart_item_remove_for_request,
)


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = fallback
    return HttpResponseRedirect(target)


def _attempt(
    request: HttpRequest, command: Callable[..., Accepted], **kwargs: Any
) -> Accepted | None:
    """Run a cart command; a refusal becomes an error message and None."""
    try:
        return command(request=request, **kwargs)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return None


def cart_page(request: HttpRequest) -> HttpResponse:
    cart = cart_get_for_request(request=request)
    summary = cart_summary_for_request(request=request, cart=cart)
    return render(
        request,
        "cart/cart.html",
        {
            "cart": cart,
            "summary": summary,
            "lines": summary.lines,
            "total": summary.total,
            "discount": cart_discount(cart=cart, subtotal=summary.total),
            "discount_form": DiscountCodeForm(),
            "contact_form": ContactForm(
                initial={"email": summary.email, "consent": summary.consent} if cart else {}
            ),
            "needs_contact": not request.user.is_authenticated,
            "max_quantity": settings.CART_MAX_QUANTITY,
        },
    )


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a quantity from 1 to the maximum shown.")
        return _back(request, reverse("shop:product-list"))
    accepted = _attempt(request, cart_item_add_for_request, **form.cleaned_data)
    if accepted is None:
        return _back(request, reverse("shop:product-list"))
    messages.success(request, f"Added {accepted.product.name} to your cart.")
    return _back(request, accepted.product.get_absolute_url())


@require_POST
def cart_line_update(request: HttpRequest, sku: str) -> HttpResponse:
    form = QuantityForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That quantity is not possible.")
    else:
        _attempt(
            request,
            cart_item_quantity_set_for_request,
            sku=sku,
            quantity=form.cleaned_data["quantity"],
        )
    return HttpResponseRedirect(reverse("cart:page"))


@require_POST
def cart_line_remove(request: HttpRequest, sku: str) -> HttpResponse:
    accepted = _attempt(request, cart_item_remove_for_request, sku=sku)
    if accepted is not None:
        messages.success(request, f"Removed {accepted.product.name}.")
    return HttpResponseRedirect(reverse("cart:page"))


@require_POST
def cart_contact(request: HttpRequest) -> HttpResponse:
    form = ContactForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a valid email address.")
    elif accepted := _attempt(request, cart_contact_set_for_request, **form.cleaned_data):
        detail = accepted.envelope.detail
        if detail["consent"] and not detail["confirmed"]:
            messages.success(
                request,
                f"We sent a link to {detail['email']}: reminders start once you confirm it.",
            )
        else:
            messages.success(request, "Saved your email preferences.")
    return HttpResponseRedirect(reverse("cart:page"))


@require_POST
def cart_discount_apply(request: HttpRequest) -> HttpResponse:
    form = DiscountCodeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a discount code.")
        return HttpResponseRedirect(reverse("cart:page"))
    try:
        code = discount_code_apply_for_request(request=request, code=form.cleaned_data["code"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"Discount code {code.code} applied: {percent_text(code.percent)}% off."
        )
    return HttpResponseRedirect(reverse("cart:page"))


@require_POST
def cart_discount_remove(request: HttpRequest) -> HttpResponse:
    if discount_code_remove_for_request(request=request):
        messages.success(request, "Removed the discount code.")
    return HttpResponseRedirect(reverse("cart:page"))


@require_POST
def cart_checkout_page(request: HttpRequest) -> HttpResponse:
    accepted = _attempt(request, cart_checkout_for_request)
    if accepted is None:
        return HttpResponseRedirect(reverse("cart:page"))
    return render(request, "cart/checked_out.html", {"order_id": accepted.order_id}, status=200)
