"""``manage.py rebuild_recovery_dashboard``: make the dashboard's facts again from events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from notifications.recovery import default_rebuild_since, recovery_facts_rebuild


def _moment(text: str) -> datetime:
    moment = parse_datetime(text)
    if moment is None and (day := parse_date(text)) is not None:
        moment = datetime.combine(day, datetime.min.time())
    if moment is None:
        raise CommandError(f"--since: not a date or date-time: {text!r}")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = (
        "Rebuild the recovery dashboard's projection from the event history in the outbox. "
        "By default the facts of the last EVENT_RETENTION (the history known to be complete) "
        "are made again and older ones kept; --all starts from nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--since", help="rebuild the facts from this date (ISO 8601) on")
        group.add_argument(
            "--all",
            action="store_true",
            help="delete every fact and replay everything the outbox still holds (facts "
            "whose events were pruned are lost)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = (
            None
            if options["all"]
            else (_moment(options["since"]) if options["since"] else default_rebuild_since())
        )
        report = recovery_facts_rebuild(since=since)
        scope = "everything" if since is None else f"from {since.isoformat()}"
        self.stdout.write(
            f"Rebuilt {scope}: {report.deleted} facts replaced, {report.replayed} events "
            f"replayed, {report.facts} facts now."
        )
