"""The transactional outbox: ``publish()`` records, the relay hands records to the bus.

``publish()`` only writes a row in the caller's transaction, so an event exists exactly
when the change that caused it was committed. Right after that commit the relay tries to
publish it; whatever is left (bus down, process killed) is swept up periodically. Rows
are claimed with ``FOR UPDATE SKIP LOCKED``, so any number of relays can run at once.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from eventbus.backends import get_backend
from eventbus.backends.base import PublishResult
from eventbus.conversion import to_envelope
from eventbus.delivery import record_dead_letter, retry_delay
from eventbus.envelope import Envelope, MalformedEnvelope
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
    mode = settings.EVENT_BUS.get("RELAY_AFTER_COMMIT", "inline")
    if mode == "background":
        _background_relay.submit(ids)
    elif mode == "inline":
        _relay_ids(ids)
    # "off": only the sweep (relay_events or beat) publishes.


def _relay_ids(ids: list[str]) -> None:
    batch_size = settings.EVENT_BUS["RELAY_BATCH_SIZE"]
    try:
        for start in range(0, len(ids), batch_size):
            relay_outbox(ids=ids[start : start + batch_size])
    except Exception:
        # The events are safe in the outbox; the sweep publishes them later.
        logger.warning("relay after commit failed; the sweep will retry", exc_info=True)


class BackgroundRelay:
    """Relays committed events on a thread of its own, one per process.

    The request that accepted an event does not wait for the bus, and events committed
    while the thread is busy are relayed together: under load one claim query, one
    update and one ``PutEvents`` call serve many requests. Ids still queued when the
    process dies are in the outbox; the sweep publishes them.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._owner_pid = 0
        self._lock = threading.Lock()
        self.idle = threading.Event()
        self.idle.set()

    def submit(self, ids: list[str]) -> None:
        self.idle.clear()
        for event_id in ids:
            self._queue.put(event_id)
        self._ensure_running()

    def _ensure_running(self) -> None:
        # A forked child (Celery prefork, gunicorn) inherits the object but not the thread.
        if self._thread is not None and self._thread.is_alive() and self._owner_pid == os.getpid():
            return
        with self._lock:
            if (
                self._thread is None
                or not self._thread.is_alive()
                or self._owner_pid != os.getpid()
            ):
                self._owner_pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="eventbus-relay", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            ids = [self._queue.get()]
            batch_size = settings.EVENT_BUS["RELAY_BATCH_SIZE"]
            while len(ids) < batch_size:
                try:
                    ids.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            _relay_ids(ids)
            close_old_connections()
            if self._queue.empty():
                self.idle.set()


_background_relay = BackgroundRelay()


@dataclass
class RelayReport:
    published: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def claimed(self) -> int:
        return self.published + self.retrying + self.dead

    def add(self, other: RelayReport) -> None:
        self.published += other.published
        self.retrying += other.retrying
        self.dead += other.dead


def relay_outbox(*, ids: Iterable[str] | None = None, limit: int | None = None) -> RelayReport:
    """Publish pending outbox rows (those in ``ids``, or any that are due) once each.

    The claimed rows stay locked until their new state is committed, so a concurrent relay
    skips them instead of publishing them a second time.
    """
    batch_size = limit or settings.EVENT_BUS["RELAY_BATCH_SIZE"]
    report = RelayReport()
    with transaction.atomic():
        pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING)
        if ids is not None:
            pending = pending.filter(id__in=list(ids))
        else:
            pending = pending.filter(next_attempt_at__lte=timezone.now())
        # Plain tuples, not model instances: the relay is the hot path of every event.
        rows = list(
            pending.select_for_update(skip_locked=True)
            .order_by("next_attempt_at")
            .values_list("id", "envelope", "attempts")[:batch_size]
        )
        if not rows:
            return report
        _publish_rows(rows, report)
    if report.claimed:
        logger.info("relayed outbox: %s", report)
    return report


def _publish_rows(rows: Sequence[tuple[uuid.UUID, Any, int]], report: RelayReport) -> None:
    now = timezone.now()
    publishable: list[tuple[uuid.UUID, Any, int]] = []
    envelopes: list[Envelope] = []
    for row in rows:
        try:
            envelopes.append(Envelope.from_dict(row[1]))
        except MalformedEnvelope as error:
            # A row no bus can carry must not block the rows behind it.
            _fail_row(row, str(error), now, report)
        else:
            publishable.append(row)
    if not publishable:
        return
    try:
        results = get_backend().publish(envelopes)
        if len(results) != len(envelopes):
            raise RuntimeError(f"backend answered {len(results)} results for {len(envelopes)}")
    except Exception as error:  # the whole bus is unreachable: every row waits
        logger.warning("bus unreachable: %s", error)
        results = [PublishResult.retry(f"{type(error).__name__}: {error}")] * len(envelopes)

    published: list[uuid.UUID] = []
    retrying: list[OutboxEvent] = []
    for row, result in zip(publishable, results, strict=True):
        if result.ok:
            published.append(row[0])
        elif result.retryable:
            attempts = row[2] + 1
            retrying.append(
                OutboxEvent(
                    id=row[0],
                    attempts=attempts,
                    last_error=result.error[:2000],
                    next_attempt_at=now + timedelta(seconds=retry_delay(attempts)),
                )
            )
        else:
            _fail_row(row, result.error, now, report)
    if published:
        # One statement for the common case: every published row gets the same values.
        OutboxEvent.objects.filter(pk__in=published).update(
            status=OutboxEvent.Status.PUBLISHED, published_at=now, last_error=""
        )
        report.published += len(published)
    if retrying:
        OutboxEvent.objects.bulk_update(retrying, ["attempts", "last_error", "next_attempt_at"])
        report.retrying += len(retrying)


def _fail_row(
    row: tuple[uuid.UUID, Any, int], error: str, now: datetime, report: RelayReport
) -> None:
    """The bus refused the event for good: keep it as a dead letter an operator can replay."""
    attempts = row[2] + 1
    OutboxEvent.objects.filter(pk=row[0]).update(
        status=OutboxEvent.Status.FAILED, attempts=attempts, last_error=error[:2000]
    )
    record_dead_letter(
        subscription_name=DeadLetter.PUBLISH,
        envelope=row[1] if isinstance(row[1], dict) else None,
        raw_message="" if isinstance(row[1], dict) else repr(row[1]),
        error=error,
        attempts=attempts,
        event_id=str(row[0]),
    )
    report.dead += 1


def sweep_outbox(*, max_batches: int = 50) -> RelayReport:
    """Publish everything that is due, batch after batch (the periodic safety net).

    Stops at the first batch that got nothing through: when the bus is down, one batch
    learns it and the rest wait for the next sweep instead of each timing out in turn.
    """
    total = RelayReport()
    for _ in range(max_batches):
        report = relay_outbox()
        total.add(report)
        if report.published == 0:
            break
    return total
