"""The cart's domain events. ``sequence`` orders a cart's events as they were accepted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventbus.events import DomainEvent

_UUID = {"type": "string", "format": "uuid", "minLength": 36, "maxLength": 36}
_SKU = {"type": "string", "minLength": 1, "maxLength": 32}
_SEQUENCE = {"type": "integer", "minimum": 1}
_MONEY = {"type": "string", "pattern": r"^\d+\.\d{2}$"}
_CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$"}


def _schema(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"cart_id": _UUID, "sequence": _SEQUENCE, **properties},
        "required": ["cart_id", "sequence", *properties],
    }


@dataclass(frozen=True, kw_only=True)
class ItemAddedToCart(DomainEvent):
    source = "shop.cart"
    schema = _schema(
        {
            "sku": _SKU,
            "quantity": {"type": "integer", "minimum": 1},
            "unit_price": _MONEY,
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
    source = "shop.cart"
    schema = _schema({"sku": _SKU})

    cart_id: str
    sequence: int
    sku: str


@dataclass(frozen=True, kw_only=True)
class CartItemQuantityChanged(DomainEvent):
    """The shopper set a line's quantity (to 1 or more; 0 is a CartItemRemoved)."""

    source = "shop.cart"
    schema = _schema({"sku": _SKU, "quantity": {"type": "integer", "minimum": 1}})

    cart_id: str
    sequence: int
    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class CartCheckedOut(DomainEvent):
    source = "shop.cart"
    schema = _schema({"order_id": _UUID})

    cart_id: str
    sequence: int
    order_id: str


@dataclass(frozen=True, kw_only=True)
class CartContactChanged(DomainEvent):
    """The address for reminders, or the consent to send them, changed."""

    source = "shop.cart"
    schema = _schema(
        {
            "email": {"type": "string", "maxLength": 254},
            "consent": {"type": "boolean"},
        }
    )

    cart_id: str
    sequence: int
    email: str
    consent: bool


# Events that change the lines of a cart (the reminder policy debounces on these).
LINE_EVENTS = ["ItemAddedToCart", "CartItemRemoved", "CartItemQuantityChanged"]
