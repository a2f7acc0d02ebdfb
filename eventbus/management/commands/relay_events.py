"""``manage.py relay_events``: the outbox relay, local schedules and hourly pruning, for
deployments without Celery beat, or as the machine's one relay of every web process's
events (``OUTBOX_RELAY_AFTER_COMMIT=off``: on PostgreSQL it wakes on each commit and
batches what the linger gathers, see eventbus.wakeups). Runs until SIGTERM or SIGINT;
``--once`` does a single pass."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from eventbus.management.graceful_stop import stop_on_signals
from eventbus.relay import RelayReport, sweep_outbox
from eventbus.retention import prune_bus_records
from eventbus.scheduling import publish_due_scheduled_events
from eventbus.wakeups import OutboxWakeups

logger = logging.getLogger(__name__)

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
        parser.add_argument(
            "--linger",
            type=float,
            default=0.02,
            help="on PostgreSQL, the shortest time between two batches (default 0.02): a "
            "commit that wakes an idle relay goes out at once, commits that come while it "
            "is busy or within this time of its last batch travel together as the next",
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

        if options["linger"] < 0:
            raise CommandError("--linger must not be negative")
        self.stdout.write(f"relaying every {options['interval']:g}s; SIGTERM or Ctrl-C stops")
        with stop_on_signals() as stop:
            self.relay_until(stop, interval=options["interval"], linger=options["linger"])
        self.stdout.write("relay stopped")

    def relay_until(self, stop: threading.Event, *, interval: float, linger: float) -> None:
        """A full pass every ``interval``; between them, on PostgreSQL, an outbox sweep for
        each commit that wakes the relay, at most one per ``linger`` (Nagle's rule: no
        wait when idle, batches under load). A pass in progress is finished
        (its rows are committed or rolled back whole); a failing pass (the database or the
        bus is down) is logged and tried again at the next one."""
        wakeups = OutboxWakeups(stop=stop)
        if wakeups.listening:
            self.stdout.write("woken by outbox commits (LISTEN eventbus_outbox)")
        self.stdout.flush()
        next_pass = next_prune = last_sweep = 0.0
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() >= next_pass:
                        next_pass = time.monotonic() + interval
                        # Once per pass, as Django does once per request, not per woken batch
                        # (each check costs a round trip); after a failure, at once.
                        close_old_connections()
                        self.run_pass(quiet=True)
                    if time.monotonic() >= next_prune:
                        next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                        prune_bus_records()  # without beat, this loop keeps the tables pruned
                    if wakeups.wait(max(next_pass - time.monotonic(), 0.0)):
                        wakeups.linger(last_sweep + linger - time.monotonic())
                        last_sweep = time.monotonic()
                        report = sweep_outbox()
                        if report.claimed:
                            self.stdout.write(f"outbox: {_outcomes(report)}")
                            self.stdout.flush()
                except Exception:
                    logger.exception("relay pass failed; trying again in %ss", interval)
                    close_old_connections()
                    stop.wait(min(interval, 1.0))
        finally:
            wakeups.close()

    def run_pass(self, *, quiet: bool) -> None:
        """Publish due schedules (their rows go out right after commit), then sweep."""
        scheduled = publish_due_scheduled_events()
        report = sweep_outbox()
        if quiet and not (scheduled or report.claimed):
            return
        self.stdout.write(f"scheduled events due: {scheduled}; outbox: {_outcomes(report)}")
        self.stdout.flush()


def _outcomes(report: RelayReport) -> str:
    return f"{report.published} published, {report.retrying} retrying, {report.dead} dead"
