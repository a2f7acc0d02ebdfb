"""Cart pages. Forms post here and redirect (works without JavaScript); with JavaScript
the same actions go through the API and the page follows the projection."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cart.forms import AddToCartForm, ContactForm, QuantityForm
from cart.selectors import cart_get_for_request, cart_lines, cart_total
from cart.services import (
    cart_checkout,
    cart_contact_set,
    cart_get_or_create_for_request,
    cart_item_add,
    cart_item_quantity_set,
    cart_item_remove,
)
from shop.models import Product


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = fallback
    return HttpResponseRedirect(target)


def cart_page(request: HttpRequest) -> HttpResponse:
    cart = cart_get_for_request(request=request)
    lines = list(cart_lines(cart=cart)) if cart else []
    initial = {"email": cart.contact_email, "consent": cart.consent} if cart else {}
    return render(
        request,
        "cart/cart.html",
        {
            "cart": cart,
            "lines": lines,
            "total": cart_total(lines=lines),
            "contact_form": ContactForm(initial=initial),
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
    product = get_object_or_404(Product.objects.active(), sku=form.cleaned_data["sku"])
    cart = cart_get_or_create_for_request(request=request)
    try:
        cart_item_add(cart=cart, product=product, quantity=form.cleaned_data["quantity"])
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, f"Added {product.name} to your cart.")
    return _back(request, product.get_absolute_url())


@require_POST
def cart_line_update(request: HttpRequest, sku: str) -> HttpResponse:
    cart = cart_get_for_request(request=request)
    form = QuantityForm(request.POST)
    if cart is None or not form.is_valid():
        messages.error(request, "That quantity is not possible.")
        return HttpResponseRedirect(reverse("cart:page"))
    product = get_object_or_404(Product, sku=sku)
    try:
        cart_item_quantity_set(cart=cart, product=product, quantity=form.cleaned_data["quantity"])
    except ValidationError as error:
        messages.error(request, _error_text(error))
    return HttpResponseRedirect(reverse("cart:page"))


@require_POST
def cart_line_remove(request: HttpRequest, sku: str) -> HttpResponse:
    cart = cart_get_for_request(request=request)
    product = get_object_or_404(Product, sku=sku)
    if cart is not None:
        cart_item_remove(cart=cart, product=product)
        messages.success(request, f"Removed {product.name}.")
    return HttpResponseRedirect(reverse("cart:page"))


@require_POST
def cart_contact(request: HttpRequest) -> HttpResponse:
    form = ContactForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a valid email address.")
        return HttpResponseRedirect(reverse("cart:page"))
    cart = cart_get_or_create_for_request(request=request)
    cart_contact_set(
        cart=cart, email=form.cleaned_data["email"], consent=form.cleaned_data["consent"]
    )
    messages.success(request, "Saved your email preferences.")
    return HttpResponseRedirect(reverse("cart:page"))


@require_POST
def cart_checkout_page(request: HttpRequest) -> HttpResponse:
    cart = cart_get_for_request(request=request)
    if cart is None:
        messages.error(request, "Your cart is empty.")
        return HttpResponseRedirect(reverse("cart:page"))
    try:
        _, order_id = cart_checkout(cart=cart)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return HttpResponseRedirect(reverse("cart:page"))
    return render(request, "cart/checked_out.html", {"order_id": order_id}, status=200)
