"""The failure policy, beneath everything that delivers or publishes: which errors are worth
another attempt, how long to wait before attempt n, how many attempts an event gets, and how
an event that can never be delivered is kept (a dead letter an operator can replay)."""

from __future__ import annotations

import json
import logging
import random
import traceback as traceback_module
from typing import Any

from django.conf import settings

from eventbus.envelope import Envelope, MalformedEnvelope
from eventbus.models import DeadLetter

logger = logging.getLogger(__name__)


class PermanentFailure(Exception):
    """Raised by a handler for an event that can never succeed: no retries, dead letter."""


# Errors that fail the same way however often they are retried: a message that is no
# event, a handler that says so, a subscription or record that does not exist.
NON_RETRYABLE = (MalformedEnvelope, PermanentFailure, LookupError)


def is_retryable(error: BaseException) -> bool:
    return not isinstance(error, NON_RETRYABLE)


def max_attempts() -> int:
    """Deliveries of one event to one subscription before it becomes a dead letter."""
    return int(settings.EVENT_BUS["MAX_ATTEMPTS"])


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


def retry_after(error: BaseException, attempt: int) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None when ``error`` on attempt
    ``attempt`` ends the event's deliveries (not retryable, or the last attempt)."""
    if not is_retryable(error) or attempt >= max_attempts():
        return None
    return retry_delay(attempt)


def record_dead_letter(
    *,
    subscription_name: str,
    envelope: Envelope | dict[str, Any] | None,
    error: BaseException | str,
    attempts: int,
    raw_message: str = "",
    event_id: str = "",
) -> DeadLetter:
    """Keep an undeliverable event with its error so an operator can fix and replay it.

    ``envelope`` that is not an envelope (a malformed message) is kept as ``raw_message``.
    """
    if isinstance(envelope, Envelope):
        envelope = envelope.to_dict()
    if envelope is not None and not isinstance(envelope, dict):
        raw_message = raw_message or message_text(envelope)
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


def message_text(value: Any) -> str:
    """A message as text for a dead letter: bodies as they came, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
