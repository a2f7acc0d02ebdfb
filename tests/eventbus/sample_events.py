"""Event types that exist only for the bus's own tests (source ``test.shipping``)."""

from __future__ import annotations

from dataclasses import dataclass

from eventbus.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class ParcelShipped(DomainEvent):
    source = "test.shipping"
    schema = {
        "type": "object",
        "properties": {
            "parcel_id": {"type": "string", "minLength": 1},
            "weight_grams": {"type": "integer", "minimum": 1},
        },
        "required": ["parcel_id", "weight_grams"],
    }

    parcel_id: str
    weight_grams: int


SHIPPING = {"source": ["test.shipping"]}
