"""The outbox relay: hands pending outbox rows to the bus backend, once each.

It runs right after the commit that recorded the events (in the committing thread, or on a
background thread per process) and as a periodic sweep that catches whatever is left. Rows
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

from eventbus.backend import PublishResult, get_backend
from eventbus.envelope import Envelope, MalformedEnvelope
from eventbus.failures import record_dead_letter, retry_delay
from eventbus.metrics import relay_observed
from eventbus.models import DeadLetter, OutboxEvent
from eventbus.tracing import relay_results_observed, relay_span

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class _ClaimedRow:
    """The columns of a claimed outbox row the relay needs (no model instance: this is the
    hot path of every event)."""

    id: uuid.UUID
    envelope: Any
    attempts: int


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
        rows = [
            _ClaimedRow(*values)
            for values in pending.select_for_update(skip_locked=True)
            .order_by("next_attempt_at")
            .values_list("id", "envelope", "attempts")[:batch_size]
        ]
        if not rows:
            return report
        _publish_rows(rows, report)
    relay_observed(
        backend=get_backend().label,
        published=report.published,
        retrying=report.retrying,
        rejected=report.dead,
    )
    if report.claimed:
        logger.info("relayed outbox: %s", report)
    return report


def _publish_rows(rows: Sequence[_ClaimedRow], report: RelayReport) -> None:
    now = timezone.now()
    publishable: list[_ClaimedRow] = []
    envelopes: list[Envelope] = []
    for row in rows:
        try:
            envelopes.append(Envelope.from_dict(row.envelope))
        except MalformedEnvelope as error:
            # A row no bus can carry must not block the rows behind it.
            _fail_row(row, str(error), report)
        else:
            publishable.append(row)
    if not publishable:
        return
    with relay_span(envelopes, backend=get_backend().label):
        results = _published(envelopes)

    published: list[uuid.UUID] = []
    retrying: list[OutboxEvent] = []
    for row, result in zip(publishable, results, strict=True):
        if result.ok:
            published.append(row.id)
        elif result.retryable:
            retrying.append(_retry_row(row, result.error, now))
        else:
            _fail_row(row, result.error, report)
    if published:
        # One statement for the common case: every published row gets the same values.
        OutboxEvent.objects.filter(pk__in=published).update(
            status=OutboxEvent.Status.PUBLISHED, published_at=now, last_error=""
        )
        report.published += len(published)
    if retrying:
        OutboxEvent.objects.bulk_update(retrying, ["attempts", "last_error", "next_attempt_at"])
        report.retrying += len(retrying)


def _published(envelopes: list[Envelope]) -> list[PublishResult]:
    """The backend's result for each of ``envelopes``; every one a retry when it failed."""
    try:
        results = get_backend().publish(envelopes)
        if len(results) != len(envelopes):
            raise RuntimeError(f"backend answered {len(results)} results for {len(envelopes)}")
    except Exception as error:  # the whole bus is unreachable: every row waits
        logger.warning("bus unreachable: %s", error)
        results = [PublishResult.retry(f"{type(error).__name__}: {error}")] * len(envelopes)
    relay_results_observed(results)
    return results


def _retry_row(row: _ClaimedRow, error: str, now: datetime) -> OutboxEvent:
    attempts = row.attempts + 1
    return OutboxEvent(
        id=row.id,
        attempts=attempts,
        last_error=error[:2000],
        next_attempt_at=now + timedelta(seconds=retry_delay(attempts)),
    )


def _fail_row(row: _ClaimedRow, error: str, report: RelayReport) -> None:
    """The bus refused the event for good: keep it as a dead letter an operator can replay."""
    attempts = row.attempts + 1
    OutboxEvent.objects.filter(pk=row.id).update(
        status=OutboxEvent.Status.FAILED, attempts=attempts, last_error=error[:2000]
    )
    is_envelope = isinstance(row.envelope, dict)
    record_dead_letter(
        subscription_name=DeadLetter.PUBLISH,
        envelope=row.envelope if is_envelope else None,
        raw_message="" if is_envelope else repr(row.envelope),
        error=error,
        attempts=attempts,
        event_id=str(row.id),
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


def relay_ids(ids: list[str]) -> None:
    """Relay the rows ``ids`` right after their commit, a batch at a time; a failure leaves
    them to the sweep."""
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

    def _running_here(self) -> bool:
        # A forked child (Celery prefork, gunicorn) inherits the object but not the thread.
        return (
            self._thread is not None and self._thread.is_alive() and self._owner_pid == os.getpid()
        )

    def _ensure_running(self) -> None:
        if self._running_here():
            return
        with self._lock:
            if not self._running_here():
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
            relay_ids(ids)
            close_old_connections()
            if self._queue.empty():
                self.idle.set()


background_relay = BackgroundRelay()
