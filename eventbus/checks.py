"""System checks of the event catalog, run by ``manage.py check`` and the test suite.

The committed catalog (``EVENT_CATALOG["PATH"]``, written by ``manage.py export_asyncapi``)
is the contract with every consumer: a change to the code that could refuse or misread an
event it describes is an error; a compatible change is a warning to regenerate it.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from eventbus.catalog import asyncapi_document, catalog_path
from eventbus.compatibility import catalog_changes
from eventbus.subscriptions import all_subscriptions
from eventbus.versioning import version_problems

REGENERATE = "Run `manage.py export_asyncapi` and commit docs/events/asyncapi.json."
NEW_VERSION = (
    "A breaking change goes through a new version of the event type: declare it with the "
    "next `version`, keep the old one declared and add an @upcaster between them "
    "(docs/events/README.md)."
)


@register("eventbus")
def check_event_catalog(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = [
        Error(problem, hint=NEW_VERSION, id="eventbus.E002")
        for problem in version_problems(
            {
                f"subscription {item.name}": item.versions
                for item in all_subscriptions()
                if item.versions
            }
        )
    ]
    path = catalog_path()
    try:
        committed = json.loads(path.read_text())
    except FileNotFoundError:
        return [
            *messages,
            Warning(f"no event catalog at {path}", hint=REGENERATE, id="eventbus.W002"),
        ]
    except (OSError, ValueError) as error:
        return [
            *messages,
            Error(
                f"the event catalog at {path} cannot be read: {error}",
                hint=REGENERATE,
                id="eventbus.E003",
            ),
        ]
    findings = catalog_changes(committed, asyncapi_document())
    for finding in findings:
        if finding.breaking:
            messages.append(
                Error(
                    f"{finding} (not backward compatible with {path.name})",
                    hint=NEW_VERSION,
                    id="eventbus.E001",
                )
            )
    compatible = [str(finding) for finding in findings if not finding.breaking]
    if compatible:
        messages.append(
            Warning(
                "the event catalog is out of date: " + "; ".join(compatible),
                hint=REGENERATE,
                id="eventbus.W001",
            )
        )
    return messages
