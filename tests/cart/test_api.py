"""The add-to-cart API: 202 on accept, the event in the outbox, lines only after projection."""

import json
from decimal import Decimal

import pytest
from django.test import override_settings

from cart.models import Cart, CartLine
from eventbus.models import OutboxEvent
from tests.problems import field_errors

pytestmark = pytest.mark.django_db


def add(client, sku="COF-001", quantity=1, **extra):
    return client.post(
        "/api/cart/items/", {"sku": sku, "quantity": quantity}, format="json", **extra
    )


def test_add_answers_202_with_event_and_cart_ids(api_client, product):
    response = add(api_client, quantity=2)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    assert body["cart_id"] == str(Cart.objects.get().pk)
    assert response["Location"] == "/api/cart/"
    row = OutboxEvent.objects.get(pk=body["event_id"])
    assert row.detail_type == "ItemAddedToCart"
    assert row.status == OutboxEvent.Status.PENDING
    detail = row.envelope["detail"]
    assert detail["sku"] == "COF-001"
    assert detail["quantity"] == 2
    assert detail["unit_price"] == "14.50"
    assert detail["correlation_id"] == response["X-Request-ID"]


def test_request_writes_no_cart_line_the_projection_does(api_client, product, deliver):
    response = add(api_client, quantity=2)

    assert not CartLine.objects.exists()
    before = api_client.get("/api/cart/").json()
    assert before["lines"] == []
    assert before["pending_events"] == 1

    deliver()

    cart = api_client.get("/api/cart/").json()
    assert cart["pending_events"] == 0
    assert cart["last_event_id"] == response.json()["event_id"]
    [line] = cart["lines"]
    assert line == {
        "sku": "COF-001",
        "name": "Ethiopia Yirgacheffe",
        "slug": "ethiopia-yirgacheffe",
        "unit_price": "14.50",
        "currency": "EUR",
        "quantity": 2,
        "line_total": "29.00",
    }
    assert cart["total"] == "29.00"
    assert cart["item_count"] == 2


def test_adding_twice_adds_up_quantities(api_client, product, deliver):
    add(api_client, quantity=2)
    add(api_client, quantity=3)
    deliver()
    assert api_client.get("/api/cart/").json()["lines"][0]["quantity"] == 5


def test_quantity_change_and_remove_are_accepted_and_projected(api_client, product, deliver):
    add(api_client, quantity=2)
    add(api_client, sku="TEA-002")
    deliver()

    changed = api_client.put("/api/cart/items/COF-001/", {"quantity": 4}, format="json")
    removed = api_client.delete("/api/cart/items/TEA-002/")
    assert changed.status_code == 202
    assert removed.status_code == 202
    assert OutboxEvent.objects.get(pk=changed.json()["event_id"]).detail_type == (
        "CartItemQuantityChanged"
    )
    assert OutboxEvent.objects.get(pk=removed.json()["event_id"]).detail_type == "CartItemRemoved"
    deliver()

    lines = api_client.get("/api/cart/").json()["lines"]
    assert [(line["sku"], line["quantity"]) for line in lines] == [("COF-001", 4)]


def test_setting_quantity_zero_removes_the_line(api_client, product, deliver):
    add(api_client)
    deliver()
    response = api_client.put("/api/cart/items/COF-001/", {"quantity": 0}, format="json")
    assert OutboxEvent.objects.get(pk=response.json()["event_id"]).detail_type == "CartItemRemoved"
    deliver()
    assert api_client.get("/api/cart/").json()["lines"] == []


def test_checkout_creates_an_order_and_closes_the_cart(api_client, product, deliver):
    add(api_client, quantity=2)
    add(api_client, sku="SNK-001", quantity=1)
    response = api_client.post("/api/cart/checkout/", format="json")

    assert response.status_code == 202
    body = response.json()
    assert OutboxEvent.objects.get(pk=body["event_id"]).detail_type == "CartCheckedOut"
    deliver()

    from cart.models import Order

    order = Order.objects.get(pk=body["order_id"])
    assert order.total == Decimal("33.90")
    assert sorted((line.sku, line.quantity) for line in order.lines.all()) == [
        ("COF-001", 2),
        ("SNK-001", 1),
    ]
    # The next add starts a new cart.
    assert api_client.get("/api/cart/").json()["lines"] == []
    assert add(api_client).json()["cart_id"] != body["cart_id"]


def test_get_cart_without_a_cart_creates_nothing(api_client, catalog):
    response = api_client.get("/api/cart/")
    assert response.status_code == 200
    assert response.json()["lines"] == []
    assert response.json()["cart_id"] is None
    assert not Cart.objects.exists()


# --- Bad input: each a 4xx with a clear message, and no event written -------------------


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"sku": "NOPE-1", "quantity": 1}, "sku", "Unknown product"),
        ({"sku": "COF-001", "quantity": 0}, "quantity", "greater than or equal to 1"),
        ({"sku": "COF-001", "quantity": -1}, "quantity", "greater than or equal to 1"),
        ({"sku": "COF-001", "quantity": 11}, "quantity", "less than or equal to 10"),
        ({"sku": "COF-001", "quantity": "abc"}, "quantity", "valid integer"),
        ({"sku": "COF-001", "quantity": 1.5}, "quantity", "valid integer"),
        ({"quantity": 1}, "sku", "required"),
        ({"sku": "", "quantity": 1}, "sku", "may not be blank"),
        ({"sku": "X" * 200, "quantity": 1}, "sku", "no more than 32"),
    ],
)
def test_bad_add_is_400_with_field_error_and_no_event(api_client, catalog, payload, field, message):
    response = api_client.post("/api/cart/items/", payload, format="json")
    errors = field_errors(response)
    assert field in errors
    assert message in " ".join(errors[field])
    assert not OutboxEvent.objects.exists()


def test_inactive_product_is_refused(api_client, product):
    product.active = False
    product.save()
    response = add(api_client)
    assert field_errors(response) == {"sku": ["This product is not available."]}
    assert not OutboxEvent.objects.exists()


def test_line_cannot_exceed_the_maximum_across_adds(api_client, product, deliver):
    add(api_client, quantity=8)
    deliver()
    response = add(api_client, quantity=3)
    assert "you can add 2 more" in field_errors(response)["quantity"][0]
    assert OutboxEvent.objects.count() == 1


def test_line_cannot_exceed_stock(api_client, product):
    product.stock = 2
    product.save()
    response = add(api_client, quantity=3)
    assert "At most 2" in field_errors(response)["quantity"][0]


@override_settings(CART_MAX_LINES=2)
def test_cart_line_cap(api_client, catalog, deliver):
    add(api_client, sku="COF-001")
    add(api_client, sku="COF-002")
    deliver()
    response = add(api_client, sku="COF-003")
    assert "at most 2 lines" in field_errors(response)["sku"][0]


def test_malformed_json_is_400(api_client, catalog):
    response = api_client.post(
        "/api/cart/items/", data='{"sku": "COF-001", "quantity": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize("body", ['"COF-001"', "[1, 2]", "null", "42"])
def test_json_that_is_not_an_object_is_400(api_client, catalog, body):
    response = api_client.post("/api/cart/items/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert not OutboxEvent.objects.exists()


def test_wrong_content_type_is_415(api_client, catalog):
    response = api_client.post(
        "/api/cart/items/",
        data="sku=COF-001&quantity=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["detail"]
    assert not OutboxEvent.objects.exists()


def test_body_of_several_megabytes_is_413(api_client, catalog):
    huge = json.dumps({"sku": "COF-001", "quantity": 1, "padding": "x" * (3 * 1024 * 1024)})
    response = api_client.post("/api/cart/items/", data=huge, content_type="application/json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"].lower() or "over" in response.json()["detail"]
    assert not OutboxEvent.objects.exists()


def test_delete_of_unknown_sku_is_404(api_client, product):
    add(api_client)
    assert api_client.delete("/api/cart/items/NOPE-1/").status_code == 404


def test_add_to_cart_is_throttled_with_retry_after(api_client, product, settings):
    settings.CART_ADD_THROTTLE_RATE = "3/min"
    statuses = [add(api_client).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    response = add(api_client)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
