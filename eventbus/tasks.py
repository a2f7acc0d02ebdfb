"""Celery tasks of the bus. Each loads what it needs and calls the bus's services."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from config.request_id import request_id_context
from eventbus.delivery import dispatch, is_retryable, max_attempts, record_dead_letter, retry_delay
from eventbus.outbox import sweep_outbox as sweep_outbox_service
from eventbus.retention import prune_bus_records as prune_bus_records_service
from eventbus.scheduling import publish_due_scheduled_events as publish_due_service

logger = logging.getLogger(__name__)


@shared_task(name="eventbus.deliver", bind=True, acks_late=True, max_retries=None)
def deliver(self: Any, subscription_name: str, envelope: dict[str, Any]) -> None:
    """Deliver one event to one subscription; retry with backoff, then dead-letter."""
    attempt = self.request.retries + 1
    with request_id_context(_correlation_id(envelope)):
        try:
            dispatch(subscription_name, envelope)
        except Exception as error:
            if not is_retryable(error) or attempt >= max_attempts():
                record_dead_letter(
                    subscription_name=subscription_name,
                    envelope=envelope,
                    error=error,
                    attempts=attempt,
                )
                return
            delay = retry_delay(attempt)
            logger.warning(
                "%s failed (attempt %d), retrying in %.1fs: %s",
                subscription_name,
                attempt,
                delay,
                error,
            )
            raise self.retry(exc=error, countdown=delay) from error


def _correlation_id(envelope: Any) -> str | None:
    detail = envelope.get("detail") if isinstance(envelope, dict) else None
    value = detail.get("correlation_id") if isinstance(detail, dict) else None
    return value if isinstance(value, str) else None


@shared_task(name="eventbus.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    return sweep_outbox_service().published


@shared_task(name="eventbus.publish_due_scheduled_events", ignore_result=True)
def publish_due_scheduled_events() -> int:
    return publish_due_service()


@shared_task(name="eventbus.prune_bus_records", ignore_result=True)
def prune_bus_records() -> int:
    report = prune_bus_records_service()
    return report.outbox_events + report.processed_events
