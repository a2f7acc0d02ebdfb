"""``manage.py consume_events``: long-poll the subscriptions' SQS queues and handle events."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventbus.aws.consumer import consume
from eventbus.management.graceful_stop import stop_on_signals
from eventbus.subscriptions import all_subscriptions


class Command(BaseCommand):
    help = (
        "Consume events from SQS (EVENT_BUS_BACKEND=eventbridge): one long-polling thread per "
        "subscription queue. SIGTERM or Ctrl-C: finish the messages in hand, then stop."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--subscription",
            action="append",
            dest="subscriptions",
            metavar="NAME",
            help="Consume only this subscription's queue (repeatable). Default: all.",
        )
        parser.add_argument(
            "--wait-seconds",
            type=int,
            default=20,
            help="Long-poll wait of each ReceiveMessage, 0-20 (default 20).",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Exit once every queue came back empty (for scripts and tests).",
        )

    def handle(
        self,
        *args: Any,
        subscriptions: list[str] | None,
        wait_seconds: int,
        once: bool,
        **options: Any,
    ) -> None:
        known = [item.name for item in all_subscriptions()]
        names = subscriptions or known
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise CommandError(f"unknown subscription(s) {unknown}; known: {known}")
        if not 0 <= wait_seconds <= 20:
            raise CommandError("--wait-seconds must be between 0 and 20")
        with stop_on_signals() as stop:
            if not once:
                self.stdout.write(f"Consuming {', '.join(names)} (SIGTERM stops)")
            try:
                report = consume(names, wait_seconds=wait_seconds, once=once, stop=stop)
            except ImproperlyConfigured as error:
                raise CommandError(str(error)) from error
        self.stdout.write(
            f"received {report.received}, handled {report.handled}, duplicates "
            f"{report.duplicates}, failed {report.failed}, dead letters {report.dead_lettered}"
        )
        if report.errors:
            raise CommandError(f"consumer failed: {report.errors[0]!r}")
