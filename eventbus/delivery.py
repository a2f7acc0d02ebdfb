"""The one path that runs a handler, whichever backend delivered the event.

Idempotent: the processed-event row is written in the handler's own transaction, so a
redelivery (at-least-once buses redeliver) is a no-op, and a handler that fails leaves
no trace but its retry. Retry timing and dead letters live here too, shared by backends.
"""

from __future__ import annotations

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
from eventbus.models import DeadLetter, ProcessedEvent
from eventbus.subscriptions import get_subscription

logger = logging.getLogger(__name__)


class PermanentFailure(Exception):
    """Raised by a handler for an event that can never succeed: no retries, dead letter."""


NON_RETRYABLE = (MalformedEnvelope, PermanentFailure, LookupError)


def dispatch(subscription_name: str, envelope: Envelope | dict[str, Any]) -> bool:
    """Run the subscription's handler for ``envelope`` once; False for a duplicate."""
    if not isinstance(envelope, Envelope):
        envelope = Envelope.from_dict(envelope)
    subscription = get_subscription(subscription_name)
    event = from_envelope(envelope)
    with request_id_context(envelope.correlation_id):
        try:
            with transaction.atomic():
                ProcessedEvent.objects.create(subscription=subscription.name, event_id=envelope.id)
                subscription.handler(event, envelope)
        except IntegrityError:
            if ProcessedEvent.objects.filter(
                subscription=subscription.name, event_id=envelope.id
            ).exists():
                logger.info("%s: %s %s already processed", subscription.name,
                            envelope.detail_type, envelope.id)
                return False
            raise
        logger.info("%s: handled %s %s", subscription.name, envelope.detail_type, envelope.id)
        return True


def retry_delay(attempt: int) -> float:
    """Seconds before retry ``attempt`` (1-based): exponential, capped, with full jitter."""
    config = settings.EVENT_BUS
    ceiling = min(config["RETRY_MAX_SECONDS"], config["RETRY_BASE_SECONDS"] * 2 ** (attempt - 1))
    # Full jitter keeps a burst of failures from retrying in lock-step.
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
) -> DeadLetter:
    """Keep an undeliverable event with its error so an operator can fix and replay it."""
    if isinstance(envelope, Envelope):
        envelope = envelope.to_dict()
    envelope = envelope if isinstance(envelope, dict) else None
    if isinstance(error, BaseException):
        trace = "".join(traceback_module.format_exception(error))
        message = f"{type(error).__name__}: {error}"
    else:
        trace, message = "", error
    letter = DeadLetter.objects.create(
        subscription=subscription_name,
        event_id=str((envelope or {}).get("id", "")),
        detail_type=str((envelope or {}).get("detail-type", "")),
        envelope=envelope,
        raw_message=raw_message,
        error=message,
        traceback=trace,
        attempts=attempts,
    )
    logger.error("dead letter %s for %s: %s", letter.pk, subscription_name, message)
    return letter


def replay_dead_letter(letter: DeadLetter) -> None:
    """Send a dead letter on again: republish it, or redeliver it to its subscription."""
    from eventbus.backends import get_backend
    from eventbus.models import OutboxEvent

    if letter.envelope is None:
        raise MalformedEnvelope(f"dead letter {letter.pk} has no envelope to replay")
    if letter.subscription == DeadLetter.PUBLISH:
        OutboxEvent.objects.filter(pk=letter.event_id).update(
            status=OutboxEvent.Status.PENDING, next_attempt_at=timezone.now(), attempts=0
        )
    else:
        get_backend().redeliver(letter.subscription, Envelope.from_dict(letter.envelope))
    letter.replayed_at = timezone.now()
    letter.save(update_fields=["replayed_at"])
