"""``manage.py fire_due_schedules_dev``: DEVELOPMENT ONLY, fire due EventBridge Scheduler
schedules against a local moto server (see :mod:`eventbus.aws.dev_scheduler`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventbus.aws.dev_scheduler import ensure_local_endpoints, fire_due_schedules
from eventbus.management.graceful_stop import repeat_until_stopped, stop_on_signals


class Command(BaseCommand):
    help = (
        "DEVELOPMENT ONLY (moto never fires schedules): publish due one-time Scheduler "
        "schedules to their bus and delete them. Refuses non-loopback AWS endpoints."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep firing until stopped.")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between passes with --loop."
        )

    def handle(self, *args: Any, loop: bool, interval: float, **options: Any) -> None:
        try:
            ensure_local_endpoints()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        if not loop:
            self.stdout.write(f"fired {fire_due_schedules()} schedule(s)")
            return
        self.stdout.write("Firing due schedules against moto (development only; SIGTERM stops)")
        with stop_on_signals() as stop:
            repeat_until_stopped(
                fire_due_schedules, interval=interval, stop=stop, what="firing schedules"
            )
