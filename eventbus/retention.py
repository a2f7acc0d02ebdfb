"""Retention: published outbox rows and processed-event records are kept for a while, then
pruned, so the tables the relay and every delivery touch stay small."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from eventbus.models import OutboxEvent, ProcessedEvent

logger = logging.getLogger(__name__)


@dataclass
class PruneReport:
    outbox_events: int = 0
    processed_events: int = 0


def prune_bus_records(*, older_than: timedelta | None = None) -> PruneReport:
    """Delete published outbox rows and processed-event records older than the retention.

    A processed-event record must outlive any redelivery of its event (SQS keeps a message
    at most 14 days, the default retention), or a late duplicate would run again. Pending
    and failed outbox rows are never pruned: they still need a person or the relay.
    """
    cutoff = timezone.now() - (older_than or settings.EVENT_BUS["RETENTION"])
    outbox, _ = OutboxEvent.objects.filter(
        status=OutboxEvent.Status.PUBLISHED, published_at__lt=cutoff
    ).delete()
    processed, _ = ProcessedEvent.objects.filter(processed_at__lt=cutoff).delete()
    report = PruneReport(outbox_events=outbox, processed_events=processed)
    if outbox or processed:
        logger.info("pruned bus records older than %s: %s", cutoff.isoformat(), report)
    return report
