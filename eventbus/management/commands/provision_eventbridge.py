"""``manage.py provision_eventbridge``: create or update the EventBridge backend's resources."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from eventbus.aws.provisioning import KEPT, SKIPPED, provision


class Command(BaseCommand):
    help = (
        "Create or update the event bus and its archive, one rule + SQS queue (with "
        "dead-letter queue) per subscription, the schedule group, the schema registry with a "
        "schema per event type and version (skipped where the endpoint has no Schemas API) "
        "and, with --create-role, Scheduler's IAM role. Idempotent: a second run keeps "
        "everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Show the plan; change nothing.")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Delete rules on the bus that no subscription in the code owns.",
        )
        parser.add_argument(
            "--create-role",
            action="store_true",
            help="Also create the IAM role EventBridge Scheduler assumes to publish.",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="Print the actions as JSON, each with the resource as it should be "
            "(what eventbridge_template's resources are compared with).",
        )

    def handle(
        self,
        *args: Any,
        dry_run: bool,
        prune: bool,
        create_role: bool,
        as_json: bool,
        **options: Any,
    ):
        actions = provision(dry_run=dry_run, prune=prune, create_role=create_role)
        if as_json:
            self.stdout.write(json.dumps([asdict(item) for item in actions], indent=2))
            return
        rows = [("RESOURCE", "NAME", "OUTCOME", "NOTE")] + [
            (item.resource, item.name, item.outcome, item.note) for item in actions
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        for row in rows:
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            self.stdout.write(f"{line}  {row[3]}".rstrip())
        changes = sum(1 for item in actions if item.outcome not in (KEPT, SKIPPED))
        if dry_run:
            self.stdout.write(f"Dry run: {changes} change(s) planned, nothing was changed.")
        else:
            self.stdout.write(self.style.SUCCESS(f"{changes} change(s), {len(actions)} resources."))
