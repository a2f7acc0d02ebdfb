"""Cart reads: whose cart a request reaches, and what it holds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest

from cart.models import Cart, CartLine, Order
from shop.models import Product

SESSION_KEY = "cart_id"


def cart_get_for_request(*, request: HttpRequest) -> Cart | None:
    """The caller's open cart, or None. Only the session or the user reaches a cart:
    no cart id from the request is ever trusted."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Cart.objects.filter(user=user, status=Cart.Status.OPEN).first()
    cart_id = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not cart_id:
        return None
    return Cart.objects.filter(pk=cart_id, user__isnull=True, status=Cart.Status.OPEN).first()


def cart_lock(*, cart_id: object) -> Cart | None:
    """The cart ``cart_id`` locked for the rest of the transaction (None if there is none):
    what other apps take before they act on a cart's state, so they never interleave with
    the cart's own commands and projection."""
    return Cart.objects.select_for_update().filter(pk=cart_id).first()


def cart_lines(*, cart: Cart) -> QuerySet[CartLine]:
    return cart.lines.select_related("product").order_by("id")


def cart_has_lines(*, cart: Cart) -> bool:
    return cart.lines.exists()


def cart_line_quantity(*, cart: Cart, sku: str) -> int:
    line = cart.lines.filter(sku=sku).only("quantity").first()
    return line.quantity if line else 0


def cart_line_usage(*, cart: Cart, sku: str) -> tuple[int, int]:
    """(quantity of ``sku`` in the cart, number of lines), in one query: the add path's check."""
    usage = cart.lines.aggregate(quantity=Sum("quantity", filter=Q(sku=sku)), lines=Count("id"))
    return usage["quantity"] or 0, usage["lines"]


def cart_line_limit(*, product: Product) -> int:
    """Most of ``product`` one cart line may hold (checked on accept, clamped on apply)."""
    return min(settings.CART_MAX_QUANTITY, product.stock)


def cart_item_count(*, cart: Cart | None) -> int:
    if cart is None:
        return 0
    return cart.lines.aggregate(count=Sum("quantity"))["count"] or 0


def cart_total(*, lines: list[CartLine]) -> Decimal:
    return sum((line.line_total for line in lines), Decimal("0.00"))


@dataclass(frozen=True)
class CartSummary:
    """What a shopper sees of their cart, the same on the cart page and in ``GET /api/cart/``."""

    cart_id: object
    status: str
    lines: list[CartLine]
    item_count: int
    total: Decimal
    currency: str
    last_event_id: str
    pending_events: int
    email: str
    consent: bool


def cart_summary(*, cart: Cart | None) -> CartSummary:
    """The summary of ``cart`` (None: the caller has no cart yet, an empty one)."""
    if cart is None:
        return CartSummary(
            cart_id=None,
            status=Cart.Status.OPEN,
            lines=[],
            item_count=0,
            total=Decimal("0.00"),
            currency=settings.SHOP_CURRENCY,
            last_event_id="",
            pending_events=0,
            email="",
            consent=False,
        )
    lines = list(cart_lines(cart=cart))
    return CartSummary(
        cart_id=cart.pk,
        status=cart.status,
        lines=lines,
        item_count=sum(line.quantity for line in lines),
        total=cart_total(lines=lines),
        currency=cart.currency,
        last_event_id=cart.last_event_id,
        pending_events=cart.pending_events,
        email=cart.contact_email,
        consent=cart.consent,
    )


def order_get(*, order_id: object) -> Order | None:
    """The order ``order_id``, once the projection has placed it (None before)."""
    return Order.objects.filter(pk=order_id).first()
