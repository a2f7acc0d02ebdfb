"""The transactional outbox: ``publish()`` records, the relay hands records to the bus.

``publish()`` only writes a row in the caller's transaction, so an event exists exactly
when the change that caused it was committed. Right after that commit the relay tries to
publish it; whatever is left (bus down, process killed) is swept up periodically. Rows
are claimed with ``FOR UPDATE SKIP LOCKED``, so any number of relays can run at once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from eventbus.backends import get_backend
from eventbus.backends.base import PublishResult
from eventbus.conversion import to_envelope
from eventbus.delivery import record_dead_letter, retry_delay
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.models import DeadLetter, OutboxEvent

logger = logging.getLogger(__name__)


def publish(event: DomainEvent) -> Envelope:
    """Record ``event`` for publication when the current transaction commits."""
    envelope = to_envelope(event)
    publish_envelope(envelope)
    return envelope


def publish_envelope(envelope: Envelope) -> None:
    OutboxEvent.objects.create(
        id=uuid.UUID(envelope.id),
        source=envelope.source,
        detail_type=envelope.detail_type,
        envelope=envelope.to_dict(),
        correlation_id=envelope.correlation_id or "",
        created_at=envelope.time,
    )
    _committed_ids.__dict__.setdefault("ids", []).append(envelope.id)
    transaction.on_commit(_relay_committed)


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
    try:
        relay_outbox(ids=ids)
    except Exception:
        # The events are safe in the outbox; the sweep publishes them later.
        logger.warning("relay after commit failed; the sweep will retry", exc_info=True)


@dataclass
class RelayReport:
    published: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def claimed(self) -> int:
        return self.published + self.retrying + self.dead


def relay_outbox(*, ids: Iterable[str] | None = None, limit: int | None = None) -> RelayReport:
    """Publish pending outbox rows (those in ``ids``, or any that are due) once each."""
    batch_size = limit or settings.EVENT_BUS["RELAY_BATCH_SIZE"]
    report = RelayReport()
    with transaction.atomic():
        pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING)
        if ids is not None:
            pending = pending.filter(id__in=list(ids))
        else:
            pending = pending.filter(next_attempt_at__lte=timezone.now())
        rows = list(
            pending.select_for_update(skip_locked=True)
            .order_by("next_attempt_at")
            .only("id", "envelope", "attempts")[:batch_size]
        )
        if not rows:
            return report
        _publish_rows(rows, report)
    if report.claimed:
        logger.info("relayed outbox: %s", report)
    return report


def _publish_rows(rows: Sequence[OutboxEvent], report: RelayReport) -> None:
    envelopes = [Envelope.from_dict(row.envelope) for row in rows]
    try:
        results = get_backend().publish(envelopes)
    except Exception as error:  # the whole bus is unreachable: every row waits
        logger.warning("bus unreachable: %s", error)
        results = [PublishResult.retry(f"{type(error).__name__}: {error}")] * len(rows)
    now = timezone.now()
    for row, result in zip(rows, results, strict=True):
        if result.ok:
            row.status = OutboxEvent.Status.PUBLISHED
            row.published_at = now
            row.last_error = ""
            report.published += 1
            continue
        row.attempts += 1
        row.last_error = result.error[:2000]
        if result.retryable:
            row.next_attempt_at = now + timedelta(seconds=retry_delay(row.attempts))
            report.retrying += 1
        else:
            row.status = OutboxEvent.Status.FAILED
            record_dead_letter(
                subscription_name=DeadLetter.PUBLISH,
                envelope=row.envelope,
                error=result.error,
                attempts=row.attempts,
            )
            report.dead += 1
    OutboxEvent.objects.bulk_update(
        rows, ["status", "published_at", "last_error", "attempts", "next_attempt_at"]
    )


def sweep_outbox(*, max_batches: int = 50) -> RelayReport:
    """Publish everything that is due, batch after batch (the periodic safety net)."""
    total = RelayReport()
    for _ in range(max_batches):
        report = relay_outbox()
        total.published += report.published
        total.retrying += report.retrying
        total.dead += report.dead
        if report.claimed == 0:
            break
    return total
