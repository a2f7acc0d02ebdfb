import json
import uuid
from datetime import UTC, datetime

import pytest

from eventbus.envelope import Envelope, MalformedEnvelope


def make_envelope() -> Envelope:
    return Envelope(
        detail_type="ItemAddedToCart",
        source="shop.cart",
        detail={"sku": "TEA-001", "quantity": 2, "correlation_id": "req-1"},
        time=datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC),
        account="123456789012",
        region="eu-west-1",
        resources=("arn:aws:example",),
    )


def test_dict_has_exactly_the_eventbridge_fields_with_a_utc_z_time():
    data = make_envelope().to_dict()
    assert set(data) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert data["version"] == "0"
    assert uuid.UUID(data["id"]).version == 4
    assert data["time"] == "2026-11-26T10:00:00Z"
    assert data["resources"] == ["arn:aws:example"]


def test_round_trips_through_dict_and_json():
    envelope = make_envelope()
    assert Envelope.from_dict(envelope.to_dict()) == envelope
    assert Envelope.from_json(envelope.to_json()) == envelope
    assert json.loads(envelope.to_json())["detail"]["quantity"] == 2


def test_time_in_another_zone_is_converted_to_utc():
    data = {**make_envelope().to_dict(), "time": "2026-11-26T12:00:00+02:00"}
    assert Envelope.from_dict(data).to_dict()["time"] == "2026-11-26T10:00:00Z"


def test_new_identity_keeps_the_content_but_not_the_id():
    envelope = make_envelope()
    later = datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=UTC)
    again = envelope.with_new_identity(now=later)
    assert again.id != envelope.id
    assert again.detail == envelope.detail
    assert again.to_dict()["time"] == "2026-11-27T09:30:15Z"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("[]", "JSON object"),
        ('{"id": "1", "source": "s", "detail": {}}', "detail-type"),
        ('{"id": "1", "source": "s", "detail-type": "T", "detail": []}', "detail must be"),
        ('{"id": "1", "source": "s", "detail-type": "T", "detail": {}, "time": "noon"}', "ISO"),
        ("{not json", "not JSON"),
    ],
)
def test_malformed_messages_are_rejected_with_the_reason(message, expected):
    with pytest.raises(MalformedEnvelope, match=expected):
        Envelope.from_json(message)
