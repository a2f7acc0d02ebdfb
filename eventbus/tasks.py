"""Celery tasks of the bus (found by Celery's autodiscovery): the delivery task of the
Celery transport, and the periodic sweep, schedule firing and pruning that beat runs."""

from __future__ import annotations

from celery import shared_task

from eventbus.backends.celery import deliver, deliver_batch
from eventbus.relay import sweep_outbox as sweep_outbox_service
from eventbus.retention import prune_bus_records as prune_bus_records_service
from eventbus.scheduling import publish_due_scheduled_events as publish_due_service

__all__ = [
    "deliver",
    "deliver_batch",
    "prune_bus_records",
    "publish_due_scheduled_events",
    "sweep_outbox",
]


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
