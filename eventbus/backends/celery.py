"""Celery backend: routes each event to its matching subscriptions as Celery tasks.

The routing rules are the same EventBridge patterns, evaluated here; each match becomes
one ``eventbus.deliver`` task (acks_late), the local twin of one SQS message per rule. The
task, the receiving end, is here too: it runs one delivery attempt and turns a retry
outcome into Celery's own retry with a countdown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from celery import shared_task
from celery.utils import uuid
from kombu.exceptions import OperationalError

from eventbus.backend import EventBusBackend, PublishResult
from eventbus.delivery import Result
from eventbus.delivery import deliver as deliver_once
from eventbus.envelope import Envelope
from eventbus.subscriptions import matching_subscriptions

# What kombu raises when the broker cannot be reached (the connection, not the message).
_BROKER_ERRORS = (OperationalError, ConnectionError, OSError)

# send(subscription_name, envelope_dict, envelope) enqueues one deliver task.
Sender = Callable[[str, dict[str, Any], Envelope], None]


@shared_task(name="eventbus.deliver", bind=True, acks_late=True, max_retries=None)
def deliver(self: Any, subscription_name: str, envelope: Any) -> None:
    """Deliver one event to one subscription; retry with backoff, then dead-letter."""
    outcome = deliver_once(subscription_name, envelope, attempt=self.request.retries + 1)
    if outcome.result is Result.RETRY:
        raise self.retry(exc=outcome.error, countdown=outcome.retry_after)


class CeleryBackend(EventBusBackend):
    def publish(self, envelopes: Sequence[Envelope]) -> list[PublishResult]:
        results: list[PublishResult] = []
        broker_down: PublishResult | None = None
        with _deliver_task_sender() as send:
            for envelope in envelopes:
                if broker_down is not None:
                    # Each further attempt would wait out the connect timeout again.
                    results.append(broker_down)
                    continue
                body = envelope.to_dict()
                try:
                    for subscription in matching_subscriptions(body):
                        send(subscription.name, body, envelope)
                except _BROKER_ERRORS as error:
                    broker_down = PublishResult.retry(f"{type(error).__name__}: {error}")
                    results.append(broker_down)
                except Exception as error:
                    results.append(PublishResult.retry(f"{type(error).__name__}: {error}"))
                else:
                    results.append(PublishResult.success())
        return results

    def redeliver(self, subscription_name: str, envelope: Envelope) -> None:
        deliver.apply_async(args=(subscription_name, envelope.to_dict()))

    def check(self) -> None:
        with deliver.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)


def _args_repr(subscription_name: str, envelope: Envelope) -> str:
    # Shown by `celery inspect` and in worker logs instead of the whole envelope.
    return f"({subscription_name!r}, <{envelope.detail_type} {envelope.id}>)"


@contextmanager
def _deliver_task_sender() -> Iterator[Sender]:
    """A function that enqueues ``eventbus.deliver`` tasks on one pooled producer.

    ``apply_async`` spends four times as long as the broker write itself, mostly looking
    up configuration and routes again for every message; the relay sends the same task to
    the same route thousands of times, so it builds messages with Celery's own message API
    (``app.amqp``) and routes once per batch. Eager mode (tests) keeps ``apply_async``.
    """
    app = deliver.app
    if app.conf.task_always_eager:

        def send_eagerly(name: str, body: dict[str, Any], envelope: Envelope) -> None:
            deliver.apply_async(args=(name, body), argsrepr=_args_repr(name, envelope))

        yield send_eagerly
        return

    amqp = app.amqp
    route = amqp.router.route({}, deliver.name, None, None, deliver)
    declare: list[Any] | None = None  # the first message declares the queue, once per batch

    with app.producer_or_acquire() as producer:
        # One connection attempt, no retry loop (kombu's sleeps 2 s between attempts): when
        # the broker is down the rows wait for the sweep and the caller does not wait.
        producer.connection.ensure_connection(max_retries=0)

        def send(name: str, body: dict[str, Any], envelope: Envelope) -> None:
            nonlocal declare
            message = amqp.create_task_message(
                uuid(),
                deliver.name,
                (name, body),
                {},
                argsrepr=_args_repr(name, envelope),
                kwargsrepr="{}",
                ignore_result=True,
            )
            # retry=False: a message that cannot be written fails its row, which is retried.
            amqp.send_task_message(
                producer, deliver.name, message, retry=False, declare=declare, **route
            )
            declare = []

        yield send
