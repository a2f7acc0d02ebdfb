"""The bus's counters and the calls delivery and the relay make to move them."""

from __future__ import annotations

import pytest

from eventbus.delivery import Result
from eventbus.metrics import (
    DELIVERY_OUTCOMES,
    delivery_observed,
    handler_observed,
    relay_observed,
)
from tests.scrape import scrape_client

pytestmark = pytest.mark.django_db


def test_the_outcomes_are_the_delivery_results():
    assert set(DELIVERY_OUTCOMES) == {result.value for result in Result}


def test_deliveries_and_handler_durations_by_subscription(client):
    before = scrape_client(client)

    delivery_observed(subscription="cart-projection", outcome="handled")
    delivery_observed(subscription="cart-projection", outcome="handled", events=1)
    delivery_observed(subscription="cart-projection", outcome="duplicate")
    delivery_observed(subscription="reminder-policy", outcome="retry", events=3)
    delivery_observed(subscription="reminder-policy", outcome="handled", events=0)
    handler_observed(subscription="cart-projection", seconds=0.02)
    handler_observed(subscription="cart-projection", seconds=0.3)  # a batch, say

    after = scrape_client(client)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    deliveries = "eventbus_deliveries_total"
    assert moved(deliveries, subscription="cart-projection", outcome="handled") == 2
    assert moved(deliveries, subscription="cart-projection", outcome="duplicate") == 1
    assert moved(deliveries, subscription="reminder-policy", outcome="retry") == 3
    assert moved(deliveries, subscription="reminder-policy", outcome="handled") == 0
    duration = "eventbus_handler_duration_seconds"
    assert moved(f"{duration}_count", subscription="cart-projection") == 2
    assert moved(f"{duration}_sum", subscription="cart-projection") == pytest.approx(0.32)
    assert moved(f"{duration}_bucket", subscription="cart-projection", le="0.025") == 1
    assert moved(f"{duration}_bucket", subscription="cart-projection", le="+Inf") == 2


def test_unknown_delivery_outcomes_are_refused():
    with pytest.raises(ValueError, match="unknown delivery outcome"):
        delivery_observed(subscription="cart-projection", outcome="ok")


def test_relay_publishes_and_failures_by_backend(client):
    before = scrape_client(client)

    relay_observed(backend="EventBridgeBackend", published=9, retrying=2, rejected=1)
    relay_observed(backend="CeleryBackend", published=4)

    after = scrape_client(client)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("eventbus_relay_published_total", backend="EventBridgeBackend") == 9
    assert moved("eventbus_relay_published_total", backend="CeleryBackend") == 4
    failures = "eventbus_relay_failures_total"
    assert moved(failures, backend="EventBridgeBackend", outcome="retry") == 2
    assert moved(failures, backend="EventBridgeBackend", outcome="rejected") == 1
    assert moved(failures, backend="CeleryBackend", outcome="retry") == 0


def test_a_relayed_and_delivered_add_moves_the_bus_counters(client, api_client, catalog, deliver):
    """The wiring: the relay and delivery themselves call the hooks above."""
    before = scrape_client(client)

    response = api_client.post("/api/cart/items/", {"sku": "COF-001"}, format="json")
    assert response.status_code == 202
    deliver()
    deliver()  # nothing new: no counter moves again

    after = scrape_client(client)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("eventbus_relay_published_total", backend="InMemoryBackend") == 1
    for subscription in ("cart-projection", "reminder-policy"):
        handled = moved("eventbus_deliveries_total", subscription=subscription, outcome="handled")
        assert handled == 1
        calls = moved("eventbus_handler_duration_seconds_count", subscription=subscription)
        assert calls == 1
