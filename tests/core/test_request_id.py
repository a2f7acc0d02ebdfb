"""Ids that reach log lines, from a request's X-Request-ID or an event's correlation_id
from the bus, are checked against one safe pattern and replaced when they fail it."""

import logging

import pytest
from django.conf import settings

from core.request_id import RequestIdLogFilter, current_request_id, safe_id
from eventbus.conversion import to_envelope
from eventbus.models import OutboxEvent
from eventbus.outbox import publish
from eventbus.tasks import deliver
from eventbus.testing import temporary_subscription
from tests.eventbus.sample_events import SHIPPING, ParcelShipped

pytestmark = pytest.mark.django_db

FORGERIES = [
    "req-1\n2026-11-26 10:00:00,000 INFO django.security [admin] password reset for root",
    "req-1\n",  # "$" admits a trailing newline; "\Z" does not
    "req-1\r",
    "req 1",
    "x" * 129,
]


@pytest.mark.parametrize("value", FORGERIES)
def test_unsafe_ids_fail_the_pattern(value):
    assert safe_id(value) is None


@pytest.mark.parametrize("value", ["req-abc-123", "Root=1-5759e988-bd862e3fe1be46a994272793"])
def test_what_proxies_send_passes(value):
    assert safe_id(value) == value


@pytest.mark.parametrize("value", ["abc-123\n", "abc\n123"])
def test_a_request_id_that_could_forge_log_lines_is_replaced(client, value):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=value)

    assert response.status_code == 200
    assert response["X-Request-ID"] != value
    assert safe_id(response["X-Request-ID"]) is not None


@pytest.mark.parametrize("value", FORGERIES[:3])
def test_a_correlation_id_from_the_bus_that_could_forge_log_lines_is_replaced(caplog, value):
    caplog.handler.addFilter(RequestIdLogFilter())
    caplog.set_level(logging.INFO)
    seen: list[str | None] = []

    def handler(event, envelope):
        seen.append(current_request_id())
        logging.getLogger("tests.shipping").info("label printed")
        publish(ParcelShipped(parcel_id="P2", weight_grams=5))  # caused by this delivery

    envelope = to_envelope(ParcelShipped(parcel_id="P1", weight_grams=5, correlation_id=value))
    with temporary_subscription(name="shipping-labels", pattern=SHIPPING, handler=handler):
        deliver.apply(args=("shipping-labels", envelope.to_dict()))

    [replacement] = seen
    assert replacement != value and safe_id(replacement) == replacement
    [line] = [record for record in caplog.records if record.name == "tests.shipping"]
    formatted = logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"]).format(line)
    assert "\n" not in formatted and "\r" not in formatted
    assert f"[{replacement}]" in formatted
    caused = OutboxEvent.objects.get(envelope__detail__parcel_id="P2")
    assert caused.correlation_id == replacement  # the raw value travels no further


def test_a_safe_correlation_id_from_the_bus_is_kept():
    seen: list[str | None] = []
    envelope = to_envelope(ParcelShipped(parcel_id="P1", weight_grams=5, correlation_id="req-9"))
    with temporary_subscription(
        name="shipping-labels",
        pattern=SHIPPING,
        handler=lambda e, v: seen.append(current_request_id()),
    ):
        deliver.apply(args=("shipping-labels", envelope.to_dict()))

    assert seen == ["req-9"]
