from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from eventbus.backend import PublishResult, get_backend
from eventbus.models import DeadLetter, OutboxEvent
from eventbus.outbox import publish
from eventbus.relay import relay_outbox, sweep_outbox
from tests.conftest import MEMORY_BUS
from tests.eventbus.sample_events import ParcelShipped

pytestmark = pytest.mark.django_db


def shipped(number: int = 1) -> ParcelShipped:
    return ParcelShipped(parcel_id=f"P{number}", weight_grams=100 + number)


def test_publish_writes_only_an_outbox_row_and_the_relay_publishes_after_commit(
    bus, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            envelope = publish(shipped())
            row = OutboxEvent.objects.get(pk=envelope.id)
            assert row.status == OutboxEvent.Status.PENDING
            assert row.envelope == envelope.to_dict()
            assert bus.published == []
        assert bus.published == []  # committed, the callback has not run yet
    assert [item.id for item in bus.published] == [envelope.id]
    row.refresh_from_db()
    assert row.status == OutboxEvent.Status.PUBLISHED
    assert row.published_at is not None


def test_a_rolled_back_transaction_publishes_nothing(bus, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        publish(shipped())
        raise RuntimeError("the request failed")
    assert not OutboxEvent.objects.exists()
    assert bus.published == []
    assert sweep_outbox().published == 0


def test_one_transaction_with_more_events_than_a_batch_publishes_them_all_at_commit(
    bus, settings, django_capture_on_commit_callbacks
):
    settings.EVENT_BUS = {**MEMORY_BUS, "RELAY_BATCH_SIZE": 3}
    backend = get_backend()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        ids = [publish(shipped(number)).id for number in range(8)]
    assert sorted(item.id for item in backend.published) == sorted(ids)
    assert not OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).exists()


def test_a_bus_outage_leaves_rows_pending_with_growing_backoff(settings, monkeypatch):
    settings.EVENT_BUS = {**MEMORY_BUS, "RETRY_BASE_SECONDS": 10, "RETRY_MAX_SECONDS": 10_000}
    backend = get_backend()

    def unreachable(envelopes):
        raise ConnectionError("bus is down")

    monkeypatch.setattr(backend, "publish", unreachable)
    ids = [publish(shipped(number)).id for number in range(3)]
    delays = []
    for attempt in (1, 2, 3):
        before = timezone.now()
        report = relay_outbox(ids=ids)  # claims them whether due or not
        assert report.retrying == 3 and report.published == 0
        rows = list(OutboxEvent.objects.filter(pk__in=ids))
        assert {row.status for row in rows} == {OutboxEvent.Status.PENDING}
        assert {row.attempts for row in rows} == {attempt}
        assert all("bus is down" in row.last_error for row in rows)
        delays.append(min((row.next_attempt_at - before).total_seconds() for row in rows))
    # Base 10 s doubled per attempt, jittered within [ceiling/2, ceiling].
    assert 5 <= delays[0] <= 10 + 1
    assert delays[0] < delays[1] < delays[2]
    assert delays[2] >= 20
    # Not due yet: the sweep leaves them alone; nothing was dropped.
    assert sweep_outbox().claimed == 0
    monkeypatch.undo()
    OutboxEvent.objects.update(next_attempt_at=timezone.now())
    assert sweep_outbox().published == 3
    assert sorted(item.id for item in backend.published) == sorted(ids)


def test_the_sweep_stops_at_the_first_batch_that_got_nothing_through(settings, monkeypatch):
    settings.EVENT_BUS = {**MEMORY_BUS, "RELAY_BATCH_SIZE": 2}
    backend = get_backend()
    calls = []

    def unreachable(envelopes):
        calls.append(len(envelopes))
        raise ConnectionError("bus is down")

    monkeypatch.setattr(backend, "publish", unreachable)
    for number in range(6):
        publish(shipped(number))
    report = sweep_outbox()
    assert calls == [2]
    assert report.retrying == 2
    assert OutboxEvent.objects.filter(attempts=0).count() == 4


def test_an_event_the_bus_refuses_becomes_a_dead_letter_and_replays(bus, monkeypatch):
    monkeypatch.setattr(
        bus, "publish", lambda envelopes: [PublishResult.reject("too large")] * len(envelopes)
    )
    envelope = publish(shipped())
    report = sweep_outbox()
    assert report.dead == 1
    row = OutboxEvent.objects.get(pk=envelope.id)
    assert row.status == OutboxEvent.Status.FAILED
    letter = DeadLetter.objects.get()
    assert letter.subscription == DeadLetter.PUBLISH
    assert letter.event_id == envelope.id
    assert letter.error == "too large"

    monkeypatch.undo()
    from eventbus.replay import replay_dead_letter

    replay_dead_letter(letter)
    row.refresh_from_db()
    assert row.status == OutboxEvent.Status.PENDING and row.attempts == 0
    assert sweep_outbox().published == 1
    assert [item.id for item in bus.published] == [envelope.id]
    letter.refresh_from_db()
    assert letter.replayed_at is not None


def test_a_row_that_is_not_an_envelope_does_not_block_the_others(bus):
    good = publish(shipped(1))
    poison = publish(shipped(2))
    OutboxEvent.objects.filter(pk=poison.id).update(envelope={"garbage": True})
    # The poison row sorts first.
    OutboxEvent.objects.filter(pk=poison.id).update(
        next_attempt_at=timezone.now() - timedelta(minutes=1)
    )
    report = sweep_outbox()
    assert report.published == 1 and report.dead == 1
    assert [item.id for item in bus.published] == [good.id]
    assert OutboxEvent.objects.get(pk=poison.id).status == OutboxEvent.Status.FAILED
    letter = DeadLetter.objects.get()
    assert letter.event_id == poison.id
    assert "lacks" in letter.error


def test_only_the_failed_entries_of_a_batch_are_retried(bus, monkeypatch):
    envelopes = [publish(shipped(number)) for number in range(3)]
    real_publish = bus.publish

    def second_fails(batch):
        results = real_publish(batch)
        return [
            PublishResult.retry("throttled") if item.id == envelopes[1].id else result
            for item, result in zip(batch, results, strict=True)
        ]

    monkeypatch.setattr(bus, "publish", second_fails)
    assert relay_outbox().published == 2
    pending = OutboxEvent.objects.get(status=OutboxEvent.Status.PENDING)
    assert str(pending.pk) == envelopes[1].id
    assert pending.attempts == 1
