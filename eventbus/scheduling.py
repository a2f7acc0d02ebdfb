"""Scheduled events: publish an event later (EventBridge Scheduler on AWS, rows locally).

A schedule is named by a caller-chosen ``key``; scheduling the same key again replaces
it, so a debounced reminder is one schedule that keeps moving, not a pile of them.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from eventbus.backend import get_backend
from eventbus.conversion import to_envelope
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.models import ScheduledEvent
from eventbus.outbox import publish_envelopes

logger = logging.getLogger(__name__)

# EventBridge Scheduler's rule for schedule names; the local backend follows it too so a
# key that works locally works on AWS.
_KEY = re.compile(r"^[0-9a-zA-Z_.-]{1,64}$")


class InvalidScheduleKey(ValueError):
    pass


def _check_key(key: str) -> None:
    if not _KEY.match(key):
        raise InvalidScheduleKey(
            f"schedule key {key!r} must be 1-64 characters of letters, digits, '-', '_' or '.'"
        )


def schedule(event: DomainEvent, *, at: datetime, key: str) -> str:
    """Publish ``event`` at ``at`` (to the second); returns the backend's schedule name."""
    _check_key(key)
    if timezone.is_naive(at):
        raise ValueError("schedule times must be timezone-aware")
    return get_backend().schedule(to_envelope(event), at=at.astimezone(UTC), key=key)


def cancel_schedule(key: str) -> None:
    """Cancel schedule ``key``; cancelling one that fired or never existed is fine."""
    _check_key(key)
    get_backend().cancel_schedule(key)


def publish_due_scheduled_events(*, limit: int = 500, now: datetime | None = None) -> int:
    """Publish the local schedules that are due through the outbox, and drop them.

    The due_at index makes this cost follow the number due, not the number stored.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        due = list(
            ScheduledEvent.objects.filter(due_at__lte=moment)
            .order_by("due_at")
            .select_for_update(skip_locked=True)[:limit]
        )
        if due:
            # Like Scheduler, each firing is a new event occurrence with its own id.
            publish_envelopes(
                [Envelope.from_dict(row.envelope).with_new_identity(now=moment) for row in due]
            )
            ScheduledEvent.objects.filter(pk__in=[row.pk for row in due]).delete()
    if due:
        logger.info("published %d scheduled events", len(due))
    return len(due)
