import time

import pytest

from tests.integration.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_line_visible_within_two_seconds_after_202(catalog, api_client, celery_bus, start_worker):
    start_worker()
    response = api_client.post("/api/cart/items/", {"sku": "TEA-001", "quantity": 3}, format="json")
    assert response.status_code == 202
    accepted_at = time.monotonic()

    def applied():
        cart = api_client.get("/api/cart/").json()
        return cart if cart["lines"] else None

    cart = wait_until(applied, timeout=2)
    assert time.monotonic() - accepted_at < 2
    assert cart["lines"][0]["sku"] == "TEA-001"
    assert cart["lines"][0]["quantity"] == 3
    assert cart["last_event_id"] == response.json()["event_id"]
