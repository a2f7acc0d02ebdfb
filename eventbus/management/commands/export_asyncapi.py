"""``manage.py export_asyncapi``: write the AsyncAPI event catalog, or check it is current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventbus.catalog import asyncapi_document, catalog_path, to_json
from eventbus.compatibility import catalog_changes


class Command(BaseCommand):
    # Not held back by the catalog's own checks: this is the tool that settles them.
    requires_system_checks: list[str] = []
    help = (
        "Write the AsyncAPI 3.0 catalog of the event types and subscriptions (by default to "
        "EVENT_CATALOG['PATH'], docs/events/asyncapi.json). Refuses to overwrite a catalog "
        "the code is not backward compatible with, unless --allow-breaking."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", help="file to write ('-': standard output)")
        parser.add_argument(
            "--check",
            action="store_true",
            help="write nothing; fail when the file differs from what the code generates",
        )
        parser.add_argument(
            "--allow-breaking",
            action="store_true",
            help="overwrite even when the code breaks the catalog's contract",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        document = asyncapi_document()
        text = to_json(document)
        if options["output"] == "-":
            if options["check"]:
                raise CommandError("--check compares a file: give --output PATH or none")
            self.stdout.write(text, ending="")
            return
        path = Path(options["output"]) if options["output"] else catalog_path()
        committed = _read(path)
        findings = catalog_changes(committed, document) if committed is not None else []
        if options["check"]:
            if committed is None:
                raise CommandError(f"{path} does not exist: run manage.py export_asyncapi")
            if committed != document:
                listed = "\n".join(f"  - {item}" for item in findings)
                raise CommandError(
                    f"{path} is out of date with the code; run manage.py export_asyncapi.\n{listed}"
                )
            self.stdout.write(f"{path} is up to date.")
            return
        breaking = [item for item in findings if item.breaking]
        if breaking and not options["allow_breaking"]:
            listed = "\n".join(f"  - {item}" for item in breaking)
            raise CommandError(
                f"the code is not backward compatible with {path}:\n{listed}\n"
                "Introduce a new event version instead (docs/events/README.md), or pass "
                "--allow-breaking when every consumer and stored event has been dealt with."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        messages = document["components"]["messages"]
        receivers = [op for op in document["operations"].values() if op["action"] == "receive"]
        self.stdout.write(
            f"Wrote {path}: {len(messages)} messages (event types and versions), "
            f"{len(receivers)} subscriptions."
        )
        for item in findings:
            self.stdout.write(f"  - {item}")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise CommandError(f"{path} is not JSON: {error}") from error
