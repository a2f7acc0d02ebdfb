from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from eventbus.models import OutboxEvent, ScheduledEvent
from eventbus.scheduling import (
    InvalidScheduleKey,
    cancel_schedule,
    publish_due_scheduled_events,
    schedule,
)
from tests.eventbus.sample_events import ParcelShipped

pytestmark = pytest.mark.django_db


def parcel(number: int) -> ParcelShipped:
    return ParcelShipped(parcel_id=f"P{number}", weight_grams=100, correlation_id="req-9")


def test_due_events_are_published_and_future_ones_are_not(bus, django_capture_on_commit_callbacks):
    now = timezone.now()
    schedule(parcel(1), at=now - timedelta(seconds=1), key="due-1")
    schedule(parcel(2), at=now + timedelta(hours=1), key="future-2")
    with django_capture_on_commit_callbacks(execute=True):
        assert publish_due_scheduled_events() == 1
    assert [item.detail["parcel_id"] for item in bus.published] == ["P1"]
    assert bus.published[0].correlation_id == "req-9"
    assert list(ScheduledEvent.objects.values_list("key", flat=True)) == ["future-2"]
    assert OutboxEvent.objects.get().status == OutboxEvent.Status.PUBLISHED
    # Nothing more is due: a second run publishes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert publish_due_scheduled_events() == 0
    assert len(bus.published) == 1


def test_the_future_one_goes_out_once_its_time_comes(bus):
    schedule(parcel(3), at=timezone.now() + timedelta(hours=1), key="later-3")
    assert publish_due_scheduled_events(now=timezone.now() + timedelta(minutes=59)) == 0
    assert publish_due_scheduled_events(now=timezone.now() + timedelta(hours=1, seconds=1)) == 1
    envelope = OutboxEvent.objects.get().envelope
    assert envelope["detail"]["parcel_id"] == "P3"


def test_rescheduling_a_key_leaves_one_row_at_the_new_time():
    first = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    second = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)
    schedule(parcel(1), at=first, key="cart-reminder-1")
    schedule(parcel(2), at=second, key="cart-reminder-1")
    row = ScheduledEvent.objects.get()
    assert row.key == "cart-reminder-1"
    assert row.due_at == second
    assert row.envelope["detail"]["parcel_id"] == "P2"


def test_cancel_removes_the_schedule_and_cancelling_again_is_fine():
    schedule(parcel(1), at=timezone.now() + timedelta(hours=1), key="cancel-me")
    schedule(parcel(2), at=timezone.now() + timedelta(hours=1), key="keep-me")
    cancel_schedule("cancel-me")
    cancel_schedule("cancel-me")
    assert list(ScheduledEvent.objects.values_list("key", flat=True)) == ["keep-me"]
    assert publish_due_scheduled_events(now=timezone.now() + timedelta(days=1)) == 1
    assert OutboxEvent.objects.get().envelope["detail"]["parcel_id"] == "P2"


@pytest.mark.parametrize("key", ["", "has space", "x" * 65, "slash/key"])
def test_keys_that_eventbridge_scheduler_would_refuse_are_rejected(key):
    with pytest.raises(InvalidScheduleKey):
        schedule(parcel(1), at=timezone.now(), key=key)


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule(parcel(1), at=datetime(2030, 1, 1, 9, 0), key="naive")


def test_each_firing_is_a_new_event_occurrence():
    schedule(parcel(1), at=timezone.now() - timedelta(seconds=1), key="fire")
    scheduled_id = ScheduledEvent.objects.get().envelope["id"]
    publish_due_scheduled_events()
    assert OutboxEvent.objects.get().envelope["id"] != scheduled_id
