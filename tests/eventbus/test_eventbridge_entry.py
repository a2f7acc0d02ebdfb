"""The PutEvents entry the EventBridge backend builds from a transport-neutral envelope."""

import json
from datetime import UTC, datetime

from eventbus.aws.backend import ENVELOPE_ID_KEY, put_events_entry
from tests.eventbus.test_envelope import make_envelope


def test_put_events_entry_carries_source_type_detail_and_bus():
    envelope = make_envelope()
    entry = put_events_entry(envelope, bus_name="shop")
    assert entry["Source"] == "shop.cart"
    assert entry["DetailType"] == "ItemAddedToCart"
    assert entry["EventBusName"] == "shop"
    assert entry["Resources"] == ["arn:aws:example"]
    assert entry["Time"] == datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
    # EventBridge gives the event its own id: ours rides in the detail.
    assert json.loads(entry["Detail"]) == {
        "sku": "TEA-001",
        "quantity": 2,
        "correlation_id": "req-1",
        ENVELOPE_ID_KEY: envelope.id,
    }
