"""Long-polls the subscriptions' SQS queues and runs ``dispatch()`` for each message: the
EventBridge backend's counterpart of the Celery worker's ``eventbus.deliver`` task.

A message is deleted only after its handler succeeded (or it was dead-lettered here); a
failed one stays in the queue, comes back after a backoff, and SQS's redrive policy moves
it to the subscription's dead-letter queue after ``maxReceiveCount`` receives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connection

from eventbus import aws
from eventbus.backends import get_backend
from eventbus.backends.eventbridge import EventBridgeBackend, envelope_from_message
from eventbus.delivery import dispatch, is_retryable, record_dead_letter, retry_delay
from eventbus.envelope import MalformedEnvelope
from eventbus.subscriptions import get_subscription

logger = logging.getLogger(__name__)

MAX_MESSAGES_PER_RECEIVE = 10  # SQS's limit
# SQS caps a message's visibility timeout at 12 hours.
MAX_VISIBILITY_SECONDS = 12 * 3600
# Pause after a failed ReceiveMessage (network, throttling) before polling again.
RECEIVE_ERROR_PAUSE_SECONDS = 2.0


@dataclass
class ConsumeReport:
    """Counts over every queue a consumer polled (threads add to it under a lock)."""

    received: int = 0
    handled: int = 0
    duplicates: int = 0
    failed: int = 0
    dead_lettered: int = 0
    errors: list[BaseException] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class QueueConsumer:
    """Receives and handles the messages of one subscription's queue."""

    def __init__(
        self,
        subscription_name: str,
        *,
        queue_url: str,
        wait_seconds: int = 20,
        report: ConsumeReport | None = None,
    ) -> None:
        self.subscription_name = get_subscription(subscription_name).name
        self.queue_url = queue_url
        self.wait_seconds = wait_seconds
        self.report = report or ConsumeReport()
        self.sqs = aws.client("sqs")

    def receive(self) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=MAX_MESSAGES_PER_RECEIVE,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        self.report.add(received=len(messages))
        return messages

    def process(self, messages: Iterable[dict[str, Any]]) -> None:
        """Handle every message in hand, then delete the ones that are done with."""
        done = [message for message in messages if self.handle(message)]
        for start in range(0, len(done), MAX_MESSAGES_PER_RECEIVE):
            chunk = done[start : start + MAX_MESSAGES_PER_RECEIVE]
            response = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
                    for number, message in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                # The message comes back and is a duplicate then: dispatch() skips it.
                logger.warning("%s: delete failed: %s", self.subscription_name, failure)

    def handle(self, message: dict[str, Any]) -> bool:
        """Handle one message; True when it should be deleted from the queue."""
        body = message.get("Body", "")
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            envelope = envelope_from_message(body)
        except MalformedEnvelope as error:
            # Not an event: retrying cannot help, and it must not block the queue.
            record_dead_letter(
                subscription_name=self.subscription_name,
                envelope=None,
                error=error,
                attempts=attempt,
                raw_message=body if isinstance(body, str) else repr(body),
            )
            self.report.add(dead_lettered=1)
            return True
        try:
            applied = dispatch(self.subscription_name, envelope)
        except Exception as error:
            if not is_retryable(error):
                record_dead_letter(
                    subscription_name=self.subscription_name,
                    envelope=envelope,
                    error=error,
                    attempts=attempt,
                )
                self.report.add(dead_lettered=1)
                return True
            self._retry_later(message, attempt, error)
            return False
        self.report.add(handled=1 if applied else 0, duplicates=0 if applied else 1)
        return True

    def _retry_later(self, message: dict[str, Any], attempt: int, error: Exception) -> None:
        """Leave the message in the queue and let it come back after a backoff."""
        delay = min(MAX_VISIBILITY_SECONDS, max(0, round(retry_delay(attempt))))
        logger.warning(
            "%s failed on receive %d, back in %ds: %s: %s",
            self.subscription_name,
            attempt,
            delay,
            type(error).__name__,
            error,
        )
        self.report.add(failed=1)
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=delay,
            )
        except Exception:
            # The queue's own visibility timeout brings it back anyway.
            logger.warning("could not change visibility", exc_info=True)

    def run(self, *, stop: threading.Event, once: bool = False) -> None:
        """Poll until ``stop`` is set (or, with ``once``, until a receive comes back empty).

        Messages received are always finished, even when ``stop`` is set meanwhile.
        """
        try:
            while not stop.is_set():
                close_old_connections()
                try:
                    messages = self.receive()
                except Exception as error:
                    if once:
                        raise
                    logger.warning("%s: receive failed: %s", self.subscription_name, error)
                    stop.wait(RECEIVE_ERROR_PAUSE_SECONDS)
                    continue
                if not messages:
                    if once:
                        return
                    continue
                self.process(messages)
        finally:
            connection.close()


def consume(
    subscription_names: Iterable[str],
    *,
    wait_seconds: int = 20,
    once: bool = False,
    stop: threading.Event | None = None,
) -> ConsumeReport:
    """Consume the queues of ``subscription_names``, one polling thread per queue.

    Returns when ``stop`` is set and every thread has finished the messages it held, or
    with ``once`` when every queue came back empty. Long polls end within
    ``wait_seconds``, which bounds how long a stop takes.
    """
    backend = get_backend()
    if not isinstance(backend, EventBridgeBackend):
        raise RuntimeError(
            f"consume_events needs EVENT_BUS_BACKEND=eventbridge, not {backend.label}"
        )
    stop = stop or threading.Event()
    report = ConsumeReport()
    consumers = [
        QueueConsumer(
            name, queue_url=backend.queue_url(name), wait_seconds=wait_seconds, report=report
        )
        for name in subscription_names
    ]

    def run(consumer: QueueConsumer) -> None:
        try:
            consumer.run(stop=stop, once=once)
        except BaseException as error:
            logger.exception("%s: consumer stopped", consumer.subscription_name)
            report.errors.append(error)
            if not once:
                stop.set()  # a broken consumer takes the process down: the supervisor restarts

    threads = [
        threading.Thread(target=run, args=(consumer,), name=f"consume-{consumer.subscription_name}")
        for consumer in consumers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        # Short joins keep the main thread free to take SIGTERM.
        while thread.is_alive():
            thread.join(timeout=0.2)
    return report
