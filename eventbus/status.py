"""The bus's state as the database tells it: outbox backlog and lag, dead letters, throughput.

One selector serves both the admin's "Event bus" status page and the Prometheus scrape
(``collect_bus_metrics``, registered with ``core.metrics`` by the app), so the two never
disagree. Every figure is one indexed aggregate query: cheap enough for every scrape.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from eventbus.models import DeadLetter, OutboxEvent
from eventbus.subscriptions import all_subscriptions

THROUGHPUT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class BusStatus:
    """A snapshot of the bus's tables at ``at``."""

    at: datetime
    pending: int
    oldest_pending_at: datetime | None
    # Not replayed, by subscription; every subscription is there, with 0 when it has none.
    dead_letters: dict[str, int] = field(default_factory=dict)
    published_last_hour: int = 0
    published_last_hour_by_type: dict[str, int] = field(default_factory=dict)
    average_publish_delay: timedelta | None = None  # created -> published, last hour
    longest_publish_delay: timedelta | None = None

    @property
    def lag(self) -> timedelta:
        """How long the oldest pending event has waited: zero when nothing waits."""
        if self.oldest_pending_at is None:
            return timedelta()
        return max(self.at - self.oldest_pending_at, timedelta())

    @property
    def dead_letters_total(self) -> int:
        return sum(self.dead_letters.values())

    @property
    def published_per_minute(self) -> float:
        return self.published_last_hour / (THROUGHPUT_WINDOW.total_seconds() / 60)


def bus_status_get(*, now: datetime | None = None) -> BusStatus:
    """The bus's figures now (or at ``now``, for tests)."""
    now = now or timezone.now()
    pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).aggregate(
        count=Count("pk"), oldest=Min("created_at")
    )
    # Every subscription is listed, with 0 when it has none: a series that exists only once
    # something failed cannot be alerted on with a rate, nor shown as "all clear".
    dead_letters = {subscription.name: 0 for subscription in all_subscriptions()}
    dead_letters[DeadLetter.PUBLISH] = 0
    dead_letters |= dict(
        DeadLetter.objects.filter(replayed_at__isnull=True)
        .values_list("subscription")
        .annotate(count=Count("pk"))
        .order_by("subscription")
    )
    recent = OutboxEvent.objects.filter(
        status=OutboxEvent.Status.PUBLISHED, published_at__gt=now - THROUGHPUT_WINDOW
    )
    delay = ExpressionWrapper(F("published_at") - F("created_at"), output_field=DurationField())
    published = recent.aggregate(count=Count("pk"), average=Avg(delay), longest=Max(delay))
    by_type = dict(
        recent.values_list("detail_type").annotate(count=Count("pk")).order_by("detail_type")
    )
    return BusStatus(
        at=now,
        pending=pending["count"],
        oldest_pending_at=pending["oldest"],
        dead_letters=dead_letters,
        published_last_hour=published["count"],
        published_last_hour_by_type=by_type,
        average_publish_delay=published["average"],
        longest_publish_delay=published["longest"],
    )


def collect_bus_metrics() -> Iterator[Metric]:
    """Prometheus gauges of ``bus_status_get()``, read at scrape time."""
    status = bus_status_get()
    yield GaugeMetricFamily(
        "eventbus_outbox_pending", "Outbox events not yet published.", value=status.pending
    )
    yield GaugeMetricFamily(
        "eventbus_outbox_oldest_pending_age_seconds",
        "How long the oldest pending outbox event has waited (0 when none waits).",
        value=status.lag.total_seconds(),
    )
    dead_letters = GaugeMetricFamily(
        "eventbus_dead_letters",
        "Dead letters not replayed, by subscription ('(publish)': the bus refused the event).",
        labels=["subscription"],
    )
    for subscription, count in sorted(status.dead_letters.items()):
        dead_letters.add_metric([subscription], count)
    yield dead_letters
