"""Cart commands: look up, validate, hand out the next sequence number, publish the event.

The ``*_for_request`` commands are what the API and the pages call: each is one
transaction that finds (or creates) the caller's cart, looks up the product and runs the
cart command, so a refused command leaves nothing behind. The cart commands below them
never touch cart lines: the projection (:mod:`cart.projection`) builds lines from events.
Refusals are Django ``ValidationError``s (field errors where a field is to blame), which
the API's exception handler and the pages' messages show as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from cart.contact import (
    confirmation_allow,
    contact_confirmed_for,
    contact_remember,
    email_normalize,
)
from cart.events import (
    CartCheckedOut,
    CartContactChanged,
    CartItemQuantityChanged,
    CartItemRemoved,
    ItemAddedToCart,
)
from cart.models import Cart, cart_access_key_new
from cart.selectors import (
    SESSION_ACCESS_KEY,
    SESSION_KEY,
    cart_get_for_request,
    cart_line_limit,
    cart_line_quantity,
    cart_line_usage,
)
from eventbus.envelope import Envelope
from eventbus.outbox import publish
from shop.models import Product


@dataclass(frozen=True)
class Accepted:
    """A command the cart accepted: its event is in the outbox, to be applied later."""

    envelope: Envelope
    cart: Cart
    product: Product | None = None
    order_id: str | None = None

    @property
    def event_id(self) -> str:
        return self.envelope.id


# --- Commands for the caller of a request (API and pages) ------------------------------------


def cart_item_add_for_request(*, request: HttpRequest, sku: str, quantity: int) -> Accepted:
    """Add ``quantity`` of ``sku`` to the caller's cart, creating the cart if needed.

    A new cart and its first event commit together: one durable commit per add, and a
    refused add leaves no empty cart behind.
    """
    with transaction.atomic():
        product = Product.objects.filter(sku=sku).first()
        if product is None:
            raise ValidationError({"sku": f"Unknown product {sku!r}."})
        cart = cart_get_or_create_for_request(request=request)
        envelope = cart_item_add(cart=cart, product=product, quantity=quantity)
    cart_session_bind(request=request, cart=cart)
    return Accepted(envelope, cart, product)


def cart_item_quantity_set_for_request(
    *, request: HttpRequest, sku: str, quantity: int
) -> Accepted:
    """Set the quantity of the caller's line of ``sku`` (0 removes it); 404 for a product
    that is not on sale: the line the caller names cannot exist."""
    with transaction.atomic():
        product = get_object_or_404(Product.objects.active(), sku=sku)
        cart = _existing_cart(request)
        envelope = cart_item_quantity_set(cart=cart, product=product, quantity=quantity)
        return Accepted(envelope, cart, product)


def cart_item_remove_for_request(*, request: HttpRequest, sku: str) -> Accepted:
    """Remove the caller's line of ``sku`` (404 for a product that does not exist)."""
    with transaction.atomic():
        product = get_object_or_404(Product, sku=sku)
        cart = _existing_cart(request)
        return Accepted(cart_item_remove(cart=cart, product=product), cart, product)


def cart_checkout_for_request(*, request: HttpRequest) -> Accepted:
    """Check out the caller's cart: the projection turns its lines into an order."""
    with transaction.atomic():
        cart = cart_get_for_request(request=request)
        if cart is None:
            raise ValidationError("Your cart is empty.", code="cart_empty")
        envelope, order_id = cart_checkout(cart=cart)
        return Accepted(envelope, cart, order_id=order_id)


def cart_contact_set_for_request(*, request: HttpRequest, email: str, consent: bool) -> Accepted:
    """Set where the caller's reminders go and whether they may be sent.

    A guest's address counts only once confirmed (double opt-in): a new one is recorded
    unconfirmed and, with consent, its ``CartContactChanged`` asks for one confirmation
    email, within the per-address and per-client limits (ConfirmationsThrottled beyond
    them); an address this browser confirmed before counts at once.
    """
    guest = not request.user.is_authenticated
    if guest and consent and not email:
        raise ValidationError({"email": "An address is needed to send reminders."})
    with transaction.atomic():
        cart = cart_get_or_create_for_request(request=request)
        confirmed = not guest or contact_confirmed_for(request=request, cart=cart, email=email)
        if guest and consent and not confirmed:
            confirmation_allow(request=request, email=email)
        envelope = cart_contact_set(cart=cart, email=email, consent=consent, confirmed=confirmed)
    cart_session_bind(request=request, cart=cart)
    if guest:
        contact_remember(request=request, cart=cart, email=email, confirmed=confirmed)
    return Accepted(envelope, cart)


@dataclass(frozen=True)
class Restored:
    """What restoring a saved cart (a recovery link) gave the caller.

    ``outcome``: "restored" (the guest cart is the caller's now), "merged" (its lines went
    into the signed-in caller's cart), "own" (it is the signed-in caller's own cart),
    "sign_in" (another account's cart: only signing in as it reaches it), or "closed"
    (checked out, merged or gone).
    """

    outcome: str
    cart: Cart | None = None

    @property
    def granted(self) -> bool:
        return self.outcome in {"restored", "merged", "own"}


def cart_restore_for_request(*, request: HttpRequest, cart_id: object) -> Restored:
    """Give the caller the cart a recovery link was for (an explicit POST, never a GET).

    A guest cart moves to the caller alone: it gets a new access key, so the session that
    had it (and whoever else had the link) no longer reaches it, and the caller's session
    key is rotated. A signed-in caller gets its lines in their own cart, never the guest's
    address or consent. An account's cart stays for that account to sign in to.
    """
    user = request.user if request.user.is_authenticated else None
    with transaction.atomic():
        cart = Cart.objects.select_for_update().filter(pk=cart_id).first()
        if cart is None or not cart.is_open:
            return Restored("closed")
        if cart.user_id is not None:
            mine = user is not None and user.pk == cart.user_id
            return Restored("own", cart) if mine else Restored("sign_in")
        if user is not None:
            restored = Restored("merged", cart_merge_guest_into_user(guest_cart=cart, user=user))
        else:
            cart.access_key = cart_access_key_new()
            cart.save(update_fields=["access_key", "updated_at"])
            restored = Restored("restored", cart)
    # A new session key for the new access: whoever knew the old one (a fixated session)
    # gets nothing from it.
    request.session.cycle_key()
    if restored.outcome == "restored":
        cart_session_bind(request=request, cart=cart)
    return restored


def _existing_cart(request: HttpRequest) -> Cart:
    cart = cart_get_for_request(request=request)
    if cart is None:
        raise ValidationError({"sku": "Your cart is empty."})
    return cart


def cart_get_or_create_for_request(*, request: HttpRequest) -> Cart:
    """The caller's open cart, created (for the user, or for a guest) if needed; a new
    guest cart still has to be bound to the session (:func:`cart_session_bind`)."""
    cart = cart_get_for_request(request=request)
    if cart is not None:
        return cart
    user = request.user if request.user.is_authenticated else None
    if user is not None:
        try:
            with transaction.atomic():
                return Cart.objects.create(user=user)
        except IntegrityError:  # a concurrent request created it first
            return Cart.objects.get(user=user, status=Cart.Status.OPEN)
    return Cart.objects.create()


def cart_session_bind(*, request: HttpRequest, cart: Cart) -> None:
    """Remember a guest's cart (its id and access key) in their session. Called once the
    cart's transaction has succeeded, so a refused first command leaves the session as it
    was."""
    if cart.user_id is None and (
        request.session.get(SESSION_KEY) != str(cart.pk)
        or request.session.get(SESSION_ACCESS_KEY, "") != cart.access_key
    ):
        request.session[SESSION_KEY] = str(cart.pk)
        request.session[SESSION_ACCESS_KEY] = cart.access_key


# --- Commands on a cart ----------------------------------------------------------------------


def _take_sequence(cart: Cart, **changes: object) -> Cart:
    """Lock the open cart, take its next sequence number (per-cart order of events) and
    save it with ``changes``; returns the locked, updated cart."""
    locked = Cart.objects.select_for_update().get(pk=cart.pk)
    if locked.status != Cart.Status.OPEN:
        raise ValidationError("This cart is closed.", code="cart_closed")
    locked.accepted_sequence += 1
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.save(update_fields=["accepted_sequence", *changes, "updated_at"])
    return locked


# savepoint=False: inside a caller's transaction a refusal rolls back the caller too, which
# is what a request wants, and costs no SAVEPOINT round trips.
@transaction.atomic(savepoint=False)
def cart_item_add(*, cart: Cart, product: Product, quantity: int) -> Envelope:
    if not product.active:
        raise ValidationError({"sku": "This product is not available."})
    current, lines = cart_line_usage(cart=cart, sku=product.sku)
    limit = cart_line_limit(product=product)
    if current + quantity > limit:
        room = max(limit - current, 0)
        raise ValidationError(
            {"quantity": f"At most {limit} per order line; you can add {room} more."}
        )
    if current == 0 and lines >= settings.CART_MAX_LINES:
        raise ValidationError({"sku": f"A cart holds at most {settings.CART_MAX_LINES} lines."})
    cart = _take_sequence(cart)
    return publish(
        ItemAddedToCart(
            cart_id=str(cart.pk),
            sequence=cart.accepted_sequence,
            sku=product.sku,
            quantity=quantity,
            unit_price=f"{product.price:.2f}",
            currency=product.currency,
        )
    )


@transaction.atomic(savepoint=False)
def cart_item_quantity_set(*, cart: Cart, product: Product, quantity: int) -> Envelope:
    """Set a line's quantity; 0 removes the line."""
    if quantity == 0:
        return cart_item_remove(cart=cart, product=product)
    limit = cart_line_limit(product=product)
    if quantity > limit:
        raise ValidationError({"quantity": f"At most {limit} of this product per order."})
    cart = _take_sequence(cart)
    return publish(
        CartItemQuantityChanged(
            cart_id=str(cart.pk),
            sequence=cart.accepted_sequence,
            sku=product.sku,
            quantity=quantity,
        )
    )


@transaction.atomic(savepoint=False)
def cart_item_remove(*, cart: Cart, product: Product) -> Envelope:
    cart = _take_sequence(cart)
    return publish(
        CartItemRemoved(cart_id=str(cart.pk), sequence=cart.accepted_sequence, sku=product.sku)
    )


@transaction.atomic(savepoint=False)
def cart_checkout(*, cart: Cart) -> tuple[Envelope, str]:
    """Close the cart and publish CartCheckedOut; the projection turns it into an order."""
    if cart.pending_events == 0 and not cart.lines.exists():
        raise ValidationError("Your cart is empty.", code="cart_empty")
    cart = _take_sequence(cart, status=Cart.Status.CHECKED_OUT)
    order_id = str(uuid.uuid4())
    envelope = publish(
        CartCheckedOut(cart_id=str(cart.pk), sequence=cart.accepted_sequence, order_id=order_id)
    )
    return envelope, order_id


@transaction.atomic(savepoint=False)
def cart_contact_set(*, cart: Cart, email: str, consent: bool, confirmed: bool = False) -> Envelope:
    """Set where reminders go and whether they may be sent (a user's address is the
    account's, and so confirmed); ``confirmed``: the guest's address needs no confirmation."""
    if cart.user_id is not None:
        email, confirmed = cart.user.email, True
    cart = _take_sequence(cart, email=email, consent=consent, email_confirmed=confirmed)
    return publish(
        CartContactChanged(
            cart_id=str(cart.pk),
            sequence=cart.accepted_sequence,
            email=email,
            consent=consent,
            confirmed=confirmed,
        )
    )


@transaction.atomic
def cart_contact_confirm(*, cart_id: object, email: str) -> bool:
    """Confirm ``email`` as the guest cart's reminder address (the confirmation email's
    link): its consent counts from now on. False when the cart is gone or has another
    address by now. A closed cart's address is confirmed all the same, for the browser's
    next cart; only an open cart gets an event (and so, maybe, a reminder)."""
    cart = Cart.objects.select_for_update().filter(pk=cart_id, user__isnull=True).first()
    if cart is None or not cart.email or email_normalize(cart.email) != email_normalize(email):
        return False
    if cart.email_confirmed:
        return True
    if not cart.is_open:
        cart.email_confirmed = True
        cart.save(update_fields=["email_confirmed", "updated_at"])
        return True
    cart = _take_sequence(cart, email_confirmed=True)
    publish(
        CartContactChanged(
            cart_id=str(cart.pk),
            sequence=cart.accepted_sequence,
            email=cart.email,
            consent=cart.consent,
            confirmed=True,
        )
    )
    return True


@transaction.atomic
def cart_merge_guest_into_user(*, guest_cart: Cart, user: AbstractBaseUser) -> Cart | None:
    """On login: replay the guest cart's lines as adds to the user's cart, close the guest's."""
    guest_cart = Cart.objects.select_for_update().get(pk=guest_cart.pk)
    if guest_cart.status != Cart.Status.OPEN or guest_cart.user_id is not None:
        return None
    lines = list(guest_cart.lines.select_related("product"))
    guest_cart.status = Cart.Status.MERGED
    guest_cart.save(update_fields=["status", "updated_at"])
    if not lines:
        return None
    user_cart = Cart.objects.filter(user=user, status=Cart.Status.OPEN).first()
    if user_cart is None:
        # Lines only: the guest's address and consent were given for the guest cart (and
        # may not be this account's holder's at all), never for the account.
        user_cart = Cart.objects.create(user=user)
    for line in lines:
        room = cart_line_limit(product=line.product) - cart_line_quantity(
            cart=user_cart, sku=line.sku
        )
        quantity = min(line.quantity, room)
        if quantity > 0 and line.product.active:
            cart_item_add(cart=user_cart, product=line.product, quantity=quantity)
    return user_cart


@transaction.atomic
def carts_delete_stale(*, cart_ids: list[object], before: datetime) -> int:
    """Delete the carts among ``cart_ids`` that are still untouched since ``before`` (one
    touched meanwhile stays), with their lines and everything that hangs on them."""
    stale = Cart.objects.filter(
        pk__in=cart_ids,
        user__isnull=True,
        status__in=[Cart.Status.OPEN, Cart.Status.MERGED],
        updated_at__lt=before,
    )
    _, deleted = stale.delete()
    return deleted.get(Cart._meta.label, 0)
