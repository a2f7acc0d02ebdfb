"""The one path that delivers an event to a subscription, whichever transport carried it.

``dispatch()`` runs the handler once: the processed-event row is written in the handler's
own transaction, so a redelivery (at-least-once buses redeliver) is a no-op and a handler
that fails leaves no trace. ``deliver()`` is one delivery attempt as a transport sees it:
it parses the message, dispatches it, applies the failure policy and returns the
:class:`Outcome`, which the transport only translates into its own retry mechanism.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from django.db import IntegrityError, transaction

from core.request_id import request_id_context
from eventbus.conversion import from_envelope
from eventbus.envelope import Envelope, MalformedEnvelope
from eventbus.events import DomainEvent
from eventbus.failures import is_retryable, message_text, record_dead_letter, retry_after
from eventbus.models import ProcessedEvent
from eventbus.subscriptions import Subscription, get_subscription
from eventbus.versioning import envelope_as_read_by

logger = logging.getLogger(__name__)


class Result(Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    DEAD_LETTER = "dead letter"


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery attempt, and what the transport must do next.

    ``RETRY``: deliver again after ``retry_after`` seconds. ``DEAD_LETTER``: never again;
    ``recorded`` tells whether a dead letter was stored here, or (a transport with a
    dead-letter queue of its own) whether the transport must hand the message to it.
    """

    result: Result
    attempt: int
    retry_after: float = 0.0
    error: BaseException | None = None
    recorded: bool = False

    @property
    def done(self) -> bool:
        """The message can be forgotten (acknowledged, deleted) by the transport."""
        return self.result in (Result.HANDLED, Result.DUPLICATE) or (
            self.result is Result.DEAD_LETTER and self.recorded
        )


Parser = Callable[[Any], Envelope]


def parse_message(message: Any) -> Envelope:
    """An envelope from what a transport received: an Envelope, its dict, or its JSON."""
    if isinstance(message, Envelope):
        return message
    if isinstance(message, str | bytes):
        return Envelope.from_json(message)
    return Envelope.from_dict(message)


def dispatch(subscription_name: str, envelope: Envelope | dict[str, Any]) -> bool:
    """Run the subscription's handler for ``envelope`` once; False for a duplicate.

    Raises whatever the handler raised (its effects and the processed mark rolled back).
    """
    if not isinstance(envelope, Envelope):
        envelope = Envelope.from_dict(envelope)
    with request_id_context(envelope.correlation_id):
        return _run(get_subscription(subscription_name), envelope)


def deliver(
    subscription_name: str,
    message: Any,
    *,
    attempt: int,
    parse: Parser = parse_message,
    transport_dead_letters: bool = False,
) -> Outcome:
    """One delivery attempt of ``message`` (attempt ``attempt``, 1-based).

    A message that is no event, or a failure the policy does not retry, becomes a dead
    letter at once. A retryable failure comes back as ``RETRY`` until its last attempt;
    then it is dead-lettered here, or, with ``transport_dead_letters`` (SQS, whose
    redrive policy moves it to the queue's DLQ), left to the transport.
    """
    try:
        envelope = parse(message)
    except MalformedEnvelope as error:
        record_dead_letter(
            subscription_name=subscription_name,
            envelope=None,
            error=error,
            attempts=attempt,
            raw_message=message_text(message),
        )
        return Outcome(Result.DEAD_LETTER, attempt, error=error, recorded=True)
    with request_id_context(envelope.correlation_id):
        try:
            applied = _run(get_subscription(subscription_name), envelope)
        except Exception as error:
            return _failed(subscription_name, envelope, error, attempt, transport_dead_letters)
    return Outcome(Result.HANDLED if applied else Result.DUPLICATE, attempt)


def _failed(
    subscription_name: str,
    envelope: Envelope,
    error: Exception,
    attempt: int,
    transport_dead_letters: bool,
) -> Outcome:
    delay = retry_after(error, attempt)
    if delay is not None:
        logger.warning(
            "%s failed (attempt %d), retrying in %.1fs: %s: %s",
            subscription_name,
            attempt,
            delay,
            type(error).__name__,
            error,
        )
        return Outcome(Result.RETRY, attempt, retry_after=delay, error=error)
    if transport_dead_letters and is_retryable(error):
        logger.error(
            "%s failed on its last attempt %d; the transport dead-letters it: %s: %s",
            subscription_name,
            attempt,
            type(error).__name__,
            error,
        )
        return Outcome(Result.DEAD_LETTER, attempt, error=error)
    record_dead_letter(
        subscription_name=subscription_name, envelope=envelope, error=error, attempts=attempt
    )
    return Outcome(Result.DEAD_LETTER, attempt, error=error, recorded=True)


def _run(subscription: Subscription, envelope: Envelope) -> bool:
    # The event as this subscription reads it (its version); the id, and so dedupe, is the same.
    envelope = envelope_as_read_by(subscription.versions, envelope)
    event = from_envelope(envelope)
    if not subscription.atomic:
        return _run_self_managed(subscription, event, envelope)
    try:
        with transaction.atomic():
            ProcessedEvent.objects.create(subscription=subscription.name, event_id=envelope.id)
            subscription.handler(event, envelope)
    except IntegrityError:
        if ProcessedEvent.objects.filter(
            subscription=subscription.name, event_id=envelope.id
        ).exists():
            _log_duplicate(subscription, envelope)
            return False
        raise
    logger.info("%s: handled %s %s", subscription.name, envelope.detail_type, envelope.id)
    return True


def _run_self_managed(subscription: Subscription, event: DomainEvent, envelope: Envelope) -> bool:
    """Run a handler that commits its own steps, outside any transaction.

    For side effects outside the database: an email must be claimed in a committed
    transaction before it is sent, or a crash after sending would send it twice. Such a
    handler is idempotent itself; the processed-event row, written once it returns, spares
    it a redelivery, and a handler that raises is retried like any other.
    """
    processed = ProcessedEvent.objects.filter(subscription=subscription.name, event_id=envelope.id)
    if processed.exists():
        _log_duplicate(subscription, envelope)
        return False
    subscription.handler(event, envelope)
    _, created = ProcessedEvent.objects.get_or_create(
        subscription=subscription.name, event_id=envelope.id
    )
    logger.info("%s: handled %s %s", subscription.name, envelope.detail_type, envelope.id)
    return created


def _log_duplicate(subscription: Subscription, envelope: Envelope) -> None:
    logger.info("%s: %s %s already processed", subscription.name, envelope.detail_type, envelope.id)
