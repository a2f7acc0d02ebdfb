"""The one path that runs a handler, whichever backend delivered the event.

Idempotent: the processed-event row is written in the handler's own transaction, so a
redelivery (at-least-once buses redeliver) is a no-op, and a handler that fails leaves
no trace but its retry. Retry timing and dead letters live here too, shared by backends.
"""

from __future__ import annotations

import json
import logging
import random
import traceback as traceback_module
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.request_id import request_id_context
from eventbus.conversion import from_envelope
from eventbus.envelope import Envelope, MalformedEnvelope
from eventbus.events import DomainEvent
from eventbus.models import DeadLetter, ProcessedEvent
from eventbus.subscriptions import Subscription, get_subscription
from eventbus.versioning import envelope_as_read_by

logger = logging.getLogger(__name__)


class PermanentFailure(Exception):
    """Raised by a handler for an event that can never succeed: no retries, dead letter."""


NON_RETRYABLE = (MalformedEnvelope, PermanentFailure, LookupError)


def dispatch(subscription_name: str, envelope: Envelope | dict[str, Any]) -> bool:
    """Run the subscription's handler for ``envelope`` once; False for a duplicate."""
    if not isinstance(envelope, Envelope):
        envelope = Envelope.from_dict(envelope)
    subscription = get_subscription(subscription_name)
    envelope = envelope_as_read_by(subscription.versions, envelope)
    event = from_envelope(envelope)
    with request_id_context(envelope.correlation_id):
        if not subscription.atomic:
            return _dispatch_self_managed(subscription, event, envelope)
        try:
            with transaction.atomic():
                ProcessedEvent.objects.create(subscription=subscription.name, event_id=envelope.id)
                subscription.handler(event, envelope)
        except IntegrityError:
            if ProcessedEvent.objects.filter(
                subscription=subscription.name, event_id=envelope.id
            ).exists():
                logger.info(
                    "%s: %s %s already processed",
                    subscription.name,
                    envelope.detail_type,
                    envelope.id,
                )
                return False
            raise
        logger.info("%s: handled %s %s", subscription.name, envelope.detail_type, envelope.id)
        return True


def _dispatch_self_managed(
    subscription: Subscription, event: DomainEvent, envelope: Envelope
) -> bool:
    """Run a handler that commits its own steps, outside any transaction.

    For side effects outside the database: an email must be claimed in a committed
    transaction before it is sent, or a crash after sending would send it twice. Such a
    handler is idempotent itself; the processed-event row, written once it returns, spares
    it a redelivery, and a handler that raises is retried like any other.
    """
    processed = ProcessedEvent.objects.filter(subscription=subscription.name, event_id=envelope.id)
    if processed.exists():
        logger.info(
            "%s: %s %s already processed", subscription.name, envelope.detail_type, envelope.id
        )
        return False
    subscription.handler(event, envelope)
    _, created = ProcessedEvent.objects.get_or_create(
        subscription=subscription.name, event_id=envelope.id
    )
    logger.info("%s: handled %s %s", subscription.name, envelope.detail_type, envelope.id)
    return created


def retry_delay(attempt: int) -> float:
    """Seconds before retry ``attempt`` (1-based): exponential, capped, jittered.

    The delay is drawn from [ceiling/2, ceiling] ("equal jitter"): random enough that a
    burst of failures does not retry in lock-step, yet each retry waits at least as long
    as the one before, until the cap.
    """
    config = settings.EVENT_BUS
    exponent = min(max(attempt, 1) - 1, 64)  # 2**64 seconds is past any sensible cap
    ceiling = min(config["RETRY_MAX_SECONDS"], config["RETRY_BASE_SECONDS"] * 2**exponent)
    return random.uniform(ceiling / 2, ceiling)


def max_attempts() -> int:
    return int(settings.EVENT_BUS["MAX_ATTEMPTS"])


def is_retryable(error: BaseException) -> bool:
    return not isinstance(error, NON_RETRYABLE)


def record_dead_letter(
    *,
    subscription_name: str,
    envelope: Envelope | dict[str, Any] | None,
    error: BaseException | str,
    attempts: int,
    raw_message: str = "",
    event_id: str = "",
) -> DeadLetter:
    """Keep an undeliverable event with its error so an operator can fix and replay it."""
    if isinstance(envelope, Envelope):
        envelope = envelope.to_dict()
    if envelope is not None and not isinstance(envelope, dict):
        raw_message = raw_message or _as_text(envelope)
        envelope = None
    if isinstance(error, BaseException):
        trace = "".join(traceback_module.format_exception(error))
        message = f"{type(error).__name__}: {error}"
    else:
        trace, message = "", error
    letter = DeadLetter.objects.create(
        subscription=subscription_name,
        event_id=str((envelope or {}).get("id", "")) or event_id,
        detail_type=str((envelope or {}).get("detail-type", "")),
        envelope=envelope,
        raw_message=raw_message,
        error=message,
        traceback=trace,
        attempts=attempts,
    )
    logger.error("dead letter %s for %s: %s", letter.pk, subscription_name, message)
    return letter


def _as_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def replay_dead_letter(letter: DeadLetter) -> None:
    """Send a dead letter on again: republish it, or redeliver it to its subscription.

    Replaying twice is harmless: delivery is idempotent per (subscription, event id). Raises
    (and leaves the letter unreplayed) when the letter cannot be sent again.
    """
    from eventbus.backends import get_backend
    from eventbus.models import OutboxEvent
    from eventbus.outbox import relay_outbox

    if letter.envelope is None:
        raise MalformedEnvelope(f"dead letter {letter.pk} has no envelope to replay")
    envelope = Envelope.from_dict(letter.envelope)
    if letter.subscription == DeadLetter.PUBLISH:
        with transaction.atomic():
            reset = OutboxEvent.objects.filter(pk=envelope.id).update(
                status=OutboxEvent.Status.PENDING,
                next_attempt_at=timezone.now(),
                attempts=0,
                last_error="",
            )
            if not reset:
                raise LookupError(f"outbox event {envelope.id} of dead letter {letter.pk} is gone")
            transaction.on_commit(lambda: relay_outbox(ids=[envelope.id]), robust=True)
    else:
        get_subscription(letter.subscription)  # fail here, not in a worker, if it is gone
        get_backend().redeliver(letter.subscription, envelope)
    letter.replayed_at = timezone.now()
    letter.save(update_fields=["replayed_at"])
    logger.info("replayed dead letter %s (%s, %s)", letter.pk, letter.subscription, envelope.id)
