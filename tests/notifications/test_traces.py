"""A reminder continues the trace (and the correlation id) of the cart change that
scheduled it, even when the policy got that change in a batch with other carts' changes."""

from __future__ import annotations

import pytest
from opentelemetry.trace import format_trace_id
from rest_framework.test import APIClient

from eventbus.models import ScheduledEvent
from notifications.models import Reminder
from tests.notifications.conftest import Shopper

pytestmark = pytest.mark.django_db


def test_each_reminder_of_a_batch_continues_its_own_cart_changes_trace(
    spans, catalog, deliver, bus
):
    shoppers = [Shopper(APIClient(), deliver) for _ in range(2)]
    for number, shopper in enumerate(shoppers):
        shopper.contact(email=f"shopper{number}@example.com")
    spans.exporter.clear()
    bus.clear()

    # Both adds reach the policy in one batch.
    responses = [
        shopper.client.post("/api/cart/items/", {"sku": "COF-001", "quantity": 1}, format="json")
        for shopper in shoppers
    ]
    deliver()

    [batch] = spans.named("eventbus.deliver reminder-policy")
    assert batch.attributes["messaging.batch.message_count"] == 2
    requests = [span for span in spans.all() if span.attributes.get("http.route")]
    assert len(requests) == 2
    for response, request in zip(responses, requests, strict=True):
        reminder = Reminder.objects.get(cart_id=response.json()["cart_id"])
        detail = ScheduledEvent.objects.get(key=reminder.schedule_key).envelope["detail"]
        assert detail["traceparent"].split("-")[1] == format_trace_id(request.context.trace_id)
        assert detail["correlation_id"] == response["X-Request-ID"]
