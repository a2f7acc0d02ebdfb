"""The bus's spans, in the traces its events carry (``detail.traceparent``, ``tracestate``).

An event carries the context of the span that recorded it (the request's, or the consumer's
that published it); the relay never rewrites it, so every hop after the outbox continues
the same trace, replays and schedules included. Work on several events at once, a relay
pass or a delivery of a batch, is one span linked to each event's context, and a child of
that context when all its events share it (a single add: request > relay, request >
delivery). Work for one event (a handler called per event, or :func:`handling` inside a
batch handler) is a span of its own in that event's trace, a child of the batch span when
that is in the same trace, else of the event's context with a link to the batch span.
Events published inside it carry its context: the reminder the policy schedules continues
the trace of the cart change that scheduled it. While tracing is off, none of this runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace

from opentelemetry.trace import (
    Link,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    get_current_span,
    set_span_in_context,
)

from core.request_id import request_id_context
from core.tracing import (
    TRACE_FIELDS,
    context_with_parent,
    get_tracer,
    trace_context_of,
    tracing_enabled,
    trusted_trace_context,
)
from eventbus.backend import PublishResult
from eventbus.envelope import Envelope

logger = logging.getLogger(__name__)

# The batch span of the delivery running in this context, for handling() to link to.
_delivery: ContextVar[tuple[str, Span] | None] = ContextVar("eventbus_delivery", default=None)


def trusted(envelope: Envelope) -> Envelope:
    """``envelope`` without trace fields that fail the W3C parser (a message from the bus
    is not trusted): they are dropped, the event itself is delivered as ever."""
    detail = envelope.detail
    if not any(field in detail for field in TRACE_FIELDS):
        return envelope
    kept = trusted_trace_context(detail)
    if all(detail.get(field) == kept.get(field) for field in TRACE_FIELDS):
        return envelope
    if any(field in detail and field not in kept for field in TRACE_FIELDS):
        logger.warning(
            "%s %s: its trace context is not valid W3C Trace Context; dropped",
            envelope.detail_type,
            envelope.id,
        )
    clean = {key: value for key, value in detail.items() if key not in TRACE_FIELDS}
    return replace(envelope, detail={**clean, **kept})


def _batch_parent(envelopes: Sequence[Envelope]) -> tuple[SpanContext | None, list[Link]]:
    """The one context every one of ``envelopes`` carries (to be the parent), or links to
    each context they carry."""
    contexts: dict[tuple[int, int], SpanContext] = {}
    without = 0
    for envelope in envelopes:
        span_context = trace_context_of(envelope.detail)
        if span_context is None:
            without += 1
        else:
            contexts.setdefault((span_context.trace_id, span_context.span_id), span_context)
    if len(contexts) == 1 and not without:
        return next(iter(contexts.values())), []
    return None, [Link(span_context) for span_context in contexts.values()]


def _event_attributes(envelope: Envelope) -> dict[str, str]:
    return {
        "messaging.message.id": envelope.id,
        "eventbus.detail_type": envelope.detail_type,
        "eventbus.source": envelope.source,
        **({"eventbus.correlation_id": envelope.correlation_id} if envelope.correlation_id else {}),
    }


@contextmanager
def _batch_span(
    name: str, kind: SpanKind, envelopes: Sequence[Envelope], attributes: dict[str, object]
) -> Iterator[Span | None]:
    parent, links = _batch_parent(envelopes)
    if len(envelopes) == 1:
        attributes = {**attributes, **_event_attributes(envelopes[0])}
    with get_tracer("eventbus").start_as_current_span(
        name,
        context=context_with_parent(parent) if parent is not None else None,
        kind=kind,
        links=links,
        attributes={"messaging.batch.message_count": len(envelopes), **attributes},
    ) as span:
        yield span


@contextmanager
def relay_span(envelopes: Sequence[Envelope], *, backend: str) -> Iterator[None]:
    """The span of one relay pass handing ``envelopes`` to the bus."""
    if not tracing_enabled() or not envelopes:
        yield
        return
    attributes = {"messaging.operation.type": "send", "eventbus.backend": backend}
    with _batch_span("eventbus.relay", SpanKind.PRODUCER, envelopes, attributes):
        yield


def relay_results_observed(results: Sequence[PublishResult]) -> None:
    """Note a relay pass's results on its span (the current one)."""
    if not tracing_enabled():
        return
    span = get_current_span()
    if not span.is_recording():
        return
    published = sum(1 for result in results if result.ok)
    rejected = sum(1 for result in results if not (result.ok or result.retryable))
    retrying = len(results) - published - rejected
    span.set_attributes(
        {
            "eventbus.published": published,
            "eventbus.retrying": retrying,
            "eventbus.rejected": rejected,
        }
    )
    if retrying or rejected:
        span.set_status(Status(StatusCode.ERROR, f"{retrying + rejected} events not published"))


@contextmanager
def delivery_span(subscription_name: str, envelopes: Sequence[Envelope]) -> Iterator[None]:
    """The span of one delivery attempt of ``envelopes`` to a subscription."""
    if not tracing_enabled() or not envelopes:
        yield
        return
    attributes = {
        "messaging.operation.type": "process",
        "messaging.destination.name": subscription_name,
    }
    with _batch_span(
        f"eventbus.deliver {subscription_name}", SpanKind.CONSUMER, envelopes, attributes
    ) as span:
        token = _delivery.set((subscription_name, span))
        try:
            yield
        finally:
            _delivery.reset(token)


def delivery_outcomes_observed(outcomes: dict[str, int]) -> None:
    """Note how a delivery's events ended (``{"handled": 2, "retry": 1}``) on its span."""
    if not tracing_enabled():
        return
    current = _delivery.get()
    if current is None or not current[1].is_recording():
        return
    span = current[1]
    span.set_attributes({f"eventbus.outcome.{result}": count for result, count in outcomes.items()})
    failed = outcomes.get("retry", 0) + outcomes.get("dead letter", 0)
    if failed:
        span.set_status(Status(StatusCode.ERROR, f"{failed} events failed"))


@contextmanager
def handling(envelope: Envelope) -> Iterator[None]:
    """Work done for ``envelope`` alone: its correlation id on the log lines, and its span
    (in its own trace) current, so events published here continue its trace.

    Delivery wraps every per-event handler call in it; a batch handler that acts per event
    wraps each event's work in it (the reminder policy does).
    """
    with request_id_context(envelope.correlation_id):
        if not tracing_enabled():
            yield
            return
        current = _delivery.get()
        subscription_name, batch = current if current is not None else (None, None)
        event_context = trace_context_of(envelope.detail)
        links: list[Link] = []
        if batch is not None and (
            event_context is None or event_context.trace_id == batch.get_span_context().trace_id
        ):
            parent = set_span_in_context(batch)
        elif event_context is not None:
            parent = context_with_parent(event_context)
            if batch is not None:
                links = [Link(batch.get_span_context())]
        else:
            parent = None
        name = f"eventbus.handle {subscription_name or envelope.detail_type}"
        with get_tracer("eventbus").start_as_current_span(
            name, context=parent, links=links, attributes=_event_attributes(envelope)
        ):
            yield
