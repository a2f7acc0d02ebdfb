import statistics

import pytest
from django.contrib.auth import get_user_model

from eventbus.conversion import to_envelope
from eventbus.delivery import dispatch
from eventbus.failures import PermanentFailure, max_attempts, retry_delay
from eventbus.models import DeadLetter, ProcessedEvent
from eventbus.replay import replay_dead_letter
from eventbus.tasks import deliver
from eventbus.testing import RecordingHandler, temporary_subscription
from tests.conftest import MEMORY_BUS
from tests.eventbus.sample_events import SHIPPING, ParcelShipped

pytestmark = pytest.mark.django_db


def shipped_envelope():
    return to_envelope(ParcelShipped(parcel_id="P1", weight_grams=250))


def test_the_same_envelope_dispatched_twice_runs_the_handler_once():
    envelope = shipped_envelope()
    with temporary_subscription(name="shipping-log", pattern=SHIPPING) as subscription:
        assert dispatch("shipping-log", envelope) is True
        assert dispatch("shipping-log", envelope.to_dict()) is False
        assert subscription.handler.event_ids == [envelope.id]
    assert ProcessedEvent.objects.filter(event_id=envelope.id).count() == 1


def test_each_subscription_processes_the_event_once_on_its_own():
    envelope = shipped_envelope()
    with (
        temporary_subscription(name="shipping-a", pattern=SHIPPING) as first,
        temporary_subscription(name="shipping-b", pattern=SHIPPING) as second,
    ):
        for _ in range(2):
            dispatch("shipping-a", envelope)
            dispatch("shipping-b", envelope)
        assert first.handler.event_ids == second.handler.event_ids == [envelope.id]


def test_a_failing_handler_leaves_no_effect_and_no_processed_mark():
    envelope = shipped_envelope()
    user_model = get_user_model()

    def effect_then_fail(event, envelope):
        user_model.objects.create(username=f"effect-{event.parcel_id}")
        raise RuntimeError("downstream failed")

    with temporary_subscription(name="shipping-fail", pattern=SHIPPING, handler=effect_then_fail):
        with pytest.raises(RuntimeError):
            dispatch("shipping-fail", envelope)
        assert not user_model.objects.filter(username="effect-P1").exists()
        assert not ProcessedEvent.objects.filter(event_id=envelope.id).exists()


def test_retry_delay_doubles_and_is_jittered_within_bounds(settings):
    settings.EVENT_BUS = {**MEMORY_BUS, "RETRY_BASE_SECONDS": 2.0, "RETRY_MAX_SECONDS": 60.0}
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 60), (30, 60)]:
        samples = [retry_delay(attempt) for _ in range(300)]
        assert all(ceiling / 2 <= value <= ceiling for value in samples), attempt
        assert len(set(samples)) > 250  # jittered, not one fixed value
        assert statistics.pstdev(samples) > ceiling / 20
    # Growing: the shortest draw of an attempt is never below the longest of the one before.
    assert min(retry_delay(3) for _ in range(200)) >= max(retry_delay(2) for _ in range(200))


def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered_then_replayed(bus):
    envelope = shipped_envelope()
    handler = RecordingHandler(fail_with=RuntimeError("warehouse API down"))
    with temporary_subscription(name="shipping-flaky", pattern=SHIPPING, handler=handler):
        # Eager apply runs the retries inline (no countdown wait).
        deliver.apply(args=("shipping-flaky", envelope.to_dict()))
        assert len(handler.calls) == max_attempts()
        letter = DeadLetter.objects.get()
        assert letter.subscription == "shipping-flaky"
        assert letter.event_id == envelope.id
        assert letter.detail_type == "ParcelShipped"
        assert letter.attempts == max_attempts()
        assert letter.error == "RuntimeError: warehouse API down"
        assert "warehouse API down" in letter.traceback and "Traceback" in letter.traceback
        assert letter.envelope == envelope.to_dict()
        assert not ProcessedEvent.objects.exists()

        handler.fail_with = None  # the fault is fixed
        replay_dead_letter(letter)
        replay_dead_letter(letter)  # a second replay is a no-op
        assert len(handler.calls) == max_attempts() + 1
        assert ProcessedEvent.objects.filter(subscription="shipping-flaky").count() == 1
        letter.refresh_from_db()
        assert letter.replayed_at is not None


def test_a_permanent_failure_is_dead_lettered_without_retries():
    handler = RecordingHandler(fail_with=PermanentFailure("parcel weighs nothing"))
    with temporary_subscription(name="shipping-perm", pattern=SHIPPING, handler=handler):
        deliver.apply(args=("shipping-perm", shipped_envelope().to_dict()))
    assert len(handler.calls) == 1
    assert DeadLetter.objects.get().attempts == 1


def test_an_unparseable_message_is_dead_lettered_with_its_body():
    deliver.apply(args=("shipping-any", ["not", "an", "envelope"]))
    letter = DeadLetter.objects.get()
    assert letter.envelope is None
    assert letter.raw_message == '["not", "an", "envelope"]'
    assert "MalformedEnvelope" in letter.error
    with pytest.raises(Exception, match="no envelope"):
        replay_dead_letter(letter)


def test_replaying_for_a_subscription_that_no_longer_exists_fails_loudly():
    letter = DeadLetter.objects.create(
        subscription="gone-away",
        event_id="x",
        envelope=shipped_envelope().to_dict(),
        error="boom",
    )
    with pytest.raises(LookupError, match="gone-away"):
        replay_dead_letter(letter)
    letter.refresh_from_db()
    assert letter.replayed_at is None
