"""One failure path: the same failing deliveries through the Celery tasks (the batch task
the relay sends, and the single-event one dead-letter replays send), the SQS consumer
(on moto) and the in-memory backend end the same way, each transport only translating the
outcome into its own mechanism (Celery's retry countdown, SQS's visibility timeout and
redrive policy, the memory backend's retry list)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from eventbus.aws.consumer import QueueConsumer
from eventbus.aws.provisioning import provision
from eventbus.backend import get_backend
from eventbus.backends.celery import deliver, deliver_batch
from eventbus.backends.memory import InMemoryBackend
from eventbus.conversion import to_envelope
from eventbus.envelope import Envelope
from eventbus.failures import PermanentFailure
from eventbus.models import DeadLetter, ProcessedEvent
from eventbus.testing import temporary_subscription
from tests.conftest import MEMORY_BUS
from tests.eventbus.sample_events import SHIPPING, ParcelShipped
from tests.integration.moto_server import QUEUE_PREFIX

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SUBSCRIPTION = "shipping-outcomes"
ATTEMPTS = 4
POLICY = {"MAX_ATTEMPTS": ATTEMPTS, "RETRY_BASE_SECONDS": 2.0, "RETRY_MAX_SECONDS": 60.0}


class FlakyHandler:
    """Fails the first ``failures`` calls with ``error``, then succeeds."""

    def __init__(self, error: BaseException | None, failures: int) -> None:
        self.error, self.failures, self.calls = error, failures, 0
        self.__qualname__ = f"FlakyHandler-{id(self)}"
        self.__module__ = __name__

    def __call__(self, event: Any, envelope: Envelope) -> None:
        self.calls += 1
        if self.error is not None and self.calls <= self.failures:
            raise self.error


@dataclass
class Seen:
    """What one transport made of one message."""

    handler_calls: int
    delays: list[float] = field(default_factory=list)  # before each retry, in order
    dead_attempts: list[int] = field(default_factory=list)  # attempts of each dead letter
    processed: bool = False


def _message(case: str) -> dict[str, Any]:
    envelope = to_envelope(ParcelShipped(parcel_id="P1", weight_grams=250)).to_dict()
    if case == "malformed message":
        envelope["detail"] = {"parcel_id": "P1"}  # weight_grams missing: no handler can run
    return envelope


def _processed(message: dict[str, Any]) -> bool:
    return ProcessedEvent.objects.filter(subscription=SUBSCRIPTION, event_id=message["id"]).exists()


def _through_task(task: Any, args: tuple, message: dict[str, Any], handler, monkeypatch) -> Seen:
    """Run a Celery delivery task eagerly (each retry at once), recording its countdowns."""
    delays: list[float] = []
    retry = task.retry

    def recording_retry(*args: Any, **kwargs: Any) -> Any:
        delays.append(kwargs["countdown"])
        return retry(*args, **kwargs)

    monkeypatch.setattr(task, "retry", recording_retry)
    task.apply(args=args)
    dead = [letter.attempts for letter in DeadLetter.objects.filter(subscription=SUBSCRIPTION)]
    return Seen(handler.calls, delays, dead, _processed(message))


def through_celery(message: dict[str, Any], handler: FlakyHandler, monkeypatch) -> Seen:
    """The single-event task (dead-letter replays send it)."""
    return _through_task(deliver, (SUBSCRIPTION, message), message, handler, monkeypatch)


def through_celery_batch(message: dict[str, Any], handler: FlakyHandler, monkeypatch) -> Seen:
    """The task the relay sends, the message alone in its batch (a failing event among
    others that commit: tests/eventbus/test_batches.py)."""
    return _through_task(deliver_batch, (SUBSCRIPTION, [message]), message, handler, monkeypatch)


def through_memory(message: dict[str, Any], handler: FlakyHandler, monkeypatch) -> Seen:
    backend = get_backend()
    assert isinstance(backend, InMemoryBackend)
    backend.clear()
    backend.publish([Envelope.from_dict(message)])
    backend.deliver_published()
    dead = [letter.attempts for letter in DeadLetter.objects.filter(subscription=SUBSCRIPTION)]
    return Seen(
        handler.calls, [retry.delay for retry in backend.retries], dead, _processed(message)
    )


def through_sqs(message: dict[str, Any], handler: FlakyHandler, monkeypatch) -> Seen:
    """Real SQS semantics on moto: receive counts, visibility, the redrive policy's DLQ. The
    visibility timeouts the consumer asks for are recorded, then shortened to 0 so the test
    does not wait them out."""
    backend = get_backend()
    provision()
    sqs = backend.client("sqs")
    delays: list[float] = []

    def record_visibility(params: dict[str, Any], **kwargs: Any) -> None:
        if params["VisibilityTimeout"] > 0:
            delays.append(params["VisibilityTimeout"])
        params["VisibilityTimeout"] = 0

    sqs.meta.events.register("provide-client-params.sqs.ChangeMessageVisibility", record_visibility)
    try:
        sqs.send_message(QueueUrl=backend.queue_url(SUBSCRIPTION), MessageBody=json.dumps(message))
        consumer = QueueConsumer(
            SUBSCRIPTION, queue_url=backend.queue_url(SUBSCRIPTION), wait_seconds=0
        )
        # consume_events' loop, on this test's database connection.
        while messages := consumer.receive():
            consumer.process(messages)
    finally:
        sqs.meta.events.unregister(
            "provide-client-params.sqs.ChangeMessageVisibility", record_visibility
        )
    dead = [letter.attempts for letter in DeadLetter.objects.filter(subscription=SUBSCRIPTION)]
    # SQS's own dead letters: what the redrive policy moved, with the receives it had.
    dlq = sqs.get_queue_url(QueueName=f"{QUEUE_PREFIX}-{SUBSCRIPTION}-dlq")["QueueUrl"]
    moved = sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])
    # The count moves with the message; the receive that just looked at it adds one.
    dead += [int(item["Attributes"]["ApproximateReceiveCount"]) - 1 for item in moved]
    return Seen(handler.calls, delays, dead, _processed(message))


TRANSPORTS = {
    "celery batch": through_celery_batch,
    "celery": through_celery,
    "sqs": through_sqs,
    "memory": through_memory,
}

# (error, failures before success) and what every transport must end with.
CASES = {
    "retryable error every time": (RuntimeError("warehouse API down"), 99),
    "recovers on the last attempt": (RuntimeError("warehouse API down"), ATTEMPTS - 1),
    "non-retryable error": (PermanentFailure("parcel weighs nothing"), 99),
    "malformed message": (None, 0),
}


@pytest.fixture
def transport_settings(request, settings):
    if request.param == "sqs":
        request.getfixturevalue("aws")  # moto, and the EventBridge backend as the bus
    else:
        settings.EVENT_BUS = MEMORY_BUS
    settings.EVENT_BUS = {**settings.EVENT_BUS, **POLICY}
    return request.param


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("transport_settings", list(TRANSPORTS), indirect=True)
def test_the_same_failures_end_the_same_way_on_every_transport(
    transport_settings, case, monkeypatch
):
    error, failures = CASES[case]
    handler = FlakyHandler(error, failures)
    message = _message(case)
    with temporary_subscription(name=SUBSCRIPTION, pattern=SHIPPING, handler=handler):
        seen = TRANSPORTS[transport_settings](message, handler, monkeypatch)

    if case == "retryable error every time":
        assert seen.handler_calls == ATTEMPTS
        assert len(seen.delays) == ATTEMPTS - 1
        assert seen.delays == sorted(seen.delays) and seen.delays[-1] > seen.delays[0]
        assert 1 <= seen.delays[0] <= 2  # equal jitter: [base/2, base] before the 2nd attempt
        assert seen.dead_attempts == [ATTEMPTS]
        assert not seen.processed
    elif case == "recovers on the last attempt":
        assert seen.handler_calls == ATTEMPTS
        assert len(seen.delays) == ATTEMPTS - 1
        assert seen.dead_attempts == []
        assert seen.processed
    elif case == "non-retryable error":
        assert (seen.handler_calls, seen.delays, seen.dead_attempts) == (1, [], [1])
        assert not seen.processed
    else:  # malformed: no handler can even be called
        assert (seen.handler_calls, seen.delays, seen.dead_attempts) == (0, [], [1])
