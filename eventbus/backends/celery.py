"""Celery backend: routes each relayed batch of events to its matching subscriptions as
Celery tasks.

The routing rules are the same EventBridge patterns, evaluated here; each subscription
gets one ``eventbus.deliver_batch`` task (acks_late) per relayed batch, with the events of
the batch it matches: the local twin of SQS, where a consumer receives up to ten messages
at once. The task, the receiving end, is here too: it runs one delivery attempt of its
events and turns retry outcomes into Celery's own retry, with the failed events alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from celery import shared_task
from celery.utils import uuid
from kombu.exceptions import OperationalError

from eventbus import delivery
from eventbus.backend import EventBusBackend, PublishResult
from eventbus.envelope import Envelope
from eventbus.subscriptions import matching_subscriptions

# What kombu raises when the broker cannot be reached (the connection, not the message).
_BROKER_ERRORS = (OperationalError, ConnectionError, OSError)

# send(subscription_name, envelope_dicts, envelopes) enqueues one deliver_batch task.
Sender = Callable[[str, list[dict[str, Any]], list[Envelope]], None]


@shared_task(name="eventbus.deliver_batch", bind=True, acks_late=True, max_retries=None)
def deliver_batch(self: Any, subscription_name: str, envelopes: list[Any]) -> None:
    """Deliver events to one subscription together; the ones that failed are retried alone,
    with backoff, then dead-lettered. Every event of a task is on the same attempt."""
    attempt = self.request.retries + 1
    messages = (
        [(envelope, attempt) for envelope in envelopes]
        if isinstance(envelopes, list)
        else [(envelopes, attempt)]
    )
    outcomes = delivery.deliver_batch(subscription_name, messages)
    retrying = [
        (message, outcome)
        for (message, _), outcome in zip(messages, outcomes, strict=True)
        if outcome.result is delivery.Result.RETRY
    ]
    if retrying:
        raise self.retry(
            args=(subscription_name, [message for message, _ in retrying]),
            exc=retrying[0][1].error,
            # The longest wait the policy asked for: no event comes back before its time.
            countdown=max(outcome.retry_after for _, outcome in retrying),
        )


@shared_task(name="eventbus.deliver", bind=True, acks_late=True, max_retries=None)
def deliver(self: Any, subscription_name: str, envelope: Any) -> None:
    """Deliver one event to one subscription; retry with backoff, then dead-letter. (Dead
    letter replays use it, and it still takes tasks of releases before batches.)"""
    outcome = delivery.deliver(subscription_name, envelope, attempt=self.request.retries + 1)
    if outcome.result is delivery.Result.RETRY:
        raise self.retry(exc=outcome.error, countdown=outcome.retry_after)


class CeleryBackend(EventBusBackend):
    def publish(self, envelopes: Sequence[Envelope]) -> list[PublishResult]:
        results = [PublishResult.success() for _ in envelopes]
        routed: dict[str, list[int]] = {}  # subscription -> positions of its envelopes
        bodies = []
        for index, envelope in enumerate(envelopes):
            body = envelope.to_dict()
            bodies.append(body)
            try:
                for subscription in matching_subscriptions(body):
                    routed.setdefault(subscription.name, []).append(index)
            except Exception as error:
                results[index] = PublishResult.retry(f"{type(error).__name__}: {error}")
        if not routed:
            return results
        try:
            with _deliver_task_sender() as send:
                for name, positions in routed.items():
                    try:
                        send(
                            name, [bodies[i] for i in positions], [envelopes[i] for i in positions]
                        )
                    except _BROKER_ERRORS:
                        raise
                    except Exception as error:
                        for index in positions:
                            results[index] = PublishResult.retry(f"{type(error).__name__}: {error}")
        except _BROKER_ERRORS as error:
            # The broker is down: every envelope of this call waits for the sweep (one
            # connect timeout per call, not one per envelope).
            failed = PublishResult.retry(f"{type(error).__name__}: {error}")
            return [failed for _ in envelopes]
        return results

    def redeliver(self, subscription_name: str, envelope: Envelope) -> None:
        deliver.apply_async(args=(subscription_name, envelope.to_dict()))

    def check(self) -> None:
        with deliver.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)


def _args_repr(subscription_name: str, envelopes: list[Envelope]) -> str:
    # Shown by `celery inspect` and in worker logs instead of the whole envelopes.
    first = envelopes[0]
    more = f" and {len(envelopes) - 1} more" if len(envelopes) > 1 else ""
    return f"({subscription_name!r}, [<{first.detail_type} {first.id}>{more}])"


@contextmanager
def _deliver_task_sender() -> Iterator[Sender]:
    """A function that enqueues ``eventbus.deliver_batch`` tasks on one pooled producer.

    ``apply_async`` spends four times as long as the broker write itself, mostly looking
    up configuration and routes again for every message; the relay sends the same task to
    the same route thousands of times, so it builds messages with Celery's own message API
    (``app.amqp``) and routes once per batch. Eager mode (tests) keeps ``apply_async``.
    """
    app = deliver_batch.app
    if app.conf.task_always_eager:

        def send_eagerly(
            name: str, bodies: list[dict[str, Any]], envelopes: list[Envelope]
        ) -> None:
            deliver_batch.apply_async(args=(name, bodies), argsrepr=_args_repr(name, envelopes))

        yield send_eagerly
        return

    amqp = app.amqp
    route = amqp.router.route({}, deliver_batch.name, None, None, deliver_batch)
    declare: list[Any] | None = None  # the first message declares the queue, once per call

    with app.producer_or_acquire() as producer:
        # One connection attempt, no retry loop (kombu's sleeps 2 s between attempts): when
        # the broker is down the rows wait for the sweep and the caller does not wait.
        producer.connection.ensure_connection(max_retries=0)

        def send(name: str, bodies: list[dict[str, Any]], envelopes: list[Envelope]) -> None:
            nonlocal declare
            message = amqp.create_task_message(
                uuid(),
                deliver_batch.name,
                (name, bodies),
                {},
                argsrepr=_args_repr(name, envelopes),
                kwargsrepr="{}",
                ignore_result=True,
            )
            # retry=False: a message that cannot be written fails its rows, which are retried.
            amqp.send_task_message(
                producer, deliver_batch.name, message, retry=False, declare=declare, **route
            )
            declare = []

        yield send
