"""Cart reads: whose cart a request reaches, and what it holds."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.http import HttpRequest

from cart.models import Cart, CartLine, Order
from shop.models import Product

SESSION_KEY = "cart_id"
# The cart's access key, next to its id in a guest's session (see Cart.access_key).
SESSION_ACCESS_KEY = "cart_key"
# Which cart this browser gave a reminder address for (cart.contact).
SESSION_CONTACT_KEY = "cart_contact"


def carts_of_request(*, request: HttpRequest) -> QuerySet[Cart] | None:
    """The caller's open cart as a query (None: a guest without one). Only the session or
    the user reaches a cart: no cart id from the request is ever trusted, and a guest's
    session reaches its cart only with the cart's current access key. The one rule of who
    reaches which cart, for reads and for the commands that lock it.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Cart.objects.filter(user=user, status=Cart.Status.OPEN)
    cart_id = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not cart_id:
        return None
    return Cart.objects.filter(
        pk=cart_id,
        access_key=request.session.get(SESSION_ACCESS_KEY, ""),
        user__isnull=True,
        status=Cart.Status.OPEN,
    )


def cart_get_for_request(*, request: HttpRequest, lock: bool = False) -> Cart | None:
    """The caller's open cart, or None; with ``lock``, locked for the rest of the
    transaction (one statement either way)."""
    carts = carts_of_request(request=request)
    if carts is None:
        return None
    return (carts.select_for_update() if lock else carts).first()


def cart_get(*, cart_id: object) -> Cart | None:
    """The cart ``cart_id`` as it is now, not locked (None if there is none)."""
    return Cart.objects.filter(pk=cart_id).first()


def cart_lock(*, cart_id: object) -> Cart | None:
    """The cart ``cart_id`` locked for the rest of the transaction (None if there is none):
    what other apps take before they act on a cart's state, so they never interleave with
    the cart's own commands and projection."""
    return Cart.objects.select_for_update().filter(pk=cart_id).first()


def cart_lines(*, cart: Cart) -> QuerySet[CartLine]:
    return cart.lines.select_related("product").order_by("id")


def cart_has_lines(*, cart: Cart) -> bool:
    return cart.lines.exists()


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
    email_confirmed: bool = False


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
        email_confirmed=cart.contact_confirmed,
    )


def cart_contact_visible(*, request: HttpRequest, cart: Cart | None) -> bool:
    """Whether the caller may see ``cart``'s reminder address and consent: an account's
    own cart, or a guest cart whose address this browser gave (not one that reached the
    cart through a recovery link, say)."""
    if cart is None or cart.user_id is not None:
        return True
    given = request.session.get(SESSION_CONTACT_KEY) if hasattr(request, "session") else None
    return isinstance(given, dict) and given.get("cart") == str(cart.pk)


def cart_summary_for_request(*, request: HttpRequest, cart: Cart | None) -> CartSummary:
    """``cart_summary`` as the caller may see it (:func:`cart_contact_visible`)."""
    summary = cart_summary(cart=cart)
    if cart_contact_visible(request=request, cart=cart):
        return summary
    return replace(summary, email="", consent=False, email_confirmed=False)


def carts_stale(*, before: datetime, limit: int) -> list[object]:
    """Ids of guest carts nobody touched since ``before`` (open or merged ones: a
    checked-out cart is an order's), oldest first; what pruning deletes."""
    return list(
        Cart.objects.filter(
            user__isnull=True,
            status__in=[Cart.Status.OPEN, Cart.Status.MERGED],
            updated_at__lt=before,
        )
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )


def order_get(*, order_id: object) -> Order | None:
    """The order ``order_id``, once the projection has placed it (None before)."""
    return Order.objects.filter(pk=order_id).first()
