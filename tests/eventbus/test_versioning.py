"""Event versions on a real event: CartReminderSent v2 is what producers emit; a consumer
written for v1 still gets v1; stored v1 events reach v2 consumers upcast."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from django.db import transaction

from eventbus import events, versioning
from eventbus.conversion import from_envelope, to_envelope
from eventbus.delivery import dispatch
from eventbus.envelope import Envelope, MalformedEnvelope
from eventbus.events import DomainEvent, get_event_type
from eventbus.models import DeadLetter, OutboxEvent
from eventbus.outbox import publish
from eventbus.relay import sweep_outbox
from eventbus.testing import RecordingHandler, temporary_subscription
from eventbus.versioning import downcaster, upcaster
from notifications.events import CartReminderSent, CartReminderSentV1

pytestmark = pytest.mark.django_db

CART_ID = "2f1d6a53-61a3-4d5e-9a1c-6f3b0b7f9a10"
MESSAGE_ID = "<1764151200.7.42@shop.example>"
REMINDERS = {"source": ["shop.notifications"], "detail-type": ["CartReminderSent"]}


def sent_v2(**changes) -> CartReminderSent:
    fields = {
        "reminder_id": 7,
        "cart_id": CART_ID,
        "step": 1,
        "channel": "email",
        "channel_message_id": MESSAGE_ID,
        "sent_at": "2026-11-26T10:00:03Z",
    }
    return CartReminderSent(**{**fields, **changes})


def stored_v1_envelope(*, time: datetime) -> dict:
    """A CartReminderSent as the code before version 2 wrote it (no detail.version)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CartReminderSent",
        "source": "shop.notifications",
        "account": "000000000000",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "local",
        "resources": [],
        "detail": {
            "reminder_id": 7,
            "cart_id": CART_ID,
            "step": 1,
            "message_id": MESSAGE_ID,
            "correlation_id": "req-1",
        },
    }


def test_producers_emit_version_2():
    assert get_event_type("shop.notifications", "CartReminderSent") is CartReminderSent.event_type()
    envelope = to_envelope(sent_v2())
    assert envelope.detail["version"] == 2
    assert "message_id" not in envelope.detail
    # v1 events never carried a version and still do not: every other type is unchanged.
    assert (
        "version"
        not in to_envelope(
            CartReminderSentV1(reminder_id=7, cart_id=CART_ID, step=1, message_id=MESSAGE_ID)
        ).detail
    )


def test_a_v1_consumer_receives_v1_through_the_normal_dispatch(deliver):
    old, new = RecordingHandler(), RecordingHandler()
    with (
        temporary_subscription(
            name="crm-v1", pattern=REMINDERS, handler=old, versions={"CartReminderSent": 1}
        ),
        temporary_subscription(name="crm-v2", pattern=REMINDERS, handler=new),
    ):
        with transaction.atomic():
            published = publish(sent_v2(correlation_id="req-9"))
        assert deliver() >= 2

    [(event, envelope)] = old.calls
    assert type(event) is CartReminderSentV1
    assert event == CartReminderSentV1(
        reminder_id=7, cart_id=CART_ID, step=1, message_id=MESSAGE_ID, correlation_id="req-9"
    )
    # The envelope it sees is the v1 shape too; id and time are the event's own.
    assert envelope.id == published.id and envelope.time == published.time
    assert envelope.detail == {
        "reminder_id": 7,
        "cart_id": CART_ID,
        "step": 1,
        "message_id": MESSAGE_ID,
        "correlation_id": "req-9",
    }
    [(event, envelope)] = new.calls
    assert type(event) is CartReminderSent
    assert event.channel_message_id == MESSAGE_ID and envelope.detail["version"] == 2


def test_a_stored_v1_event_reaches_a_v2_consumer_upcast(deliver):
    """An event written before the upgrade and relayed after it (still in the outbox)."""
    moment = datetime(2026, 11, 26, 10, 0, 5, tzinfo=UTC)
    stored = stored_v1_envelope(time=moment)
    OutboxEvent.objects.create(
        id=stored["id"],
        source=stored["source"],
        detail_type=stored["detail-type"],
        envelope=stored,
        created_at=moment,
    )
    old, new = RecordingHandler(), RecordingHandler()
    with (
        temporary_subscription(name="crm-v2", pattern=REMINDERS, handler=new),
        temporary_subscription(
            name="crm-v1", pattern=REMINDERS, handler=old, versions={"CartReminderSent": 1}
        ),
    ):
        sweep_outbox()
        deliver()

    [(event, envelope)] = new.calls
    assert event == CartReminderSent(
        reminder_id=7,
        cart_id=CART_ID,
        step=1,
        channel="email",
        channel_message_id=MESSAGE_ID,
        sent_at="2026-11-26T10:00:05Z",  # when v1 was recorded, in the sending's transaction
        correlation_id="req-1",
    )
    assert envelope.id == stored["id"] and envelope.detail["version"] == 2
    # The v1 reader gets it exactly as it was stored.
    [(event, envelope)] = old.calls
    assert envelope.detail == stored["detail"]


def test_history_dispatched_again_is_upcast_and_still_deduplicated():
    """What a replay of the outbox history does: dispatch the stored envelope again."""
    stored = stored_v1_envelope(time=datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    with temporary_subscription(name="analytics-reminders", pattern=REMINDERS) as subscription:
        assert dispatch("analytics-reminders", stored) is True
        assert dispatch("analytics-reminders", stored) is False
    [(event, _)] = subscription.handler.calls
    assert isinstance(event, CartReminderSent) and event.sent_at == "2026-11-26T09:00:00Z"


def test_the_shops_own_mailer_flow_publishes_v2_that_a_v1_reader_understands():
    envelope = to_envelope(sent_v2())
    as_v1 = versioning.envelope_as_read_by({"CartReminderSent": 1}, envelope)
    assert from_envelope(as_v1) == CartReminderSentV1(
        reminder_id=7, cart_id=CART_ID, step=1, message_id=MESSAGE_ID
    )
    # Up again: nothing lost but what v1 cannot hold (the time comes from the envelope).
    back = versioning.envelope_as_read_by({}, as_v1)
    assert from_envelope(back).channel_message_id == MESSAGE_ID


def test_an_unchanged_event_is_passed_through_untouched():
    envelope = to_envelope(sent_v2())
    assert versioning.envelope_as_read_by({}, envelope) is envelope


def test_an_unknown_version_is_poison_and_becomes_a_dead_letter():
    envelope = to_envelope(sent_v2()).to_dict()
    envelope["detail"]["version"] = 9
    with (
        temporary_subscription(name="crm-v2", pattern=REMINDERS),
        pytest.raises(MalformedEnvelope, match="no version 9 of event type 'CartReminderSent'"),
    ):
        dispatch("crm-v2", envelope)
    for bad in ("2", True, 0):
        with pytest.raises(MalformedEnvelope, match=r"detail\.version must be an integer"):
            versioning.detail_version({"version": bad})


def test_an_invalid_stored_event_is_named_with_its_version():
    stored = stored_v1_envelope(time=datetime(2026, 11, 26, tzinfo=UTC))
    del stored["detail"]["message_id"]
    with (
        temporary_subscription(name="crm-v2", pattern=REMINDERS),
        pytest.raises(MalformedEnvelope, match=r"detail\.message_id: is required \(as v1\)"),
    ):
        dispatch("crm-v2", stored)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LabelPrintedV1(DomainEvent):
    source = "test.versioning"
    detail_type = "LabelPrinted"
    schema = {
        "type": "object",
        "properties": {"parcel_id": {"type": "string"}},
        "required": ["parcel_id"],
    }
    parcel_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class LabelPrinted(DomainEvent):
    """v2: a required field with a default, so v1 detail reads as v2 once filled in."""

    source = "test.versioning"
    version = 2
    schema = {
        "type": "object",
        "properties": {
            "parcel_id": {"type": "string"},
            "printer": {"type": "string", "default": "front-desk"},
        },
        "required": ["parcel_id", "printer"],
    }
    parcel_id: str
    printer: str


@upcaster(LabelPrintedV1, LabelPrinted)
def _label_v1_to_v2(detail, envelope):
    return detail  # the default fills in ``printer``


@downcaster(LabelPrinted, LabelPrintedV1)
def _label_v2_to_v1(detail, envelope):
    detail["printer"] = 42  # a broken converter: v1 does not know this field
    return detail


def label_envelope(detail: dict) -> Envelope:
    return Envelope(detail_type="LabelPrinted", source="test.versioning", detail=detail)


def test_defaults_fill_in_what_older_events_lack():
    read = versioning.envelope_as_read_by({}, label_envelope({"parcel_id": "P1"}))
    assert from_envelope(read) == LabelPrinted(parcel_id="P1", printer="front-desk")


def test_a_converter_that_breaks_the_schema_is_named():
    envelope = label_envelope({"parcel_id": "P1", "printer": "back", "version": 2})
    with pytest.raises(MalformedEnvelope, match=r"_label_v2_to_v1 gave an invalid detail"):
        versioning.envelope_as_read_by({"LabelPrinted": 1}, envelope)


def test_converters_link_adjacent_versions_of_one_type():
    with pytest.raises(TypeError, match="adjacent versions"):
        upcaster(LabelPrinted, LabelPrintedV1)
    with pytest.raises(TypeError, match="two versions of one type"):
        upcaster(LabelPrintedV1, CartReminderSent)


def test_a_version_must_be_a_positive_integer():
    with pytest.raises(TypeError, match="version must be an integer >= 1"):

        @dataclasses.dataclass(frozen=True, kw_only=True)
        class Broken(DomainEvent):
            source = "test.versioning"
            version = 0
            schema = {"type": "object"}

    assert ("test.versioning", "Broken", 0) not in events._registry


def test_dead_letters_keep_the_event_as_it_travelled(settings):
    """The wire shape is what an operator replays; conversion happens again on replay."""
    from eventbus.tasks import deliver as deliver_task

    envelope = to_envelope(sent_v2()).to_dict()
    failing = RecordingHandler(fail_with=RuntimeError("crm down"))
    settings.EVENT_BUS = {**settings.EVENT_BUS, "MAX_ATTEMPTS": 1}
    with temporary_subscription(
        name="crm-v1", pattern=REMINDERS, handler=failing, versions={"CartReminderSent": 1}
    ):
        deliver_task.apply(args=("crm-v1", envelope))
    [letter] = DeadLetter.objects.filter(subscription="crm-v1")
    assert letter.envelope["detail"]["version"] == 2
    [(event, _)] = failing.calls
    assert isinstance(event, CartReminderSentV1)
