"""Long-polls the subscriptions' SQS queues and delivers each message: the EventBridge
backend's counterpart of the Celery worker's ``eventbus.deliver`` task.

It only translates delivery outcomes into SQS's mechanisms. A message is deleted once it
was handled, was a duplicate, or was dead-lettered by the bus (malformed, not retryable); a
retry stays in the queue and comes back after its backoff (the visibility timeout); on its
last attempt it is left visible, and SQS's redrive policy moves it to the subscription's
dead-letter queue (``maxReceiveCount`` is the bus's attempt limit).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connection

from eventbus.aws.backend import envelope_from_message, eventbridge_backend
from eventbus.delivery import Outcome, Result, deliver_batch
from eventbus.subscriptions import get_subscription

logger = logging.getLogger(__name__)


def _receive_count(message: dict[str, Any]) -> int:
    """The message's delivery attempt: how often SQS has handed it out (1 if unreadable)."""
    try:
        return max(1, int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1


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
        sqs: Any = None,
    ) -> None:
        self.subscription_name = get_subscription(subscription_name).name
        self.queue_url = queue_url
        self.wait_seconds = wait_seconds
        self.report = report or ConsumeReport()
        self.sqs = sqs if sqs is not None else eventbridge_backend().client("sqs")

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

    def process(self, messages: list[dict[str, Any]]) -> None:
        """Deliver the messages of one receive together, then delete the ones that are done
        with and set the others' visibility (their backoff, or 0 for the DLQ)."""
        outcomes = deliver_batch(
            self.subscription_name,
            [(message.get("Body", ""), _receive_count(message)) for message in messages],
            parse=envelope_from_message,
            transport_dead_letters=True,
        )
        done = []
        for message, outcome in zip(messages, outcomes, strict=True):
            self._count(outcome)
            if outcome.done:
                done.append(message)
            elif outcome.result is Result.RETRY:
                self._set_visibility(message, round(outcome.retry_after))
            else:
                # Its last attempt failed: visible again at once, so the next receive makes
                # SQS's redrive policy move it to the dead-letter queue.
                self._set_visibility(message, 0)
        self._delete(done)

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), MAX_MESSAGES_PER_RECEIVE):
            chunk = messages[start : start + MAX_MESSAGES_PER_RECEIVE]
            response = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
                    for number, message in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                # The message comes back and is a duplicate then: delivery skips it.
                logger.warning("%s: delete failed: %s", self.subscription_name, failure)

    def _count(self, outcome: Outcome) -> None:
        if outcome.result is Result.HANDLED:
            self.report.add(handled=1)
        elif outcome.result is Result.DUPLICATE:
            self.report.add(duplicates=1)
        elif outcome.recorded:
            self.report.add(dead_lettered=1)
        else:
            self.report.add(failed=1)

    def _set_visibility(self, message: dict[str, Any], seconds: int) -> None:
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=min(MAX_VISIBILITY_SECONDS, max(0, seconds)),
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
    backend = eventbridge_backend()
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
