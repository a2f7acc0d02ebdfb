"""``manage.py relay_events``: the outbox sweep, local schedules and hourly pruning, for
deployments without Celery beat. Runs until SIGTERM or SIGINT; ``--once`` does a single pass."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventbus.management.graceful_stop import repeat_until_stopped, stop_on_signals
from eventbus.relay import sweep_outbox
from eventbus.retention import prune_bus_records
from eventbus.scheduling import publish_due_scheduled_events

PRUNE_EVERY_SECONDS = 3600


class Command(BaseCommand):
    help = (
        "Publish what the outbox still holds and the local schedules that fell due, every "
        "--interval seconds, until stopped (SIGTERM/SIGINT); --once for a single pass."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="seconds between passes (default 5)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] <= 0:
            raise CommandError("--interval must be positive")
        if options["once"]:
            try:
                self.run_pass(quiet=False)
            except Exception as error:
                raise CommandError(f"relay pass failed: {error}") from error
            return

        next_prune = 0.0

        def relay_pass() -> None:
            nonlocal next_prune
            self.run_pass(quiet=True)
            if time.monotonic() >= next_prune:
                # Without beat, this loop also keeps the bus tables pruned (hourly).
                prune_bus_records()
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS

        self.stdout.write(f"relaying every {options['interval']:g}s; SIGTERM or Ctrl-C stops")
        with stop_on_signals() as stop:
            # A pass in progress is finished: its rows are committed or rolled back whole.
            repeat_until_stopped(
                relay_pass, interval=options["interval"], stop=stop, what="relay pass"
            )
        self.stdout.write("relay stopped")

    def run_pass(self, *, quiet: bool) -> None:
        """Publish due schedules (their rows go out right after commit), then sweep."""
        scheduled = publish_due_scheduled_events()
        report = sweep_outbox()
        if quiet and not (scheduled or report.claimed):
            return
        self.stdout.write(
            f"scheduled events due: {scheduled}; outbox: {report.published} published, "
            f"{report.retrying} retrying, {report.dead} dead",
        )
        self.stdout.flush()
