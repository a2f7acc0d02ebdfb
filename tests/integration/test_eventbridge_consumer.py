"""The whole EventBridge path on moto's server: the 202 add-to-cart's envelope lands in
each matching subscription's queue, and consume_events applies it; failures end in the
queue's DLQ or as dead letters, never blocking the other messages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import transaction

from eventbus.aws.backend import ENVELOPE_ID_KEY, put_events_entry
from eventbus.aws.consumer import QueueConsumer, consume
from eventbus.aws.provisioning import provision
from eventbus.backend import get_backend
from eventbus.events import DomainEvent
from eventbus.models import DeadLetter, ProcessedEvent
from eventbus.outbox import publish
from eventbus.subscriptions import matching_subscriptions, subscribe, unsubscribe
from tests.integration.conftest import ROOT, database_url
from tests.integration.moto_server import QUEUE_PREFIX

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CONTRACT_FIELDS = {
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
}


def consume_once(*names: str) -> None:
    arguments = ["consume_events", "--once", "--wait-seconds", "1"]
    for name in names:
        arguments += ["--subscription", name]
    call_command(*arguments)


def test_add_to_cart_reaches_each_matching_queue_and_the_consumer_applies_it(
    require_postgres, provisioned, catalog, api_client
):
    response = api_client.post("/api/cart/items/", {"sku": "TEA-001", "quantity": 2}, format="json")
    assert response.status_code == 202
    event_id = response.json()["event_id"]

    # The relay ran after the request's commit; the rules routed the event.
    matching = []
    for subscription in sorted(_all_subscription_names()):
        bodies = provisioned.queue_bodies(f"{QUEUE_PREFIX}-{subscription}")
        ours = [body for body in bodies if body["detail"].get(ENVELOPE_ID_KEY) == event_id]
        if ours:
            matching.append(subscription)
            [body] = ours
            # moto's EventBridge-to-SQS template leaves out "account" (moto 5.2.5,
            # events/utils.py DEFAULT_EVENT_INPUT_TEMPLATE); EventBridge delivers it.
            assert CONTRACT_FIELDS - set(body) <= {"account"}
            assert body["version"] == "0"
            assert body["detail-type"] == "ItemAddedToCart"
            assert body["source"] == "shop.cart"
            assert body["resources"] == []
            assert body["time"].endswith("Z")
            assert body["detail"]["sku"] == "TEA-001"
            assert body["detail"]["quantity"] == 2
            assert body["detail"]["correlation_id"] == response["X-Request-ID"]
    expected = [item.name for item in matching_subscriptions(_envelope_of(event_id))]
    assert "cart-projection" in expected
    assert matching == sorted(expected)
    assert api_client.get("/api/cart/").json()["lines"] == []  # nothing consumed yet

    consume_once()

    cart = api_client.get("/api/cart/").json()
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [("TEA-001", 2)]
    assert cart["last_event_id"] == event_id
    assert cart["pending_events"] == 0
    for subscription in expected:
        assert provisioned.queue_depth(f"{QUEUE_PREFIX}-{subscription}") == 0


def _all_subscription_names() -> list[str]:
    from eventbus.subscriptions import all_subscriptions

    return [item.name for item in all_subscriptions()]


def _envelope_of(event_id: str) -> dict:
    from eventbus.models import OutboxEvent

    return OutboxEvent.objects.get(pk=event_id).envelope


# --- a subscription of our own, to make handlers fail on purpose ---------------------------


@dataclass(frozen=True, kw_only=True)
class MeterRead(DomainEvent):
    source = "tests.meters"
    schema = {
        "type": "object",
        "properties": {"meter": {"type": "integer"}},
        "required": ["meter"],
    }

    meter: int


POISON_METER = 13
SUBSCRIPTION = "meter-ledger"
handled: list[int] = []
attempts_on_poison: list[int] = []


def record_meter(event: DomainEvent, envelope) -> None:
    if event.meter == POISON_METER:
        attempts_on_poison.append(1)
        raise RuntimeError("meter 13 always breaks the ledger")
    handled.append(event.meter)


@pytest.fixture
def meter_queue(require_postgres, aws):
    handled.clear()
    attempts_on_poison.clear()
    subscribe(name=SUBSCRIPTION, pattern={"source": ["tests.meters"]})(record_meter)
    try:
        provision()
        yield aws
    finally:
        unsubscribe(SUBSCRIPTION)


def publish_meters(*meters: int) -> list[str]:
    from eventbus.relay import sweep_outbox

    with transaction.atomic():
        ids = [publish(MeterRead(meter=meter)).id for meter in meters]
    sweep_outbox()
    return ids


def test_a_poison_message_ends_in_the_dlq_while_the_others_are_handled(meter_queue):
    publish_meters(1, POISON_METER, 2, 3)

    consume_once(SUBSCRIPTION)

    assert sorted(handled) == [1, 2, 3]
    assert len(attempts_on_poison) == 3  # MAX_ATTEMPTS (the queue's maxReceiveCount) receives
    assert meter_queue.queue_depth(f"{QUEUE_PREFIX}-{SUBSCRIPTION}") == 0
    [dead] = meter_queue.queue_bodies(f"{QUEUE_PREFIX}-{SUBSCRIPTION}-dlq")
    assert dead["detail"]["meter"] == POISON_METER
    assert not DeadLetter.objects.exists()  # on AWS the DLQ is the dead-letter store


def test_malformed_messages_become_dead_letters_and_do_not_stop_the_consumer(meter_queue):
    sqs = meter_queue.client("sqs")
    url = meter_queue.queue_url(f"{QUEUE_PREFIX}-{SUBSCRIPTION}")
    sqs.send_message(QueueUrl=url, MessageBody="this is not JSON")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"detail-type": "MeterRead"}))
    publish_meters(7)

    consume_once(SUBSCRIPTION)

    assert handled == [7]
    letters = DeadLetter.objects.order_by("raw_message")
    assert [letter.subscription for letter in letters] == [SUBSCRIPTION, SUBSCRIPTION]
    assert {letter.raw_message for letter in letters} == {
        "this is not JSON",
        json.dumps({"detail-type": "MeterRead"}),
    }
    assert meter_queue.queue_depth(f"{QUEUE_PREFIX}-{SUBSCRIPTION}") == 0


def test_an_event_sent_twice_through_eventbridge_is_handled_once(meter_queue):
    """A relay that resends after a lost response makes EventBridge deliver the event twice,
    each time under a new EventBridge id; the envelope id in the detail makes it one event."""
    from eventbus.envelope import Envelope

    envelope = Envelope(detail_type="MeterRead", source="tests.meters", detail={"meter": 5})
    entry = put_events_entry(envelope, bus_name=get_backend().bus_name)
    events = meter_queue.client("events")
    events.put_events(Entries=[entry])
    events.put_events(Entries=[entry])
    bodies = meter_queue.queue_bodies(f"{QUEUE_PREFIX}-{SUBSCRIPTION}")
    assert len({body["id"] for body in bodies}) == 2

    consume_once(SUBSCRIPTION)

    assert handled == [5]
    assert ProcessedEvent.objects.filter(subscription=SUBSCRIPTION, event_id=envelope.id).exists()


def test_replaying_to_one_subscription_goes_through_its_queue(meter_queue):
    from eventbus.envelope import Envelope

    envelope = Envelope(detail_type="MeterRead", source="tests.meters", detail={"meter": 9})

    get_backend().redeliver(SUBSCRIPTION, envelope)

    [body] = meter_queue.queue_bodies(f"{QUEUE_PREFIX}-{SUBSCRIPTION}")
    assert body["id"] == envelope.id
    consume_once(SUBSCRIPTION)
    assert handled == [9]


def test_a_stop_finishes_the_messages_in_hand(meter_queue):
    publish_meters(1, 2, 3)
    stop = threading.Event()
    original = QueueConsumer.process

    def process_then_stop(self, messages):
        stop.set()  # as SIGTERM does, while the messages received are being handled
        return original(self, messages)

    QueueConsumer.process = process_then_stop
    try:
        report = consume([SUBSCRIPTION], wait_seconds=1, stop=stop)
    finally:
        QueueConsumer.process = original

    assert sorted(handled) == [1, 2, 3]
    assert report.received == 3
    assert meter_queue.queue_depth(f"{QUEUE_PREFIX}-{SUBSCRIPTION}") == 0


def test_consume_events_stops_on_sigterm(require_postgres, provisioned):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "EVENT_BUS_BACKEND": "eventbridge",
        "EVENT_BUS_NAME": get_backend().bus_name,
        "EVENT_QUEUE_PREFIX": QUEUE_PREFIX,
        "AWS_REGION": get_backend().region or "eu-west-1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "consume_events", "--wait-seconds", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        seen = ""
        while "Consuming" not in seen and process.poll() is None:
            seen += process.stdout.readline().decode()
        assert "Consuming" in seen, seen + process.stdout.read().decode()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        output = process.stdout.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "received 0" in output
