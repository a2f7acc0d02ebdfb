from dataclasses import dataclass

import pytest

from cart.events import ItemAddedToCart
from eventbus.conversion import from_envelope, to_envelope
from eventbus.envelope import MalformedEnvelope
from eventbus.events import DomainEvent, InvalidEvent, event_types, get_event_type
from eventbus.outbox import publish

CART_ID = "2f1d6a53-61a3-4d5e-9a1c-6f3b0b7f9a10"


def item_added(**changes) -> ItemAddedToCart:
    fields = {
        "cart_id": CART_ID,
        "sequence": 1,
        "sku": "TEA-001",
        "quantity": 2,
        "unit_price": "4.50",
        "currency": "EUR",
    }
    return ItemAddedToCart(**{**fields, **changes})


@pytest.mark.django_db
def test_publishing_a_wrong_type_names_the_field_and_writes_nothing():
    from eventbus.models import OutboxEvent

    with pytest.raises(InvalidEvent) as raised:
        publish(item_added(quantity="x"))
    assert "ItemAddedToCart" in str(raised.value)
    assert "detail.quantity" in str(raised.value)
    assert "integer" in str(raised.value)
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"quantity": 0}, "detail.quantity", "minimum"),
        ({"unit_price": "4.5"}, "detail.unit_price", "does not match"),
        ({"currency": "euro"}, "detail.currency", "does not match"),
        ({"cart_id": "not-a-uuid-but-36-characters-long!!!"}, "detail.cart_id", "uuid"),
        ({"sku": ""}, "detail.sku", "non-empty"),
    ],
)
def test_each_invalid_field_is_named(changes, field, problem):
    with pytest.raises(InvalidEvent, match=rf"{field}: .*{problem}"):
        to_envelope(item_added(**changes))


def test_a_missing_field_is_named_itself():
    event_type = get_event_type("shop.cart", "ItemAddedToCart")
    detail = to_envelope(item_added()).detail
    del detail["sku"]
    with pytest.raises(InvalidEvent, match=r"detail\.sku: is required"):
        event_type.validate_detail(detail)


def test_an_unexpected_field_is_named_and_makes_the_envelope_poison():
    envelope = to_envelope(item_added())
    envelope.detail["coupon"] = "FREE"
    with pytest.raises(MalformedEnvelope, match=r"detail\.coupon: is not a field"):
        from_envelope(envelope)


def test_registry_lists_each_type_with_its_source_and_fields():
    types = {(item.source, item.detail_type): item for item in event_types()}
    added = types[("shop.cart", "ItemAddedToCart")]
    assert added.event_class is ItemAddedToCart
    fields = {name: (kind, required) for name, kind, required in added.fields}
    assert fields["quantity"] == ("integer", True)
    assert fields["cart_id"] == ("string (uuid)", True)
    assert fields["correlation_id"] == ("string|null", False)


def test_envelope_round_trips_to_the_same_event():
    event = item_added(correlation_id="req-7")
    assert from_envelope(to_envelope(event)) == event


def test_declaring_the_same_type_in_another_class_is_refused():
    with pytest.raises(TypeError, match="declared twice"):

        @dataclass(frozen=True, kw_only=True)
        class ItemAddedToCart(DomainEvent):  # same source and detail-type as the cart's
            source = "shop.cart"
            schema = {"type": "object"}


def test_a_broken_schema_is_refused_when_declared():
    from jsonschema.exceptions import SchemaError

    with pytest.raises(SchemaError):

        @dataclass(frozen=True, kw_only=True)
        class BrokenSchemaDeclared(DomainEvent):
            source = "test.broken"
            schema = {"type": "no-such-type"}
