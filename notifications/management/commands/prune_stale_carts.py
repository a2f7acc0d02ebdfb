"""``manage.py prune_stale_carts``: delete guest carts untouched for ``CART_RETENTION``
(with their reminders) and expired sessions; what beat runs hourly, for cron without beat."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from notifications.retention import stale_carts_prune


class Command(BaseCommand):
    help = (
        "Delete guest carts nobody touched for CART_RETENTION, with their reminders (their "
        "schedules cancelled), and expired sessions."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = stale_carts_prune()
        self.stdout.write(
            f"pruned {report.carts} guest carts ({report.reminders_cancelled} pending "
            f"reminders cancelled); expired sessions "
            f"{'cleared' if report.sessions_cleared else 'left to their store'}"
        )
