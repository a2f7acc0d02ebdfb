"""The cart's domain events. ``sequence`` orders a cart's events as they were accepted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventbus.events import DomainEvent

_UUID = {"type": "string", "format": "uuid", "minLength": 36, "maxLength": 36}
_SKU = {
    "type": "string",
    "minLength": 1,
    "maxLength": 32,
    "description": "The product's stock-keeping unit.",
    "examples": ["COF-001"],
}
_SEQUENCE = {
    "type": "integer",
    "minimum": 1,
    "description": "The event's place in its cart's history, from 1, without gaps.",
}
_MONEY = {"type": "string", "pattern": r"^\d+\.\d{2}$", "examples": ["12.50"]}
_CURRENCY = {
    "type": "string",
    "pattern": "^[A-Z]{3}$",
    "description": "ISO 4217 currency code.",
    "examples": ["EUR"],
}
_QUANTITY = {"type": "integer", "minimum": 1, "examples": [2]}


def _schema(properties: dict[str, Any]) -> dict[str, Any]:
    cart_id = {**_UUID, "description": "The cart (guest or user) the event belongs to."}
    return {
        "type": "object",
        "properties": {"cart_id": cart_id, "sequence": _SEQUENCE, **properties},
        "required": ["cart_id", "sequence", *properties],
    }


@dataclass(frozen=True, kw_only=True)
class ItemAddedToCart(DomainEvent):
    """The add-to-cart API accepted a request: add this many of a product."""

    source = "shop.cart"
    schema = _schema(
        {
            "sku": _SKU,
            "quantity": {**_QUANTITY, "description": "How many to add to the line."},
            "unit_price": {**_MONEY, "description": "The price of one, as a decimal string."},
            "currency": _CURRENCY,
        }
    )

    cart_id: str
    sequence: int
    sku: str
    quantity: int
    unit_price: str
    currency: str


@dataclass(frozen=True, kw_only=True)
class CartItemRemoved(DomainEvent):
    """A line was removed, or its quantity set to 0."""

    source = "shop.cart"
    schema = _schema({"sku": _SKU})

    cart_id: str
    sequence: int
    sku: str


@dataclass(frozen=True, kw_only=True)
class CartItemQuantityChanged(DomainEvent):
    """The shopper set a line's quantity (to 1 or more; 0 is a CartItemRemoved)."""

    source = "shop.cart"
    schema = _schema({"sku": _SKU, "quantity": {**_QUANTITY, "description": "The new quantity."}})

    cart_id: str
    sequence: int
    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class CartCheckedOut(DomainEvent):
    """The shopper placed the order; the cart is closed."""

    source = "shop.cart"
    schema = _schema({"order_id": {**_UUID, "description": "The order the cart became."}})
    # Optional: events from before discounts existed have neither field.
    schema["properties"] |= {
        "discount_code": {
            "type": "string",
            "maxLength": 32,
            "description": "The discount code redeemed by this order; empty for none.",
            "examples": ["BACK-7KQ2-M9XD"],
        },
        "discount_percent": {
            "type": "string",
            "pattern": r"^\d{1,3}\.\d{2}$",
            "description": "What the code takes off the lines' sum, in percent.",
            "examples": ["10.00"],
        },
    }

    cart_id: str
    sequence: int
    order_id: str
    discount_code: str = ""
    discount_percent: str = "0.00"


@dataclass(frozen=True, kw_only=True)
class CartContactChanged(DomainEvent):
    """The address for reminders, the consent to send them, or the address's confirmation
    changed. A guest's consent counts once the address is confirmed (double opt-in): an
    unconfirmed address with consent is what the confirmation email is sent for."""

    source = "shop.cart"
    schema = _schema(
        {
            "email": {
                "type": "string",
                "maxLength": 254,
                "description": "The address reminders go to.",
                "examples": ["ann@example.com"],
            },
            "consent": {"type": "boolean", "description": "Whether reminders may be sent."},
            "confirmed": {
                "type": "boolean",
                "default": False,
                "description": "Whether the address is confirmed (an account's always is; "
                "a guest's once its owner followed the confirmation email's link). "
                "Events from before double opt-in lack it.",
            },
        }
    )

    cart_id: str
    sequence: int
    email: str
    consent: bool
    confirmed: bool = False


# Events that change the lines of a cart (the reminder policy debounces on these).
LINE_EVENTS = ["ItemAddedToCart", "CartItemRemoved", "CartItemQuantityChanged"]
