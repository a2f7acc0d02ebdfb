"""Retention of the shop's guest data: guest carts nobody touched for ``CART_RETENTION``
go, with their reminders, and so do expired sessions.

It lives here, above the cart, because a pending reminder has a schedule on the bus (a
local row, or an EventBridge Scheduler schedule) that must be cancelled before its cart
and reminder rows are deleted; the cart itself knows nothing of reminders.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.utils import timezone

from cart.selectors import carts_stale
from cart.services import carts_delete_stale
from notifications.models import Reminder
from notifications.services import reminder_cancel

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass
class CartPruneReport:
    carts: int = 0
    reminders_cancelled: int = 0
    sessions_cleared: bool = False


def stale_carts_prune(*, older_than: timedelta | None = None) -> CartPruneReport:
    """Delete guest carts untouched for ``older_than`` (default ``CART_RETENTION``) in
    batches, cancelling their pending reminders' schedules first; then expired sessions."""
    cutoff = timezone.now() - (older_than or settings.CART_RETENTION)
    report = CartPruneReport()
    while True:
        cart_ids = carts_stale(before=cutoff, limit=BATCH)
        if not cart_ids:
            break
        pending = Reminder.objects.filter(cart_id__in=cart_ids, status=Reminder.Status.PENDING)
        report.reminders_cancelled += sum(
            reminder_cancel(reminder_id=reminder_id, reason="cart pruned")
            for reminder_id in pending.values_list("pk", flat=True)
        )
        report.carts += carts_delete_stale(cart_ids=cart_ids, before=cutoff)
        if len(cart_ids) < BATCH:
            break
    try:
        import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
        report.sessions_cleared = True
    except NotImplementedError:  # a session store that expires by itself (cache, cookies)
        pass
    if report.carts:
        logger.info("pruned guest carts untouched since %s: %s", cutoff.isoformat(), report)
    return report
