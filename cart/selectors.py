"""Cart reads: whose cart a request reaches, and what it holds."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest

from cart.models import Cart, CartLine
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


def cart_lines(*, cart: Cart) -> QuerySet[CartLine]:
    return cart.lines.select_related("product").order_by("id")


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
