"""The cart API: writes answer 202 Accepted once their event is in the outbox."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from cart.contact import ConfirmationsThrottled
from cart.selectors import cart_get_for_request, cart_summary_for_request
from cart.services import (
    Accepted,
    cart_checkout_for_request,
    cart_contact_set_for_request,
    cart_item_add_for_request,
    cart_item_quantity_set_for_request,
    cart_item_remove_for_request,
)
from core.idempotency import idempotent
from core.openapi import curl_sample


class AcceptedSerializer(serializers.Serializer):
    status = serializers.CharField(default="accepted")
    event_id = serializers.UUIDField()
    cart_id = serializers.UUIDField()


def _accepted(accepted: Accepted, **extra: Any) -> Response:
    body = {
        "status": "accepted",
        "event_id": accepted.event_id,
        "cart_id": str(accepted.cart.pk),
        **extra,
    }
    return Response(
        body, status=status.HTTP_202_ACCEPTED, headers={"Location": reverse("api-cart-detail")}
    )


class CartAddThrottle(UserRateThrottle):
    """Adds per user (or client address). DRF builds a throttle per request, so the rate is
    read from settings each time."""

    scope = "cart_add"

    def get_rate(self) -> str | None:
        return settings.CART_ADD_THROTTLE_RATE


class CartItemAddApi(APIView):
    throttle_classes = [CartAddThrottle]

    @extend_schema_serializer(component_name="CartItemAddInput")
    class InputSerializer(serializers.Serializer):
        sku = serializers.CharField(max_length=32)
        quantity = serializers.IntegerField(
            min_value=1, max_value=settings.CART_MAX_QUANTITY, default=1
        )

    @extend_schema(
        operation_id="addCartItem",
        tags=["cart"],
        summary="Add a product to the cart",
        description="Records `ItemAddedToCart` and answers 202 at once; the line shows in "
        "`GET /api/cart/` once applied. Creates the caller's cart if needed. Refused with a "
        "400 for an unknown or withdrawn product, a quantity over the line's limit or the "
        "stock, or a full cart. Rate-limited per user or client (429).",
        request=InputSerializer,
        responses={202: AcceptedSerializer},
        examples=[
            OpenApiExample(
                "Two of a coffee", value={"sku": "COF-001", "quantity": 2}, request_only=True
            )
        ],
        extensions=curl_sample("POST", "/api/cart/items/", '{"sku": "COF-001", "quantity": 2}'),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _accepted(cart_item_add_for_request(request=request, **serializer.validated_data))


SKU_PARAMETER = OpenApiParameter(
    "sku",
    str,
    location=OpenApiParameter.PATH,
    description="The SKU of the line's product.",
    examples=[OpenApiExample("A coffee", value="COF-001")],
)


@extend_validation_errors(["invalid"], field_name="sku", methods=["delete"])
@extend_validation_errors(["cart_closed"], methods=["put", "delete"])
class CartItemDetailApi(APIView):
    """One line of the caller's cart: set its quantity (PUT) or remove it (DELETE)."""

    @extend_schema_serializer(component_name="CartItemQuantityInput")
    class QuantitySerializer(serializers.Serializer):
        quantity = serializers.IntegerField(min_value=0, max_value=settings.CART_MAX_QUANTITY)

    @extend_schema(
        operation_id="setCartItemQuantity",
        tags=["cart"],
        summary="Set a line's quantity",
        description="Records `CartItemQuantityChanged` (0: `CartItemRemoved`) and answers "
        "202. 404 for a product not on sale; 400 when the caller has no cart or the "
        "quantity is over the limit.",
        parameters=[SKU_PARAMETER],
        request=QuantitySerializer,
        responses={202: AcceptedSerializer},
        examples=[OpenApiExample("Three", value={"quantity": 3}, request_only=True)],
        extensions=curl_sample("PUT", "/api/cart/items/COF-001/", '{"quantity": 3}'),
    )
    @idempotent
    def put(self, request: Request, sku: str) -> Response:
        serializer = self.QuantitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _accepted(
            cart_item_quantity_set_for_request(
                request=request, sku=sku, quantity=serializer.validated_data["quantity"]
            )
        )

    @extend_schema(
        operation_id="removeCartItem",
        tags=["cart"],
        summary="Remove a line",
        description="Records `CartItemRemoved` and answers 202. 404 for an unknown "
        "product; 400 when the caller has no cart.",
        parameters=[SKU_PARAMETER],
        request=None,
        responses={202: AcceptedSerializer},
        extensions=curl_sample("DELETE", "/api/cart/items/COF-001/"),
    )
    @idempotent
    def delete(self, request: Request, sku: str) -> Response:
        return _accepted(cart_item_remove_for_request(request=request, sku=sku))


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
        email = serializers.CharField(
            allow_blank=True,
            help_text="The reminder address; a guest's only to the browser that gave it.",
        )
        consent = serializers.BooleanField()
        email_confirmed = serializers.BooleanField(
            help_text="Whether the address is confirmed: a guest's consent counts only then."
        )

    @extend_schema(
        operation_id="getCart",
        tags=["cart"],
        summary="Get the caller's cart",
        description="Lines and totals as applied so far, the id of the last event applied "
        "and how many accepted events are not applied yet (`pending_events`). A caller "
        "without a cart gets an empty one (`cart_id` null). Sets the `csrftoken` cookie "
        "that cookie clients send back as `X-CSRFToken` on writes.",
        responses=OutputSerializer,
        extensions=curl_sample("GET", "/api/cart/"),
    )
    @method_decorator(ensure_csrf_cookie)
    def get(self, request: Request) -> Response:
        cart = cart_get_for_request(request=request)
        summary = cart_summary_for_request(request=request, cart=cart)
        return Response(self.OutputSerializer(summary).data)


@extend_validation_errors(["cart_empty", "cart_closed"], methods=["post"])
class CartCheckoutApi(APIView):
    @extend_schema(
        operation_id="checkoutCart",
        tags=["cart"],
        summary="Check out",
        description="Closes the cart and records `CartCheckedOut`; the order (its id is in "
        "the answer) is made when the event is applied. 400 for an empty cart.",
        extensions=curl_sample("POST", "/api/cart/checkout/"),
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
    @idempotent
    def post(self, request: Request) -> Response:
        accepted = cart_checkout_for_request(request=request)
        return _accepted(accepted, order_id=accepted.order_id)


class CartContactSetApi(APIView):
    # Confirmation emails are limited per address and per client: 429 with Retry-After.
    answers_throttled = True

    @extend_schema_serializer(component_name="CartContactInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
        consent = serializers.BooleanField()

        def validate_consent(self, value: Any) -> bool:
            # BooleanField also takes "yes"/1; a JSON API wants a real boolean.
            if not isinstance(self.initial_data.get("consent"), bool):
                raise serializers.ValidationError("Must be true or false.")
            return value

    @extend_schema(
        operation_id="setCartContact",
        tags=["cart"],
        summary="Set the reminder address",
        description="Where an abandoned-cart reminder goes and whether one may be sent; "
        "records `CartContactChanged` and answers 202. A signed-in user's address is the "
        "account's; a guest's new address is recorded unconfirmed and, with consent, gets one "
        "confirmation email (429 beyond the per-address and per-client limits). 400 for "
        "consent without an address, or a consent that is not a boolean.",
        request=InputSerializer,
        responses={202: AcceptedSerializer},
        examples=[
            OpenApiExample(
                "Remind me",
                value={"email": "ann@example.com", "consent": True},
                request_only=True,
            )
        ],
        extensions=curl_sample(
            "PUT", "/api/cart/contact/", '{"email": "ann@example.com", "consent": true}'
        ),
    )
    @idempotent
    def put(self, request: Request) -> Response:
        """A guest's new address is recorded unconfirmed; with consent, one confirmation
        email goes to it (429 beyond the per-address and per-client limits)."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            accepted = cart_contact_set_for_request(
                request=request,
                email=serializer.validated_data.get("email", ""),
                consent=serializer.validated_data["consent"],
            )
        except ConfirmationsThrottled as error:
            raise Throttled(wait=error.wait, detail=error.message) from error
        return _accepted(accepted)
