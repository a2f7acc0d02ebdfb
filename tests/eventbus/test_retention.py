import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from eventbus.models import OutboxEvent, ProcessedEvent
from eventbus.retention import prune_bus_records

pytestmark = pytest.mark.django_db


def outbox_row(number, status, published_days_ago):
    moment = timezone.now() - timedelta(days=published_days_ago)
    return OutboxEvent.objects.create(
        id=uuid.UUID(f"00000000-0000-4000-8000-{number:012d}"),
        source="shop.cart",
        detail_type="CartItemRemoved",
        envelope={},
        status=status,
        published_at=moment if status == OutboxEvent.Status.PUBLISHED else None,
        created_at=moment,
    )


def test_prunes_old_published_rows_and_processed_records_only(settings):
    settings.EVENT_BUS = {**settings.EVENT_BUS, "RETENTION": timedelta(days=14)}
    old_published = outbox_row(1, OutboxEvent.Status.PUBLISHED, 20)
    recent_published = outbox_row(2, OutboxEvent.Status.PUBLISHED, 2)
    old_pending = outbox_row(3, OutboxEvent.Status.PENDING, 20)
    old_failed = outbox_row(4, OutboxEvent.Status.FAILED, 20)
    ProcessedEvent.objects.create(
        subscription="cart-projection",
        event_id="old",
        processed_at=timezone.now() - timedelta(days=15),
    )
    ProcessedEvent.objects.create(subscription="cart-projection", event_id="recent")

    report = prune_bus_records()

    assert (report.outbox_events, report.processed_events) == (1, 1)
    assert not OutboxEvent.objects.filter(pk=old_published.pk).exists()
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {
        recent_published.pk,
        old_pending.pk,
        old_failed.pk,
    }
    assert list(ProcessedEvent.objects.values_list("event_id", flat=True)) == ["recent"]
