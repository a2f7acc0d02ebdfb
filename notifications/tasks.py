"""Celery tasks of notifications (found by Celery's autodiscovery): the hourly pruning of
stale guest carts that beat runs."""

from __future__ import annotations

from celery import shared_task

from notifications.retention import stale_carts_prune


@shared_task(name="notifications.prune_stale_carts", ignore_result=True)
def prune_stale_carts() -> int:
    return stale_carts_prune().carts
