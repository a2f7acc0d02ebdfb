"""Catch-up for a new consumer: the past events the outbox keeps, delivered to ONE
subscription through the delivery path every transport uses (:func:`deliver_batch`).

In process, not through the bus: publishing history again would reach every subscription
whose pattern matches (each would only find duplicates, but would be sent them all), and
neither SQS standard queues nor a pool of Celery workers keep order. Delivered here, only
the chosen subscription sees the events, a cart's events arrive in their sequence order and
everything else in the order it was accepted, and the processed-event records that make
redelivery a no-op make a second backfill (or one that overlaps the live stream) a no-op too.
So it works the same whichever backend is configured; on AWS it needs what the consumer
process needs (the database, and the AWS calls the handler makes), not the queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from eventbus.delivery import Message, Result, deliver_batch
from eventbus.envelope import Envelope
from eventbus.history import history_count, history_envelopes, history_horizon
from eventbus.models import ProcessedEvent
from eventbus.subscriptions import Subscription, get_subscription

DEFAULT_BATCH_SIZE = 100


@dataclass
class BackfillReport:
    """What a backfill did (or, in a dry run, would do) with the events of its window."""

    subscription: str
    since: datetime
    until: datetime
    dry_run: bool = False
    total: int = 0  # events in the window (of the chosen detail-types)
    read: int = 0
    skipped: int = 0  # the subscription's pattern does not match them
    delivered: int = 0  # handled now (dry run: would be)
    duplicates: int = 0  # the subscription had handled them already
    dead_letters: int = 0
    retries: int = 0  # failed attempts that were tried again

    @property
    def matched(self) -> int:
        return self.read - self.skipped

    def summary(self) -> str:
        verb = "would deliver" if self.dry_run else "delivered"
        return (
            f"{self.subscription}: {self.read} event(s) from "
            f"{self.since.isoformat(timespec='seconds')} to "
            f"{self.until.isoformat(timespec='seconds')}: {verb} {self.delivered}, "
            f"{self.duplicates} duplicate(s) (handled before), {self.dead_letters} dead "
            "letter(s), "
            f"{self.skipped} skipped (the pattern does not match)"
        )


Progress = Callable[[BackfillReport], None]


def backfill_subscription(
    *,
    subscription_name: str,
    since: datetime | None = None,
    until: datetime | None = None,
    detail_types: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BackfillReport:
    """Deliver the history from ``since`` (default: the retention horizon, the oldest
    moment the outbox still has whole) to ``until`` (default: now) to one subscription.

    Events go in batches of ``batch_size`` (a batch handler gets each as one call). A
    failure the policy retries is retried (after its backoff) before the next batch, so a
    cart's later events do not overtake it; one it gives up on is a dead letter, as on
    any transport. ``progress`` is called with the report as it goes (before the first
    batch, after each, and at the end). Raises LookupError for an unknown subscription.
    """
    subscription = get_subscription(subscription_name)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    until = until or timezone.now()
    since = since or history_horizon(now=until)
    if since >= until:
        raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    report = BackfillReport(subscription.name, since, until, dry_run=dry_run)
    report.total = history_count(detail_types=detail_types, since=since, until=until)
    if progress:
        progress(report)
    history = history_envelopes(detail_types=detail_types, since=since, until=until)
    for batch in _matching_batches(subscription, history, batch_size, report):
        if dry_run:
            _count_planned(subscription.name, batch, report)
        else:
            _deliver(subscription.name, batch, report, sleep)
        if progress:
            progress(report)
    if progress:
        progress(report)  # with the skipped events after the last batch
    return report


def _matching_batches(
    subscription: Subscription,
    history: Iterator[Envelope],
    batch_size: int,
    report: BackfillReport,
) -> Iterator[list[Envelope]]:
    batch: list[Envelope] = []
    for envelope in history:
        report.read += 1
        if not subscription.matches(envelope.to_dict()):
            report.skipped += 1
            continue
        batch.append(envelope)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _deliver(
    subscription_name: str,
    batch: list[Envelope],
    report: BackfillReport,
    sleep: Callable[[float], None],
) -> None:
    pending: list[Message] = [(envelope, 1) for envelope in batch]
    while pending:
        outcomes = deliver_batch(subscription_name, pending)
        retry: list[Message] = []
        delay = 0.0
        for (envelope, attempt), outcome in zip(pending, outcomes, strict=True):
            if outcome.result is Result.HANDLED:
                report.delivered += 1
            elif outcome.result is Result.DUPLICATE:
                report.duplicates += 1
            elif outcome.result is Result.DEAD_LETTER:
                report.dead_letters += 1
            else:
                report.retries += 1
                retry.append((envelope, attempt + 1))
                delay = max(delay, outcome.retry_after)
        if retry:
            sleep(delay)
        pending = retry


def _count_planned(subscription_name: str, batch: list[Envelope], report: BackfillReport) -> None:
    handled = set(
        ProcessedEvent.objects.filter(
            subscription=subscription_name, event_id__in=[envelope.id for envelope in batch]
        ).values_list("event_id", flat=True)
    )
    report.duplicates += len(handled)
    report.delivered += len(batch) - len(handled)
