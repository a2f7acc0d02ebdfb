"""The boto3 client factory, entry sizes as AWS counts them, and /healthz on EventBridge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eventbus.aws import clients as aws_clients
from eventbus.aws.backend import entry_size, put_events_entry
from eventbus.backend import get_backend
from eventbus.envelope import Envelope
from tests.integration.moto_server import REGION

pytestmark = [pytest.mark.integration]


def test_clients_are_built_on_first_use_and_then_shared(aws):
    aws_clients.reset()
    backend = get_backend()  # building the backend talks to nobody
    assert aws_clients.client.cache_info().currsize == 0

    events = aws_clients.client("events")

    assert aws_clients.client("events") is events
    assert backend.bus_name
    config = events.meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 10)
    assert config.retries["mode"] == "standard"
    assert events.meta.region_name == REGION
    assert events.meta.endpoint_url == aws.endpoint  # AWS_ENDPOINT_URL, read by boto3
    # The SQS read timeout outlasts a 20-second long poll.
    assert aws_clients.client("sqs").meta.config.read_timeout > 20


def test_entry_size_is_counted_as_aws_documents_it():
    envelope = Envelope(
        detail_type="Ordered",
        source="shop.test",
        detail={"name": "café"},
        resources=("arn:aws:s3:::bucket",),
        time=datetime(2031, 1, 1, tzinfo=UTC),
    )
    entry = put_events_entry(envelope, bus_name="shop")

    expected = (
        len("shop.test")
        + len("Ordered")
        + len(entry["Detail"].encode("utf-8"))  # "é" is two bytes
        + len("arn:aws:s3:::bucket")
        + 14  # Time
    )
    assert entry_size(entry) == expected
    assert len(entry["Detail"].encode()) == len(entry["Detail"]) + 1  # sent as UTF-8


@pytest.mark.django_db
def test_healthz_names_the_bus_down_until_it_is_provisioned(aws, client):
    response = client.get("/healthz")
    assert response.status_code == 503
    bus = response.json()["checks"]["bus"]
    assert bus["status"] == "down" and bus["backend"] == "EventBridgeBackend"
    assert "ResourceNotFoundException" in bus["error"]

    from eventbus.aws.provisioning import provision

    provision()
    assert client.get("/healthz").status_code == 200
