"""Periodic upkeep of the API plumbing (Celery beat)."""

from __future__ import annotations

from celery import shared_task

from core.idempotency import idempotency_records_prune


@shared_task(name="core.prune_idempotency_records")
def prune_idempotency_records() -> int:
    return idempotency_records_prune()
