"""The one place that turns domain events into envelopes and back."""

from __future__ import annotations

import dataclasses

from core.request_id import current_request_id
from core.tracing import current_trace_context
from eventbus.backend import get_backend
from eventbus.envelope import Envelope, MalformedEnvelope
from eventbus.events import VERSION_FIELD, DomainEvent, InvalidEvent, get_event_type


def to_envelope(event: DomainEvent) -> Envelope:
    """Validate ``event`` against its schema and wrap it; the request id and the current
    span's trace context ride along."""
    if event.correlation_id is None and (request_id := current_request_id()):
        event = dataclasses.replace(event, correlation_id=request_id)
    detail = event.detail()
    detail.update(current_trace_context())
    event.event_type().validate_detail(detail)
    account, region = get_backend().origin
    return Envelope(
        detail_type=event.detail_type,
        source=event.source,
        detail=detail,
        account=account,
        region=region,
    )


def from_envelope(envelope: Envelope) -> DomainEvent:
    """Parse an envelope back into its domain event, at the version its detail declares
    (``eventbus.versioning`` converts between versions); unknown or invalid ones are poison."""
    try:
        event_type = get_event_type(
            envelope.source, envelope.detail_type, envelope.detail.get(VERSION_FIELD, 1)
        )
        event_type.validate_detail(envelope.detail)
    except (LookupError, InvalidEvent) as error:
        raise MalformedEnvelope(str(error)) from error
    names = {field.name for field in dataclasses.fields(event_type.event_class)}
    return event_type.event_class(**{k: v for k, v in envelope.detail.items() if k in names})
