"""The one path that delivers events to a subscription, whichever transport carried them.

``dispatch()`` runs the handler once for one event: the processed-event row is written in
the handler's own transaction, so a redelivery (at-least-once buses redeliver) is a no-op
and a handler that fails leaves no trace. ``deliver_batch()`` is one delivery attempt of
what a transport received together (a relayed batch, an SQS receive): one transaction, the
processed-event rows claimed with one statement, the handler run on all of them at once
(or, should that fail, on each alone in a savepoint of its own, so a failing event is
retried alone while the others commit once). Each message ends in an :class:`Outcome`
that the transport only translates into its own retry mechanism.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.request_id import request_id_context
from eventbus.conversion import from_envelope
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.failures import is_retryable, message_text, record_dead_letter, retry_after
from eventbus.metrics import delivery_observed, handler_observed
from eventbus.models import ProcessedEvent
from eventbus.subscriptions import Subscription, get_subscription
from eventbus.tracing import delivery_outcomes_observed, delivery_span, handling, trusted
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
# What a transport received, and which delivery attempt of it this is (1-based).
Message = tuple[Any, int]


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
    envelope = trusted(envelope)
    subscription = get_subscription(subscription_name)
    read = envelope_as_read_by(subscription.versions, envelope)
    item = _Item(0, envelope, read, from_envelope(read), 1)
    with request_id_context(envelope.correlation_id), delivery_span(subscription.name, [envelope]):
        if not subscription.atomic:
            return _run_self_managed(subscription, item)
        with transaction.atomic():
            if not _claim(subscription.name, [envelope.id]):
                _log_duplicate(subscription, envelope)
                return False
            _call(subscription, [item])
        _log_handled(subscription, envelope)
        return True


def deliver(
    subscription_name: str,
    message: Any,
    *,
    attempt: int,
    parse: Parser = parse_message,
    transport_dead_letters: bool = False,
) -> Outcome:
    """One delivery attempt of one message: :func:`deliver_batch` of one."""
    return deliver_batch(
        subscription_name,
        [(message, attempt)],
        parse=parse,
        transport_dead_letters=transport_dead_letters,
    )[0]


class _RollBack(Exception):
    """Leaves a delivery's transaction, rolled back, without it counting as its failure."""


@dataclass(frozen=True)
class _Item:
    """One parsed event of a batch on its way to the handler."""

    index: int  # its position in the batch (and so in the outcomes)
    envelope: Envelope  # as published: its id is the processed-event key
    read: Envelope  # as the subscription reads it (its version)
    event: DomainEvent
    attempt: int


def deliver_batch(
    subscription_name: str,
    messages: Sequence[Message],
    *,
    parse: Parser = parse_message,
    transport_dead_letters: bool = False,
) -> list[Outcome]:
    """One delivery attempt of each message; an outcome per message, in order.

    A message that is no event, or a failure the policy does not retry, becomes a dead
    letter at once. A retryable failure comes back as ``RETRY`` until its last attempt;
    then it is dead-lettered here, or, with ``transport_dead_letters`` (SQS, whose
    redrive policy moves it to the queue's DLQ), left to the transport. One message that
    cannot even be read never holds back the others.
    """
    outcomes: list[Outcome | None] = [None] * len(messages)
    parsed: list[tuple[int, Envelope, int]] = []
    seen: set[str] = set()
    for index, (message, attempt) in enumerate(messages):
        try:
            envelope = trusted(parse(message))
        except Exception as error:  # whatever it is, it is not an event we can read
            outcomes[index] = _dead_letter_unread(subscription_name, message, attempt, error)
            continue
        if envelope.id in seen:  # the same event twice in one delivery
            outcomes[index] = Outcome(Result.DUPLICATE, attempt)
            continue
        seen.add(envelope.id)
        parsed.append((index, envelope, attempt))
    with delivery_span(subscription_name, [envelope for _, envelope, _ in parsed]):
        return _deliver_parsed(subscription_name, parsed, outcomes, transport_dead_letters)


def _deliver_parsed(
    subscription_name: str,
    parsed: list[tuple[int, Envelope, int]],
    outcomes: list[Outcome | None],
    transport_dead_letters: bool,
) -> list[Outcome]:
    items: list[_Item] = []
    try:
        subscription = get_subscription(subscription_name)
    except LookupError as error:
        for index, envelope, attempt in parsed:
            outcomes[index] = _failed(subscription_name, envelope, error, attempt, False)
        return _observed(subscription_name, [outcome for outcome in outcomes if outcome])
    for index, envelope, attempt in parsed:
        try:
            read = envelope_as_read_by(subscription.versions, envelope)
            items.append(_Item(index, envelope, read, from_envelope(read), attempt))
        except Exception as error:  # an event of no known type or version: poison
            outcomes[index] = _failed(subscription.name, envelope, error, attempt, False)
    if not subscription.atomic:
        for item in items:
            outcomes[item.index] = _deliver_self_managed(subscription, item, transport_dead_letters)
    elif items:
        _deliver_atomically(subscription, items, outcomes, transport_dead_letters)
    return _observed(subscription_name, [outcome for outcome in outcomes if outcome is not None])


def _observed(subscription_name: str, outcomes: list[Outcome]) -> list[Outcome]:
    counts = Counter(outcome.result.value for outcome in outcomes)
    for result, count in counts.items():
        delivery_observed(subscription=subscription_name, outcome=result, events=count)
    delivery_outcomes_observed(counts)
    return outcomes


def _deliver_atomically(
    subscription: Subscription,
    items: list[_Item],
    outcomes: list[Outcome | None],
    transport_dead_letters: bool,
) -> None:
    """Claim and handle ``items`` in one transaction; failures are decided after it."""
    failures: list[tuple[_Item, Exception]] = []
    claimed: set[str] = set()
    try:
        with transaction.atomic():
            claimed = _claim(subscription.name, [item.envelope.id for item in items])
            mine = [item for item in items if item.envelope.id in claimed]
            if len(mine) == 1:
                # Alone, it needs no savepoint: if it fails, the transaction goes with it.
                try:
                    with _correlation_of(mine):
                        _call(subscription, mine)
                except Exception as error:
                    failures = [(mine[0], error)]
                    raise _RollBack from error
            elif mine:
                failures = _call_isolating_failures(subscription, mine)
            if failures:
                ProcessedEvent.objects.filter(
                    subscription=subscription.name,
                    event_id__in=[item.envelope.id for item, _ in failures],
                ).delete()
    except _RollBack:
        pass  # the lone event's failure is decided below, its claim rolled back
    except Exception as error:  # the transaction itself failed (database gone, deadlock)
        for item in items:
            outcomes[item.index] = _failed(
                subscription.name, item.envelope, error, item.attempt, transport_dead_letters
            )
        return
    failed = {item.index for item, _ in failures}
    for item in items:
        if item.envelope.id not in claimed:
            _log_duplicate(subscription, item.envelope)
            outcomes[item.index] = Outcome(Result.DUPLICATE, item.attempt)
        elif item.index not in failed:
            _log_handled(subscription, item.envelope)
            outcomes[item.index] = Outcome(Result.HANDLED, item.attempt)
    for item, error in failures:
        outcomes[item.index] = _failed(
            subscription.name, item.envelope, error, item.attempt, transport_dead_letters
        )


def _call_isolating_failures(
    subscription: Subscription, items: list[_Item]
) -> list[tuple[_Item, Exception]]:
    """Run the handler on ``items`` in a savepoint; if that fails, on each item alone in a
    savepoint of its own. Returns the items that failed on their own, with their errors."""
    if len(items) > 1 and subscription.batch:
        try:
            with transaction.atomic(), _correlation_of(items):
                _call(subscription, items)
            return []
        except Exception:
            logger.info("%s: a batch of %d failed; each event alone", subscription.name, len(items))
    failures = []
    for item in items:
        try:
            with transaction.atomic(), _correlation_of([item]):
                _call(subscription, [item])
        except Exception as error:
            failures.append((item, error))
    return failures


def _call(subscription: Subscription, items: list[_Item]) -> None:
    started = time.perf_counter()
    try:
        if subscription.batch:
            subscription.handler([(item.event, item.read) for item in items])
        else:
            for item in items:
                with handling(item.envelope):
                    subscription.handler(item.event, item.read)
    finally:
        handler_observed(subscription=subscription.name, seconds=time.perf_counter() - started)


@contextmanager
def _correlation_of(items: list[_Item]) -> Iterator[None]:
    """Bind the events' correlation id for the handler's log lines, when they share one."""
    ids = {item.envelope.correlation_id for item in items}
    with request_id_context(ids.pop() if len(ids) == 1 else None):
        yield


def _claim(subscription_name: str, event_ids: list[str]) -> set[str]:
    """Insert the processed-event rows of ``event_ids``; returns the ids this call claimed.

    One statement for the batch. A row that exists already (a redelivery) or that a
    concurrent delivery is inserting (it waits for that one's commit) is not claimed: the
    event is a duplicate here, whatever became of it there.
    """
    table = connection.ops.quote_name(ProcessedEvent._meta.db_table)
    now = timezone.now()
    values = ", ".join(["(%s, %s, %s)"] * len(event_ids))
    parameters: list[Any] = []
    for event_id in event_ids:
        parameters += [subscription_name, event_id, now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (subscription, event_id, processed_at) VALUES {values} "
            "ON CONFLICT (subscription, event_id) DO NOTHING RETURNING event_id",
            parameters,
        )
        return {row[0] for row in cursor.fetchall()}


def _dead_letter_unread(
    subscription_name: str, message: Any, attempt: int, error: Exception
) -> Outcome:
    record_dead_letter(
        subscription_name=subscription_name,
        envelope=None,
        error=error,
        attempts=attempt,
        raw_message=message_text(message),
    )
    return Outcome(Result.DEAD_LETTER, attempt, error=error, recorded=True)


def _failed(
    subscription_name: str,
    envelope: Envelope,
    error: Exception,
    attempt: int,
    transport_dead_letters: bool,
) -> Outcome:
    """The failure policy's verdict on ``error`` in attempt ``attempt`` of ``envelope``."""
    delay = retry_after(error, attempt)
    with request_id_context(envelope.correlation_id):
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


def _deliver_self_managed(
    subscription: Subscription, item: _Item, transport_dead_letters: bool
) -> Outcome:
    with request_id_context(item.envelope.correlation_id):
        try:
            applied = _run_self_managed(subscription, item)
        except Exception as error:
            return _failed(
                subscription.name, item.envelope, error, item.attempt, transport_dead_letters
            )
    return Outcome(Result.HANDLED if applied else Result.DUPLICATE, item.attempt)


def _run_self_managed(subscription: Subscription, item: _Item) -> bool:
    """Run a handler that commits its own steps, outside any transaction.

    For side effects outside the database: an email must be claimed in a committed
    transaction before it is sent, or a crash after sending would send it twice. Such a
    handler is idempotent itself; the processed-event row, written once it returns, spares
    it a redelivery, and a handler that raises is retried like any other.
    """
    envelope = item.envelope
    processed = ProcessedEvent.objects.filter(subscription=subscription.name, event_id=envelope.id)
    if processed.exists():
        _log_duplicate(subscription, envelope)
        return False
    _call(subscription, [item])
    try:
        _, created = ProcessedEvent.objects.get_or_create(
            subscription=subscription.name, event_id=envelope.id
        )
    except IntegrityError:  # a concurrent delivery recorded it first
        created = False
    _log_handled(subscription, envelope)
    return created


def _log_handled(subscription: Subscription, envelope: Envelope) -> None:
    with request_id_context(envelope.correlation_id):
        logger.info("%s: handled %s %s", subscription.name, envelope.detail_type, envelope.id)


def _log_duplicate(subscription: Subscription, envelope: Envelope) -> None:
    with request_id_context(envelope.correlation_id):
        logger.info(
            "%s: %s %s already processed", subscription.name, envelope.detail_type, envelope.id
        )
