import logging

import pytest
from django.conf import settings

from core.request_id import RequestIdLogFilter, current_request_id, request_id_context
from eventbus.conversion import to_envelope
from eventbus.models import OutboxEvent
from eventbus.tasks import deliver
from eventbus.testing import RecordingHandler, temporary_subscription
from tests.eventbus.sample_events import SHIPPING, ParcelShipped

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_lines(caplog):
    """Captured records, tagged with the request id as the project's log handler tags them."""
    caplog.handler.addFilter(RequestIdLogFilter())
    caplog.set_level(logging.INFO)
    return caplog


def formatted(record: logging.LogRecord) -> str:
    return logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"]).format(record)


def test_the_request_id_rides_in_the_detail_and_tags_the_delivery_log_lines(
    api_client, product, deliver, log_lines
):
    response = api_client.post(
        "/api/cart/items/",
        {"sku": product.sku, "quantity": 1},
        format="json",
        HTTP_X_REQUEST_ID="req-abc-123",
    )
    assert response.status_code == 202
    row = OutboxEvent.objects.get(pk=response.json()["event_id"])
    assert row.envelope["detail"]["correlation_id"] == "req-abc-123"
    assert row.correlation_id == "req-abc-123"

    log_lines.clear()
    deliver()
    handled = [
        record
        for record in log_lines.records
        if record.name == "eventbus.delivery" and "cart-projection: handled" in record.getMessage()
    ]
    assert len(handled) == 1
    assert handled[0].request_id == "req-abc-123"
    assert "[req-abc-123]" in formatted(handled[0])


def test_retry_and_dead_letter_lines_of_a_delivery_carry_the_correlation_id(log_lines):
    envelope = to_envelope(ParcelShipped(parcel_id="P1", weight_grams=5, correlation_id="req-77"))
    handler = RecordingHandler(fail_with=RuntimeError("no stock"))
    with temporary_subscription(name="shipping-corr", pattern=SHIPPING, handler=handler):
        deliver.apply(args=("shipping-corr", envelope.to_dict()))
    lines = [
        record
        for record in log_lines.records
        if record.name.startswith("eventbus") and "shipping-corr" in record.getMessage()
    ]
    assert any("retrying" in record.getMessage() for record in lines)
    assert any("dead letter" in record.getMessage() for record in lines)
    assert {record.request_id for record in lines} == {"req-77"}
    # Nothing after the delivery carries it.
    assert current_request_id() is None


def test_events_published_outside_a_request_have_no_correlation_id():
    assert to_envelope(ParcelShipped(parcel_id="P1", weight_grams=5)).correlation_id is None
    with request_id_context("job-5"):
        assert to_envelope(ParcelShipped(parcel_id="P1", weight_grams=5)).correlation_id == "job-5"
