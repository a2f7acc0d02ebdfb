from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from eventbus.conversion import to_envelope
from eventbus.models import DeadLetter, OutboxEvent, ScheduledEvent
from eventbus.outbox import publish
from eventbus.scheduling import schedule
from eventbus.testing import RecordingHandler, temporary_subscription
from tests.eventbus.sample_events import SHIPPING, ParcelShipped


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def section(output: str, detail_type: str) -> str:
    """The block that list_events prints for one type."""
    start = output.index(f"{detail_type}\n")
    end = output.find("\n\n", start)
    return output[start:end]


def test_list_events_prints_source_fields_and_subscribers():
    heavy = {**SHIPPING, "detail": {"weight_grams": [{"numeric": [">", 1000]}]}}
    with (
        temporary_subscription(name="parcel-log", pattern=SHIPPING),
        temporary_subscription(name="heavy-parcels", pattern=heavy),
        temporary_subscription(
            name="other-shipping", pattern={"source": ["test.shipping"], "detail-type": ["Nope"]}
        ),
        temporary_subscription(
            name="either-or",
            pattern={"$or": [{"detail-type": ["ParcelShipped"]}, {"source": ["elsewhere"]}]},
        ),
    ):
        output = run("list_events")
    parcel = section(output, "ParcelShipped")
    assert "source:      test.shipping" in parcel
    assert "tests.eventbus.sample_events.ParcelShipped" in parcel
    lines = parcel.splitlines()
    assert any(line.split() == ["parcel_id", "string", "required"] for line in lines)
    assert any(line.split() == ["weight_grams", "integer", "required"] for line in lines)
    assert any(line.split() == ["correlation_id", "string|null", "optional"] for line in lines)
    assert "subscribers: either-or, heavy-parcels*, parcel-log" in parcel
    cart = section(output, "ItemAddedToCart")
    assert "cart-projection" in cart
    assert "parcel-log" not in cart and "either-or" not in cart
    assert "Subscriptions matching no registered type: other-shipping" in output
    assert "tested on the type's source and detail-type only" in output


@pytest.mark.django_db
def test_replay_dead_letters_needs_a_selection():
    with pytest.raises(CommandError, match="--id N, --subscription NAME or --all"):
        run("replay_dead_letters")
    with pytest.raises(CommandError, match="no dead letter with id 999"):
        run("replay_dead_letters", "--id", "999")


def letter_for(subscription: str, number: int) -> DeadLetter:
    envelope = to_envelope(ParcelShipped(parcel_id=f"P{number}", weight_grams=10))
    return DeadLetter.objects.create(
        subscription=subscription,
        event_id=envelope.id,
        detail_type=envelope.detail_type,
        envelope=envelope.to_dict(),
        error="RuntimeError: boom",
        attempts=5,
    )


@pytest.mark.django_db
def test_replay_dead_letters_dry_run_lists_without_replaying():
    letter = letter_for("parcel-a", 1)
    output = run("replay_dead_letters", "--all", "--dry-run")
    assert f"would replay #{letter.pk} parcel-a ParcelShipped {letter.event_id}" in output
    assert "would replay 1 dead letter(s), 0 failed" in output
    letter.refresh_from_db()
    assert letter.replayed_at is None


@pytest.mark.django_db
def test_replay_dead_letters_by_subscription_and_by_id(bus):
    handler_a, handler_b = RecordingHandler(), RecordingHandler()
    with (
        temporary_subscription(name="parcel-a", pattern=SHIPPING, handler=handler_a),
        temporary_subscription(name="parcel-b", pattern=SHIPPING, handler=handler_b),
    ):
        first_a, second_a, only_b = (
            letter_for("parcel-a", 1),
            letter_for("parcel-a", 2),
            letter_for("parcel-b", 3),
        )
        output = run("replay_dead_letters", "--subscription", "parcel-a")
        assert f"replayed #{first_a.pk} parcel-a" in output
        assert f"replayed #{second_a.pk} parcel-a" in output
        assert "replayed 2 dead letter(s), 0 failed" in output
        assert sorted(handler_a.event_ids) == sorted([first_a.event_id, second_a.event_id])
        assert handler_b.calls == []
        # --all now finds only the letter not replayed yet.
        output = run("replay_dead_letters", "--all")
        assert "replayed 1 dead letter(s)" in output
        assert handler_b.event_ids == [only_b.event_id]
        # --id replays again on request; delivery is idempotent, so no second effect.
        output = run("replay_dead_letters", "--id", str(first_a.pk))
        assert f"replayed #{first_a.pk}" in output
        assert len(handler_a.calls) == 2


@pytest.mark.django_db
def test_replay_dead_letters_reports_failures_and_exits_non_zero():
    letter = letter_for("no-such-subscription", 1)
    with pytest.raises(CommandError, match="1 dead letter"):
        run("replay_dead_letters", "--id", str(letter.pk))
    letter.refresh_from_db()
    assert letter.replayed_at is None


@pytest.mark.django_db
def test_relay_events_once_publishes_the_outbox_and_due_schedules(bus):
    publish(ParcelShipped(parcel_id="P1", weight_grams=10))
    publish(ParcelShipped(parcel_id="P2", weight_grams=10))
    schedule(
        ParcelShipped(parcel_id="P3", weight_grams=10),
        at=timezone.now() - timezone.timedelta(seconds=1),
        key="due-now",
    )
    output = run("relay_events", "--once")
    assert "scheduled events due: 1; outbox: 3 published, 0 retrying, 0 dead" in output
    assert sorted(item.detail["parcel_id"] for item in bus.published) == ["P1", "P2", "P3"]
    assert not OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).exists()
    assert not ScheduledEvent.objects.exists()
    assert "outbox: 0 published" in run("relay_events", "--once")


def test_list_events_shows_versions_and_readers_of_an_older_one():
    pattern = {"source": ["shop.notifications"], "detail-type": ["CartReminderSent"]}
    with (
        temporary_subscription(name="crm-v1", pattern=pattern, versions={"CartReminderSent": 1}),
        temporary_subscription(name="crm-latest", pattern=pattern),
    ):
        output = run("list_events")
    sent = section(output, "CartReminderSent")
    assert "declared in: notifications.events.CartReminderSent" in sent
    assert "versions:    v1, v2 (fields of v2)" in sent
    assert any(
        line.split() == ["channel_message_id", "string", "required"] for line in sent.splitlines()
    )
    assert "subscribers: crm-latest, crm-v1 (v1)" in sent
    assert "manage.py export_asyncapi, GET /api/events/" in output
