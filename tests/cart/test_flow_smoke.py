import pytest

from cart.models import CartLine
from eventbus.models import OutboxEvent

pytestmark = pytest.mark.django_db


def test_add_is_accepted_then_projected(api_client, product, bus, deliver):
    response = api_client.post("/api/cart/items/", {"sku": product.sku, "quantity": 2}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "accepted"
    assert OutboxEvent.objects.filter(pk=body["event_id"]).exists()
    assert not CartLine.objects.exists()
    deliver()
    cart = api_client.get("/api/cart/").json()
    assert cart["lines"][0]["quantity"] == 2
    assert cart["pending_events"] == 0
    assert cart["last_event_id"] == body["event_id"]
