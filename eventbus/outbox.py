"""The transactional outbox: ``publish()`` records an event in the caller's transaction.

So an event exists exactly when the change that caused it was committed. Right after that
commit the relay (:mod:`eventbus.relay`) tries to publish it; whatever is left (bus down,
process killed) is swept up periodically.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

from eventbus.conversion import to_envelope
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.models import OutboxEvent
from eventbus.relay import background_relay, relay_ids


def publish(event: DomainEvent) -> Envelope:
    """Record ``event`` for publication when the current transaction commits."""
    envelope = to_envelope(event)
    publish_envelopes([envelope])
    return envelope


def publish_envelope(envelope: Envelope) -> None:
    """Record an envelope made elsewhere (a schedule firing, a replay) like ``publish``."""
    publish_envelopes([envelope])


def publish_envelopes(envelopes: Sequence[Envelope]) -> None:
    """Record several envelopes with one insert, relayed together after the commit."""
    store_envelopes(envelopes)
    _committed_ids.__dict__.setdefault("ids", []).extend(envelope.id for envelope in envelopes)
    transaction.on_commit(_relay_committed)


def store_envelopes(envelopes: Sequence[Envelope]) -> None:
    """Insert outbox rows for ``envelopes`` and nothing more: only the sweep publishes them
    (benchmarks and tests fill the outbox this way, as if the relay after commit failed)."""
    rows = [
        OutboxEvent(
            id=uuid.UUID(envelope.id),
            source=envelope.source,
            detail_type=envelope.detail_type,
            envelope=envelope.to_dict(),
            correlation_id=envelope.correlation_id or "",
            created_at=envelope.time,
        )
        for envelope in envelopes
    ]
    OutboxEvent.objects.bulk_create(rows, batch_size=1000)


def recorded_details(event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The details the outbox recorded for ``event_ids``, by id: what the accepting
    transaction wrote, for a consumer that must not trust a message's copy (a price, say).
    Events whose rows were pruned (``EVENT_RETENTION``) or never existed are missing."""
    rows = OutboxEvent.objects.filter(pk__in=list(event_ids)).values_list("pk", "envelope")
    return {str(pk): (envelope or {}).get("detail", {}) for pk, envelope in rows}


# Ids published in this thread and not relayed yet. The first after-commit callback of a
# transaction relays all of them as one batch (one claim query, one PutEvents call); the
# later callbacks find the list empty. Ids of rolled-back rows are harmless: the relay
# only claims rows that exist and are pending.
_committed_ids = threading.local()


def _relay_committed() -> None:
    ids = getattr(_committed_ids, "ids", None)
    if not ids:
        return
    _committed_ids.ids = []
    mode = settings.EVENT_BUS.get("RELAY_AFTER_COMMIT", "inline")
    if mode == "background":
        background_relay.submit(ids)
    elif mode == "inline":
        relay_ids(ids)
    # "off": only the sweep (relay_events or beat) publishes.
