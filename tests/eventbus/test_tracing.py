"""Traces across the bus (the in-memory backend): an event carries the W3C trace context of
the span that recorded it, the relay and every delivery continue its trace, batches link to
each event's trace, and a trace context from the bus is trusted only once it is valid."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction
from opentelemetry import trace
from opentelemetry.trace import SpanKind, TraceFlags, TraceState, format_trace_id

from core.tracing import context_with_parent, get_tracer
from eventbus.conversion import to_envelope
from eventbus.delivery import Result, deliver_batch
from eventbus.events import InvalidEvent
from eventbus.models import OutboxEvent
from eventbus.outbox import publish
from eventbus.relay import relay_outbox
from eventbus.subscriptions import subscribe, unsubscribe
from eventbus.testing import temporary_subscription
from eventbus.tracing import handling
from tests.eventbus.sample_events import SHIPPING, ParcelShipped
from tests.tracing import child_of, traceparent_of

pytestmark = pytest.mark.django_db

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def parcel(parcel_id: str = "p-1") -> ParcelShipped:
    return ParcelShipped(parcel_id=parcel_id, weight_grams=100)


def recorded_in_a_span(spans, name: str = "request", *, parcel_id: str = "p-1"):
    """(the span, the envelope published inside it through the outbox)."""
    with get_tracer("tests").start_as_current_span(name) as span, transaction.atomic():
        envelope = publish(parcel(parcel_id))
    return span, envelope


def test_an_event_carries_the_trace_context_of_the_span_that_recorded_it(spans):
    span, envelope = recorded_in_a_span(spans)

    assert envelope.detail["traceparent"] == traceparent_of(span)
    assert "tracestate" not in envelope.detail
    stored = OutboxEvent.objects.get(pk=envelope.id).envelope["detail"]
    assert stored["traceparent"] == traceparent_of(span)
    ParcelShipped.event_type().validate_detail(envelope.detail)


def test_tracestate_travels_too_cut_to_the_length_w3c_asks_for(spans):
    members = [(f"vendor{number}", "x" * 60) for number in range(12)]  # 12 x 68 characters
    remote = trace.SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState(members),
    )
    with get_tracer("tests").start_as_current_span("child", context=context_with_parent(remote)):
        envelope = to_envelope(parcel())

    tracestate = envelope.detail["tracestate"]
    assert len(tracestate) <= 512
    assert tracestate.startswith("vendor0=")
    assert tracestate.split(",") == [f"{key}={value}" for key, value in members][:7]


def test_without_tracing_events_carry_no_trace_context(catalog, api_client):
    response = api_client.post(
        "/api/cart/items/",
        {"sku": "COF-001", "quantity": 1},
        format="json",
        HTTP_TRACEPARENT=VALID,
    )
    assert response.status_code == 202
    detail = OutboxEvent.objects.get(pk=response.json()["event_id"]).envelope["detail"]
    assert "traceparent" not in detail
    assert "tracestate" not in detail


def test_the_schema_refuses_a_malformed_traceparent_at_publication():
    detail = {**parcel().detail(), "traceparent": "00-not-a-trace-01"}
    with pytest.raises(InvalidEvent, match=r"detail\.traceparent"):
        ParcelShipped.event_type().validate_detail(detail)
    schema = ParcelShipped.event_type().full_schema["properties"]
    assert schema["traceparent"]["pattern"].startswith("^00-")
    assert schema["tracestate"]["maxLength"] == 512
    assert "traceparent" not in ParcelShipped.event_type().full_schema["required"]


def test_one_add_is_one_trace_from_the_request_through_the_relay_to_each_consumer(
    spans, catalog, api_client, deliver
):
    response = api_client.post("/api/cart/items/", {"sku": "COF-001", "quantity": 1}, format="json")
    assert response.status_code == 202
    deliver()

    request = spans.server_span("api/cart/items/")
    trace_id = request.context.trace_id
    relay = spans.one("eventbus.relay", trace_id=trace_id)
    projection = spans.one("eventbus.deliver cart-projection", trace_id=trace_id)
    policy = spans.one("eventbus.deliver reminder-policy", trace_id=trace_id)
    assert relay.kind is SpanKind.PRODUCER
    assert projection.kind is SpanKind.CONSUMER
    assert child_of(relay, request)
    assert child_of(projection, request)
    assert child_of(policy, request)
    # The policy works per cart: its span is the policy delivery's child.
    assert child_of(spans.one("eventbus.handle reminder-policy", trace_id=trace_id), policy)
    assert projection.attributes["messaging.message.id"] == response.json()["event_id"]
    assert projection.attributes["eventbus.correlation_id"] == response["X-Request-ID"]
    assert request.attributes["shop.request_id"] == response["X-Request-ID"]
    assert projection.attributes["eventbus.outcome.handled"] == 1
    assert relay.attributes["eventbus.published"] == 1


def test_the_request_continues_the_callers_trace(spans, catalog, api_client, deliver):
    response = api_client.post(
        "/api/cart/items/",
        {"sku": "COF-001", "quantity": 1},
        format="json",
        HTTP_TRACEPARENT=VALID,
    )
    deliver()

    request = spans.server_span("api/cart/items/")
    assert format_trace_id(request.context.trace_id) == VALID.split("-")[1]
    detail = OutboxEvent.objects.get(pk=response.json()["event_id"]).envelope["detail"]
    assert detail["traceparent"] == traceparent_of(request)


@pytest.fixture
def shipping():
    with temporary_subscription(name="shipping-traces", pattern=SHIPPING) as subscription:
        yield subscription


@pytest.mark.parametrize(
    "traceparent",
    [
        "garbage",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",  # upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # no trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # no parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",  # not version 00
        VALID + "\n2026-01-01 INFO forged log line",
        " " + VALID,
        12345,
        None,
        {"traceparent": VALID},
    ],
)
def test_a_malformed_traceparent_from_the_bus_is_dropped_and_the_event_delivered(
    spans, shipping, caplog, traceparent
):
    message = to_envelope(parcel()).to_dict()
    message["detail"] = {**message["detail"], "traceparent": traceparent, "tracestate": "a=b"}

    with caplog.at_level(logging.WARNING, logger="eventbus.tracing"):
        [outcome] = deliver_batch(shipping.name, [(message, 1)])

    assert outcome.result is Result.HANDLED
    [(_, seen)] = shipping.handler.calls
    assert "traceparent" not in seen.detail
    assert "tracestate" not in seen.detail  # it means nothing without its traceparent
    delivery = spans.one("eventbus.deliver shipping-traces")
    assert delivery.parent is None  # a trace of its own: nothing was trusted
    assert delivery.links == ()
    assert "trace context is not valid" in caplog.text
    assert "forged" not in caplog.text


@pytest.mark.parametrize("tracestate", ["a=b\nforged line", "not a list member", "x" * 513, 7])
def test_a_malformed_tracestate_is_dropped_and_its_traceparent_kept(spans, shipping, tracestate):
    message = to_envelope(parcel()).to_dict()
    message["detail"] = {**message["detail"], "traceparent": VALID, "tracestate": tracestate}

    [outcome] = deliver_batch(shipping.name, [(message, 1)])

    assert outcome.result is Result.HANDLED
    [(_, seen)] = shipping.handler.calls
    assert seen.detail["traceparent"] == VALID
    assert "tracestate" not in seen.detail
    delivery = spans.one("eventbus.deliver shipping-traces")
    assert format_trace_id(delivery.context.trace_id) == VALID.split("-")[1]


def test_a_valid_tracestate_is_continued(spans, shipping):
    message = to_envelope(parcel()).to_dict()
    message["detail"] = {
        **message["detail"],
        "traceparent": VALID,
        "tracestate": "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE",
    }

    deliver_batch(shipping.name, [(message, 1)])

    handle = spans.one("eventbus.handle shipping-traces")
    assert handle.context.trace_state.to_header() == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"


BATCH = "shipping-batch-traces"


@pytest.fixture
def batch_handler():
    """A batch handler that handles each parcel the way the reminder policy does: with
    ``handling(envelope)``, publishing a follow-up event for it."""
    published: list = []

    def handle(items) -> None:
        for event, envelope in items:
            with handling(envelope):
                published.append(to_envelope(parcel(f"{event.parcel_id}-follow-up")))

    handle.__qualname__ = f"handle-{id(handle)}"
    subscribe(name=BATCH, pattern=SHIPPING, batch=True)(handle)
    yield published
    unsubscribe(BATCH)


def test_a_batch_from_several_traces_links_each_and_each_event_continues_its_own(
    spans, batch_handler
):
    first_span, first = recorded_in_a_span(spans, "first request", parcel_id="a")
    second_span, second = recorded_in_a_span(spans, "second request", parcel_id="b")

    outcomes = deliver_batch(BATCH, [(first.to_dict(), 1), (second.to_dict(), 1)])

    assert [outcome.result for outcome in outcomes] == [Result.HANDLED, Result.HANDLED]
    batch = spans.one(f"eventbus.deliver {BATCH}")
    assert batch.parent is None  # it belongs to neither request
    assert {link.context.span_id for link in batch.links} == {
        first_span.context.span_id,
        second_span.context.span_id,
    }
    assert batch.attributes["messaging.batch.message_count"] == 2
    # Each event's work is in its own request's trace, linked to the batch.
    for request, follow_up in zip((first_span, second_span), batch_handler, strict=True):
        handle = spans.one(f"eventbus.handle {BATCH}", trace_id=request.context.trace_id)
        assert child_of(handle, request)
        assert [link.context.span_id for link in handle.links] == [batch.context.span_id]
        assert follow_up.detail["traceparent"] == traceparent_of(handle)


def test_a_batch_from_one_trace_is_its_child_and_so_is_each_events_work(spans, batch_handler):
    with get_tracer("tests").start_as_current_span("request") as request, transaction.atomic():
        first, second = publish(parcel("a")), publish(parcel("b"))

    deliver_batch(BATCH, [(first.to_dict(), 1), (second.to_dict(), 1)])

    batch = spans.one(f"eventbus.deliver {BATCH}")
    assert child_of(batch, request)
    assert batch.links == ()
    handles = spans.named(f"eventbus.handle {BATCH}")
    assert len(handles) == 2
    assert all(child_of(handle, batch) and handle.links == () for handle in handles)


def test_a_failing_handler_marks_its_span_and_the_deliverys(spans):
    from eventbus.testing import RecordingHandler

    failing = RecordingHandler(fail_with=RuntimeError("the warehouse is closed"))
    with temporary_subscription(name="shipping-fails", pattern=SHIPPING, handler=failing):
        [outcome] = deliver_batch("shipping-fails", [(to_envelope(parcel()).to_dict(), 1)])

    assert outcome.result is Result.RETRY
    handle = spans.one("eventbus.handle shipping-fails")
    assert not handle.status.is_ok
    assert handle.events[0].attributes["exception.message"] == "the warehouse is closed"
    delivery = spans.one("eventbus.deliver shipping-fails")
    assert not delivery.status.is_ok
    assert delivery.attributes["eventbus.outcome.retry"] == 1


def test_a_relay_pass_of_several_traces_links_each(spans, bus):
    first_span, first = recorded_in_a_span(spans, "first request", parcel_id="a")
    second_span, second = recorded_in_a_span(spans, "second request", parcel_id="b")
    spans.exporter.clear()
    bus.clear()
    OutboxEvent.objects.update(status=OutboxEvent.Status.PENDING)

    assert relay_outbox(ids=[first.id, second.id]).published == 2

    relay = spans.one("eventbus.relay")
    assert relay.parent is None
    assert {link.context.span_id for link in relay.links} == {
        first_span.context.span_id,
        second_span.context.span_id,
    }
    assert relay.attributes["eventbus.published"] == 2
    # The relay forwards the events as recorded: each still names its own request.
    assert [envelope.detail["traceparent"] for envelope in bus.published] == [
        first.detail["traceparent"],
        second.detail["traceparent"],
    ]
