"""The cart projection is right under redelivery and reordering."""

import itertools

import pytest

from cart.models import Cart, CartLine, PendingCartEvent
from eventbus.delivery import dispatch
from eventbus.models import OutboxEvent

pytestmark = pytest.mark.django_db


def accepted_envelopes(client, *requests):
    """Send API requests, return the envelopes they wrote to the outbox, in accept order."""
    ids = []
    for method, url, payload in requests:
        response = getattr(client, method)(url, payload, format="json")
        assert response.status_code == 202, response.content
        ids.append(response.json()["event_id"])
    return [OutboxEvent.objects.get(pk=event_id).envelope for event_id in ids]


def cart_state(cart):
    return sorted(CartLine.objects.filter(cart=cart).values_list("sku", "quantity"))


ADD = ("post", "/api/cart/items/", {"sku": "COF-001", "quantity": 2})
REMOVE = ("delete", "/api/cart/items/COF-001/", None)
SET_QUANTITY = ("put", "/api/cart/items/COF-001/", {"quantity": 5})


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_add_and_remove_end_the_same_in_either_order(api_client, catalog, order):
    envelopes = accepted_envelopes(api_client, ADD, REMOVE)
    for index in order:
        dispatch("cart-projection", envelopes[index])
    cart = Cart.objects.get()
    assert cart_state(cart) == []
    assert cart.applied_sequence == 2
    assert not PendingCartEvent.objects.exists()


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_every_delivery_order_of_three_events_ends_in_the_same_state(api_client, catalog, order):
    envelopes = accepted_envelopes(
        api_client,
        ADD,
        ("post", "/api/cart/items/", {"sku": "TEA-001", "quantity": 1}),
        SET_QUANTITY,
    )
    for index in order:
        dispatch("cart-projection", envelopes[index])
    cart = Cart.objects.get()
    assert cart_state(cart) == [("COF-001", 5), ("TEA-001", 1)]
    assert cart.last_event_id == envelopes[2]["id"]


def test_an_early_event_waits_and_the_cart_shows_it_pending(api_client, catalog):
    envelopes = accepted_envelopes(api_client, ADD, SET_QUANTITY)
    dispatch("cart-projection", envelopes[1])
    assert cart_state(Cart.objects.get()) == []
    assert PendingCartEvent.objects.count() == 1
    assert api_client.get("/api/cart/").json()["pending_events"] == 2

    dispatch("cart-projection", envelopes[0])
    assert cart_state(Cart.objects.get()) == [("COF-001", 5)]
    assert api_client.get("/api/cart/").json()["pending_events"] == 0


def test_duplicate_delivery_changes_nothing(api_client, catalog):
    [envelope] = accepted_envelopes(api_client, ADD)
    assert dispatch("cart-projection", envelope) is True
    assert dispatch("cart-projection", envelope) is False
    assert cart_state(Cart.objects.get()) == [("COF-001", 2)]


def test_duplicate_of_an_early_event_is_parked_once(api_client, catalog):
    envelopes = accepted_envelopes(api_client, ADD, ADD)
    dispatch("cart-projection", envelopes[1])
    dispatch("cart-projection", envelopes[1])
    dispatch("cart-projection", envelopes[0])
    assert cart_state(Cart.objects.get()) == [("COF-001", 4)]


def test_projection_clamps_a_line_to_stock(api_client, catalog, product):
    envelopes = accepted_envelopes(api_client, ADD, ADD)
    product.stock = 3
    product.save()
    for envelope in envelopes:
        dispatch("cart-projection", envelope)
    assert cart_state(Cart.objects.get()) == [("COF-001", 3)]


def test_the_price_is_the_one_the_accept_recorded_not_the_messages(api_client, catalog, product):
    [envelope] = accepted_envelopes(api_client, ADD)
    forged = {**envelope, "detail": {**envelope["detail"], "unit_price": "0.01"}}
    dispatch("cart-projection", forged)
    [line] = CartLine.objects.all()
    assert str(line.unit_price) == envelope["detail"]["unit_price"] == f"{product.price:.2f}"


def test_an_add_that_never_went_through_the_outbox_gets_the_catalog_price(
    api_client, catalog, product
):
    [envelope] = accepted_envelopes(api_client, ADD)
    OutboxEvent.objects.all().delete()  # as if pruned, or a message from elsewhere
    forged = {**envelope, "detail": {**envelope["detail"], "unit_price": "0.01"}}
    dispatch("cart-projection", forged)
    assert CartLine.objects.get().unit_price == product.price
