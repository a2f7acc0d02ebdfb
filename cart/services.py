"""Cart commands: look up, validate, hand out the next sequence number, publish the event.

The ``*_for_request`` commands are what the API and the pages call: each is one
transaction that locks the caller's cart (or creates it), checks the command against the
cart's *accepted* state (the quantity of each line as accepted, kept on the cart row with
its sequence: the projection's lines may lag behind), saves that state and writes the
event to the outbox. That is three statements and the commit for a returning shopper:
the lock, the update and the outbox insert; products come from the catalog cache. A
refused command leaves nothing behind. The projection (:mod:`cart.projection`) builds the
lines shoppers see from the events. Refusals are Django ``ValidationError``s (field errors
where a field is to blame), which the API's exception handler and the pages' messages
show as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest

from cart.contact import (
    confirmation_allow,
    contact_confirmed_for,
    contact_remember,
    email_normalize,
)
from cart.discounts import discount_carry_over, discount_code_redeem
from cart.events import (
    CartCheckedOut,
    CartContactChanged,
    CartItemQuantityChanged,
    CartItemRemoved,
    ItemAddedToCart,
)
from cart.models import Cart, cart_access_key_new
from cart.selectors import SESSION_ACCESS_KEY, SESSION_KEY, cart_get_for_request, cart_line_limit
from eventbus.envelope import Envelope
from eventbus.outbox import publish
from shop.models import Product
from shop.selectors import product_get_cached


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
    product = product_get_cached(sku=sku)
    if product is None:
        raise ValidationError({"sku": f"Unknown product {sku!r}."})
    with transaction.atomic():
        cart = cart_get_for_request(request=request, lock=True)
        if cart is None:
            envelope, cart = _add_to_new_cart(request, product, quantity)
        else:
            envelope = _add(cart, product, quantity)
    cart_session_bind(request=request, cart=cart)
    return Accepted(envelope, cart, product)


def cart_item_quantity_set_for_request(
    *, request: HttpRequest, sku: str, quantity: int
) -> Accepted:
    """Set the quantity of the caller's line of ``sku`` (0 removes it); 404 for a product
    that is not on sale: the line the caller names cannot exist."""
    product = product_get_cached(sku=sku)
    if product is None or not product.active:
        raise Http404("No such product.")
    with transaction.atomic():
        cart = _existing_cart(request)
        envelope = cart_item_quantity_set(cart=cart, product=product, quantity=quantity)
    return Accepted(envelope, cart, product)


def cart_item_remove_for_request(*, request: HttpRequest, sku: str) -> Accepted:
    """Remove the caller's line of ``sku`` (404 for a product that does not exist)."""
    product = product_get_cached(sku=sku)
    if product is None:
        raise Http404("No such product.")
    with transaction.atomic():
        cart = _existing_cart(request)
        envelope = cart_item_remove(cart=cart, product=product)
    return Accepted(envelope, cart, product)


def cart_checkout_for_request(*, request: HttpRequest) -> Accepted:
    """Check out the caller's cart: the projection turns its lines into an order."""
    with transaction.atomic():
        cart = cart_get_for_request(request=request, lock=True)
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
        cart = cart_get_for_request(request=request, lock=True)
        if cart is None:
            cart = _save_new(_new_cart(request))
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
    cart = cart_get_for_request(request=request, lock=True)
    if cart is None:
        raise ValidationError({"sku": "Your cart is empty."})
    return cart


def _new_cart(request: HttpRequest) -> Cart:
    """A cart for the caller, not saved yet."""
    return Cart(user=request.user if request.user.is_authenticated else None)


def _save_new(cart: Cart) -> Cart:
    """Insert a new cart. A user's second open cart is refused by the database (a
    concurrent request created one first): then that one, locked, is the caller's."""
    if cart.user_id is None:
        cart.save(force_insert=True)
        return cart
    try:
        with transaction.atomic():  # a savepoint: the refusal must not end the transaction
            cart.save(force_insert=True)
        return cart
    except IntegrityError:
        return Cart.objects.select_for_update().get(user_id=cart.user_id, status=Cart.Status.OPEN)


def _add_to_new_cart(
    request: HttpRequest, product: Product, quantity: int
) -> tuple[Envelope, Cart]:
    cart = _new_cart(request)
    if cart.user_id is not None:
        cart = _save_new(cart)  # or the cart a concurrent request just created
        return _add(cart, product, quantity), cart
    # A guest's first add: the cart row is inserted with its first event's state at once.
    _check_add(cart, product, quantity)
    _accept(cart, product.sku, quantity)
    cart.save(force_insert=True)
    return _publish_add(cart, product, quantity), cart


def cart_get_or_create_for_request(*, request: HttpRequest) -> Cart:
    """The caller's open cart, created (for the user, or for a guest) if needed; a new
    guest cart still has to be bound to the session (:func:`cart_session_bind`)."""
    cart = cart_get_for_request(request=request)
    return cart if cart is not None else _save_new(_new_cart(request))


def cart_session_bind(*, request: HttpRequest, cart: Cart) -> None:
    """Remember a guest's cart (its id and access key) in their session. Called once the
    cart's transaction has succeeded, so a refused first command leaves the session as it
    was; a returning guest's session is not written again."""
    if cart.user_id is None and (
        request.session.get(SESSION_KEY) != str(cart.pk)
        or request.session.get(SESSION_ACCESS_KEY, "") != cart.access_key
    ):
        request.session[SESSION_KEY] = str(cart.pk)
        request.session[SESSION_ACCESS_KEY] = cart.access_key


# --- Commands on a locked cart ---------------------------------------------------------------


def _check_add(cart: Cart, product: Product, quantity: int) -> None:
    """Refuse an add that the cart's accepted state does not allow."""
    if not product.active:
        raise ValidationError({"sku": "This product is not available."})
    current = cart.accepted_lines.get(product.sku, 0)
    limit = cart_line_limit(product=product)
    if current + quantity > limit:
        room = max(limit - current, 0)
        raise ValidationError(
            {"quantity": f"At most {limit} per order line; you can add {room} more."}
        )
    if current == 0 and len(cart.accepted_lines) >= settings.CART_MAX_LINES:
        raise ValidationError({"sku": f"A cart holds at most {settings.CART_MAX_LINES} lines."})


def _accept(cart: Cart, sku: str, quantity: int | None) -> None:
    """Take the cart's next sequence number with its line of ``sku`` at ``quantity`` (None:
    the line goes), in memory: the caller saves the cart."""
    if cart.status != Cart.Status.OPEN:
        raise ValidationError("This cart is closed.", code="cart_closed")
    cart.accepted_sequence += 1
    lines = dict(cart.accepted_lines)
    if quantity is None:
        lines.pop(sku, None)
    else:
        lines[sku] = quantity
    cart.accepted_lines = lines


def _save_accepted(cart: Cart, *fields: str) -> None:
    cart.save(update_fields=["accepted_sequence", "accepted_lines", *fields, "updated_at"])


def _add(cart: Cart, product: Product, quantity: int) -> Envelope:
    """Add to a locked, saved cart."""
    _check_add(cart, product, quantity)
    _accept(cart, product.sku, cart.accepted_lines.get(product.sku, 0) + quantity)
    _save_accepted(cart)
    return _publish_add(cart, product, quantity)


def _publish_add(cart: Cart, product: Product, quantity: int) -> Envelope:
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


def _locked(cart: Cart) -> Cart:
    """``cart`` locked for this transaction, as it is now."""
    return Cart.objects.select_for_update().get(pk=cart.pk)


@transaction.atomic(savepoint=False)
def cart_item_add(*, cart: Cart, product: Product, quantity: int) -> Envelope:
    """Add ``quantity`` of ``product`` to ``cart``."""
    return _add(_locked(cart), product, quantity)


# The commands below expect ``cart`` locked by the caller's transaction (as
# ``cart_get_for_request(lock=True)`` returns it). savepoint=False: inside the caller's
# transaction a refusal rolls back the caller too, which is what a request wants, and
# costs no SAVEPOINT round trips.


@transaction.atomic(savepoint=False)
def cart_item_quantity_set(*, cart: Cart, product: Product, quantity: int) -> Envelope:
    """Set a line's quantity; 0 removes the line."""
    if quantity == 0:
        return cart_item_remove(cart=cart, product=product)
    limit = cart_line_limit(product=product)
    if quantity > limit:
        raise ValidationError({"quantity": f"At most {limit} of this product per order."})
    in_cart = product.sku in cart.accepted_lines
    # A line that is not in the cart stays out of it (the projection ignores the event too).
    _accept(cart, product.sku, quantity if in_cart else None)
    _save_accepted(cart)
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
    _accept(cart, product.sku, None)
    _save_accepted(cart)
    return publish(
        CartItemRemoved(cart_id=str(cart.pk), sequence=cart.accepted_sequence, sku=product.sku)
    )


@transaction.atomic(savepoint=False)
def cart_checkout(*, cart: Cart) -> tuple[Envelope, str]:
    """Close the cart and publish CartCheckedOut; the projection turns it into an order."""
    if not cart.accepted_lines:
        raise ValidationError("Your cart is empty.", code="cart_empty")
    if cart.status != Cart.Status.OPEN:
        raise ValidationError("This cart is closed.", code="cart_closed")
    cart.accepted_sequence += 1
    cart.status = Cart.Status.CHECKED_OUT
    cart.save(update_fields=["accepted_sequence", "status", "updated_at"])
    order_id = str(uuid.uuid4())
    discount = discount_code_redeem(cart=cart, order_id=order_id)
    envelope = publish(
        CartCheckedOut(
            cart_id=str(cart.pk), sequence=cart.accepted_sequence, order_id=order_id, **discount
        )
    )
    return envelope, order_id


@transaction.atomic(savepoint=False)
def cart_contact_set(*, cart: Cart, email: str, consent: bool, confirmed: bool = False) -> Envelope:
    """Set where reminders go and whether they may be sent (a user's address is the
    account's, and so confirmed); ``confirmed``: the guest's address needs no confirmation."""
    if cart.status != Cart.Status.OPEN:
        raise ValidationError("This cart is closed.", code="cart_closed")
    if cart.user_id is not None:
        email, confirmed = cart.user.email, True
    cart.accepted_sequence += 1
    cart.email, cart.consent, cart.email_confirmed = email, consent, confirmed
    cart.save(
        update_fields=["accepted_sequence", "email", "consent", "email_confirmed", "updated_at"]
    )
    return _publish_contact(cart)


def _publish_contact(cart: Cart) -> Envelope:
    return publish(
        CartContactChanged(
            cart_id=str(cart.pk),
            sequence=cart.accepted_sequence,
            email=cart.email,
            consent=cart.consent,
            confirmed=cart.email_confirmed,
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
    cart.email_confirmed = True
    if not cart.is_open:
        cart.save(update_fields=["email_confirmed", "updated_at"])
        return True
    cart.accepted_sequence += 1
    cart.save(update_fields=["accepted_sequence", "email_confirmed", "updated_at"])
    _publish_contact(cart)
    return True


@transaction.atomic
def cart_merge_guest_into_user(*, guest_cart: Cart, user: AbstractBaseUser) -> Cart | None:
    """On login: replay the guest cart's accepted lines as adds to the user's cart (as much
    of each as the line limit allows), and close the guest's."""
    guest_cart = _locked(guest_cart)
    if guest_cart.status != Cart.Status.OPEN or guest_cart.user_id is not None:
        return None
    guest_cart.status = Cart.Status.MERGED
    guest_cart.save(update_fields=["status", "updated_at"])
    if not guest_cart.accepted_lines:
        return None
    user_cart = Cart.objects.select_for_update().filter(user=user, status=Cart.Status.OPEN).first()
    if user_cart is None:
        # Lines only: the guest's address and consent were given for the guest cart (and
        # may not be this account's holder's at all), never for the account.
        user_cart = _save_new(Cart(user=user))
    products = Product.objects.in_bulk(list(guest_cart.accepted_lines), field_name="sku")
    for sku, quantity in guest_cart.accepted_lines.items():
        product = products.get(sku)
        if product is None or not product.active:
            continue
        room = cart_line_limit(product=product) - user_cart.accepted_lines.get(sku, 0)
        if min(quantity, room) > 0:
            _add(user_cart, product, min(quantity, room))
    discount_carry_over(from_cart=guest_cart, to_cart=user_cart)
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
