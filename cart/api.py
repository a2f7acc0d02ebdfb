"""The cart API: writes answer 202 Accepted once their event is in the outbox."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from cart.models import Cart
from cart.selectors import cart_get_for_request, cart_lines, cart_total
from cart.services import (
    cart_checkout,
    cart_contact_set,
    cart_get_or_create_for_request,
    cart_item_add,
    cart_item_quantity_set,
    cart_item_remove,
)
from eventbus.envelope import Envelope
from shop.models import Product


class AcceptedSerializer(serializers.Serializer):
    status = serializers.CharField(default="accepted")
    event_id = serializers.UUIDField()
    cart_id = serializers.UUIDField()


def _accepted(envelope: Envelope, cart: Cart, **extra: Any) -> Response:
    body = {"status": "accepted", "event_id": envelope.id, "cart_id": str(cart.pk), **extra}
    return Response(
        body, status=status.HTTP_202_ACCEPTED, headers={"Location": reverse("api-cart-detail")}
    )


def _run(service: Any, **kwargs: Any) -> Any:
    """Call a service, turning its validation errors into 400 field errors."""
    try:
        return service(**kwargs)
    except DjangoValidationError as error:
        if hasattr(error, "error_dict"):
            raise ValidationError(error.message_dict) from error
        raise ValidationError({"non_field_errors": error.messages}) from error


def _active_product(sku: str) -> Product:
    return get_object_or_404(Product.objects.active(), sku=sku)


class CartAddThrottle(ScopedRateThrottle):
    """Per user (or client address) limit on adds; the rate is read from settings per request."""

    scope = "cart_add"

    def get_rate(self) -> str | None:
        return settings.CART_ADD_THROTTLE_RATE

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super(ScopedRateThrottle, self).allow_request(request, view)


class CartItemAddApi(APIView):
    throttle_classes = [CartAddThrottle]

    @extend_schema_serializer(component_name="CartItemAddInput")
    class InputSerializer(serializers.Serializer):
        sku = serializers.CharField(max_length=32)
        quantity = serializers.IntegerField(
            min_value=1, max_value=settings.CART_MAX_QUANTITY, default=1
        )

        def validate_sku(self, sku: str) -> Product:
            product = Product.objects.filter(sku=sku).first()
            if product is None:
                raise serializers.ValidationError(f"Unknown product {sku!r}.")
            if not product.active:
                raise serializers.ValidationError("This product is not available.")
            return product

    @extend_schema(request=InputSerializer, responses={202: AcceptedSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # A new cart and its first event commit together: one durable commit per add, and
        # a refused add leaves no empty cart behind.
        with transaction.atomic():
            cart = cart_get_or_create_for_request(request=request)
            envelope = _run(
                cart_item_add,
                cart=cart,
                product=serializer.validated_data["sku"],
                quantity=serializer.validated_data["quantity"],
            )
        return _accepted(envelope, cart)


class CartItemDetailApi(APIView):
    """One line of the caller's cart: set its quantity (PUT) or remove it (DELETE)."""

    @extend_schema_serializer(component_name="CartItemQuantityInput")
    class QuantitySerializer(serializers.Serializer):
        quantity = serializers.IntegerField(min_value=0, max_value=settings.CART_MAX_QUANTITY)

    def _cart(self, request: Request) -> Cart:
        cart = cart_get_for_request(request=request)
        if cart is None:
            raise ValidationError({"sku": "Your cart is empty."})
        return cart

    @extend_schema(request=QuantitySerializer, responses={202: AcceptedSerializer})
    def put(self, request: Request, sku: str) -> Response:
        serializer = self.QuantitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = _active_product(sku)
        cart = self._cart(request)
        envelope = _run(
            cart_item_quantity_set,
            cart=cart,
            product=product,
            quantity=serializer.validated_data["quantity"],
        )
        return _accepted(envelope, cart)

    @extend_schema(request=None, responses={202: AcceptedSerializer})
    def delete(self, request: Request, sku: str) -> Response:
        product = get_object_or_404(Product, sku=sku)
        cart = self._cart(request)
        envelope = _run(cart_item_remove, cart=cart, product=product)
        return _accepted(envelope, cart)


class CartLineOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField(source="product.name")
    slug = serializers.CharField(source="product.slug")
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    quantity = serializers.IntegerField()
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)


class CartDetailApi(APIView):
    @extend_schema_serializer(component_name="Cart")
    class OutputSerializer(serializers.Serializer):
        cart_id = serializers.UUIDField(allow_null=True)
        status = serializers.CharField()
        lines = CartLineOutputSerializer(many=True)
        item_count = serializers.IntegerField()
        total = serializers.DecimalField(max_digits=12, decimal_places=2)
        currency = serializers.CharField()
        last_event_id = serializers.CharField(
            allow_blank=True, help_text="Id of the last event applied to the lines."
        )
        pending_events = serializers.IntegerField(
            help_text="Accepted events not applied to the lines yet (0: the view is current)."
        )
        email = serializers.CharField(allow_blank=True)
        consent = serializers.BooleanField()

    @extend_schema(responses=OutputSerializer)
    @method_decorator(ensure_csrf_cookie)
    def get(self, request: Request) -> Response:
        cart = cart_get_for_request(request=request)
        lines = list(cart_lines(cart=cart)) if cart else []
        view = {
            "cart_id": cart.pk if cart else None,
            "status": cart.status if cart else Cart.Status.OPEN,
            "lines": lines,
            "item_count": sum(line.quantity for line in lines),
            "total": cart_total(lines=lines),
            "currency": cart.currency if cart else settings.SHOP_CURRENCY,
            "last_event_id": cart.last_event_id if cart else "",
            "pending_events": cart.pending_events if cart else 0,
            "email": cart.contact_email if cart else "",
            "consent": cart.consent if cart else False,
        }
        return Response(self.OutputSerializer(view).data)


class CartCheckoutApi(APIView):
    @extend_schema(
        request=None,
        responses={
            202: inline_serializer(
                "CheckoutAccepted",
                {
                    "status": serializers.CharField(),
                    "event_id": serializers.UUIDField(),
                    "cart_id": serializers.UUIDField(),
                    "order_id": serializers.UUIDField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        cart = cart_get_for_request(request=request)
        if cart is None:
            raise ValidationError({"non_field_errors": ["Your cart is empty."]})
        envelope, order_id = _run(cart_checkout, cart=cart)
        return _accepted(envelope, cart, order_id=order_id)


class CartContactSetApi(APIView):
    @extend_schema_serializer(component_name="CartContactInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
        consent = serializers.BooleanField()

        def validate_consent(self, value: Any) -> bool:
            # BooleanField also takes "yes"/1; a JSON API wants a real boolean.
            if not isinstance(self.initial_data.get("consent"), bool):
                raise serializers.ValidationError("Must be true or false.")
            return value

    @extend_schema(request=InputSerializer, responses={202: AcceptedSerializer})
    def put(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = serializer.validated_data.get("email", "")
        if not request.user.is_authenticated and serializer.validated_data["consent"] and not email:
            raise ValidationError({"email": ["An address is needed to send reminders."]})
        cart = cart_get_or_create_for_request(request=request)
        envelope = _run(
            cart_contact_set, cart=cart, email=email, consent=serializer.validated_data["consent"]
        )
        return _accepted(envelope, cart)
