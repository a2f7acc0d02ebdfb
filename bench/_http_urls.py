"""The production URLconf plus the two baselines ``bench.cart_http`` compares against.

Never part of the served shop: only ``bench._http_settings`` points here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.urls import path
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cart.api import CartItemAddApi
from cart.models import CartLine
from cart.selectors import cart_get_for_request, cart_line_limit
from cart.services import cart_get_or_create_for_request, cart_session_bind
from config.urls import urlpatterns as shop_urlpatterns
from shop.selectors import product_get_cached


class ConstantApi(APIView):
    """A bare DRF endpoint (same authentication as the cart API) answering constant JSON."""

    def post(self, request: Request) -> Response:
        return Response({"status": "ok"})


class SynchronousCartItemAddApi(APIView):
    """Add-to-cart done the traditional way, as strong as it gets: the same validation,
    throttle, product cache and cart lock as the 202 API, but the line is written inside
    the request (one transaction, one commit, even when the cart is new)."""

    throttle_classes = CartItemAddApi.throttle_classes

    def post(self, request: Request) -> Response:
        serializer = CartItemAddApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = product_get_cached(sku=serializer.validated_data["sku"])
        if product is None or not product.active:
            raise ValidationError({"sku": "Unknown product."})
        quantity = serializer.validated_data["quantity"]
        with transaction.atomic():
            cart = cart_get_for_request(request=request, lock=True)
            if cart is None:
                cart = cart_get_or_create_for_request(request=request)
            line = CartLine.objects.filter(cart=cart, sku=product.sku).first()
            current = line.quantity if line else 0
            if current + quantity > cart_line_limit(product=product):
                raise ValidationError({"quantity": "At most that many per order line."})
            if line is None:
                if cart.lines.count() >= settings.CART_MAX_LINES:
                    raise ValidationError({"sku": "The cart is full."})
                CartLine.objects.create(
                    cart=cart,
                    product=product,
                    sku=product.sku,
                    quantity=quantity,
                    unit_price=product.price,
                    currency=product.currency,
                )
            else:
                line.quantity = current + quantity
                line.save(update_fields=["quantity", "updated_at"])
            cart.last_activity_at = timezone.now()
            cart.save(update_fields=["last_activity_at", "updated_at"])
        cart_session_bind(request=request, cart=cart)
        return Response({"status": "added", "cart_id": str(cart.pk)})


urlpatterns = [
    path("bench/constant/", ConstantApi.as_view()),
    path("bench/cart/items/", SynchronousCartItemAddApi.as_view()),
    *shop_urlpatterns,
]
