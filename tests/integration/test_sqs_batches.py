"""The SQS consumer delivers the messages of one receive together (on moto): the others of
a receive are handled once and deleted, a failing one comes back alone and ends in the
queue's dead-letter queue after the bus's attempts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eventbus.aws.consumer import QueueConsumer
from eventbus.aws.provisioning import provision
from eventbus.backend import get_backend
from eventbus.conversion import to_envelope
from eventbus.models import ProcessedEvent
from eventbus.subscriptions import subscribe, unsubscribe
from tests.eventbus.sample_events import SHIPPING, ParcelShipped
from tests.eventbus.test_batches import BatchLedger
from tests.integration.moto_server import QUEUE_PREFIX

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

NAME = "shipping-sqs-batch"
ATTEMPTS = 3


@pytest.fixture
def queue(aws, settings):
    settings.EVENT_BUS = {**settings.EVENT_BUS, "MAX_ATTEMPTS": ATTEMPTS}
    handler = BatchLedger(poison="B")
    subscribe(name=NAME, pattern=SHIPPING, batch=True)(handler)
    try:
        provision()
        yield handler
    finally:
        unsubscribe(NAME)


def test_one_receive_is_one_batch_and_a_failing_message_goes_on_alone(queue):
    backend = get_backend()
    sqs = backend.client("sqs")
    url = backend.queue_url(NAME)
    bodies = [
        to_envelope(ParcelShipped(parcel_id=parcel, weight_grams=100)).to_json() for parcel in "ABC"
    ]
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies)],
    )
    waits: list[int] = []

    def no_waiting(params: dict[str, Any], **kwargs: Any) -> None:
        waits.append(params["VisibilityTimeout"])
        params["VisibilityTimeout"] = 0

    sqs.meta.events.register("provide-client-params.sqs.ChangeMessageVisibility", no_waiting)
    try:
        consumer = QueueConsumer(NAME, queue_url=url, wait_seconds=0)
        receives = []
        while messages := consumer.receive():
            receives.append(len(messages))
            consumer.process(messages)
    finally:
        sqs.meta.events.unregister("provide-client-params.sqs.ChangeMessageVisibility", no_waiting)

    assert receives[0] == 3  # moto hands out the three together
    assert queue.calls[:4] == [["A", "B", "C"], ["A"], ["B"], ["C"]]
    assert queue.calls[4:] == [["B"]] * (ATTEMPTS - 1)
    assert queue.handled() == ["A", "C"]
    assert consumer.report.handled == 2
    # B's backoffs grew, then it was left visible for the redrive policy.
    assert waits[:-1] == sorted(waits[:-1]) and waits[-1] == 0
    dlq = sqs.get_queue_url(QueueName=f"{QUEUE_PREFIX}-{NAME}-dlq")["QueueUrl"]
    [dead] = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"]
    assert json.loads(dead["Body"])["detail"]["parcel_id"] == "B"
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) - 1 == ATTEMPTS
    assert ProcessedEvent.objects.filter(subscription=NAME).count() == 2


@pytest.mark.parametrize(
    "malformed",
    [
        {"resources": 5},
        {"time": 5},
        {"id": 7},
        {"detail-type": ["ParcelShipped"]},
        {"source": None},
        {"account": {"nested": True}},
        {"detail": "not an object"},
    ],
    ids=lambda value: ",".join(value),
)
def test_a_message_with_wrong_types_is_a_dead_letter_and_the_others_are_handled(queue, malformed):
    """Finding 6 of the security review: such bodies used to raise TypeError and stop the
    consumer with the other messages of the receive undeleted."""
    from eventbus.models import DeadLetter

    backend = get_backend()
    sqs = backend.client("sqs")
    url = backend.queue_url(NAME)
    good = to_envelope(ParcelShipped(parcel_id="A", weight_grams=100)).to_dict()
    bad = {**to_envelope(ParcelShipped(parcel_id="X", weight_grams=1)).to_dict(), **malformed}
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "bad", "MessageBody": json.dumps(bad)},
            {"Id": "good", "MessageBody": json.dumps(good)},
        ],
    )
    consumer = QueueConsumer(NAME, queue_url=url, wait_seconds=0)
    while messages := consumer.receive():
        consumer.process(messages)

    assert queue.handled() == ["A"]
    [letter] = DeadLetter.objects.all()
    assert "MalformedEnvelope" in letter.error
    assert json.loads(letter.raw_message) == bad
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
