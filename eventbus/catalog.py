"""The event catalog: an AsyncAPI 3.0 document generated from the event registry and the
subscriptions, so that what the code does and what the catalog says cannot drift apart.

The bus is one channel. Each event type and version is a message whose payload is the
JSON Schema of the whole envelope; each source (the service that publishes, as
EventBridge names it) is a ``send`` operation; each subscription is a ``receive``
operation carrying its EventBridge pattern (``x-eventbridge-pattern``). The committed copy
(``manage.py export_asyncapi``) is the contract that ``eventbus.checks`` holds the code to.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings

from eventbus.events import EventType, event_types, get_event_type
from eventbus.patterns import InvalidPattern, compile_pattern
from eventbus.schemas import envelope_schema, example_envelope
from eventbus.subscriptions import Subscription, all_subscriptions
from eventbus.versioning import reading_version

ASYNCAPI_VERSION = "3.0.0"
CHANNEL = "bus"
ROUTING_FIELDS = ("source", "detail-type")


def catalog_path() -> Path:
    """Where the committed catalog lives (``EVENT_CATALOG["PATH"]``)."""
    return Path(_catalog_settings()["PATH"])


def _catalog_settings() -> dict[str, Any]:
    defaults = {
        "PATH": Path(settings.BASE_DIR) / "docs" / "events" / "asyncapi.json",
        "TITLE": "Events",
        "VERSION": "1.0.0",
    }
    return {**defaults, **getattr(settings, "EVENT_CATALOG", {})}


def message_key(event_type: EventType) -> str:
    return f"{event_type.detail_type}-v{event_type.version}"


def send_key(source: str) -> str:
    return "send-" + re.sub(r"[^A-Za-z0-9_-]+", "-", source)


def receive_key(subscription: Subscription) -> str:
    return f"receive-{subscription.name}"


def asyncapi_document() -> dict[str, Any]:
    """The catalog of the events and subscriptions registered in this process."""
    options = _catalog_settings()
    return build_asyncapi(
        declared=list(event_types(all_versions=True)),
        subscriptions=list(all_subscriptions()),
        title=options["TITLE"],
        version=options["VERSION"],
    )


def build_asyncapi(
    *,
    declared: Iterable[EventType],
    subscriptions: Iterable[Subscription],
    title: str,
    version: str,
) -> dict[str, Any]:
    """The AsyncAPI document of ``declared`` (every version of every type) and
    ``subscriptions``; messages are keyed ``<detail-type>-v<version>``."""
    every_version = sorted(declared, key=lambda item: (item.detail_type, item.source, item.version))
    keys = [message_key(item) for item in every_version]
    if len(set(keys)) != len(keys):
        clashing = sorted({key for key in keys if keys.count(key) > 1})
        raise ValueError(f"two sources declare the same detail-type and version: {clashing}")
    latest = {(item.source, item.detail_type): item for item in every_version}
    channel_ref = {"$ref": f"#/channels/{CHANNEL}"}

    operations: dict[str, Any] = {}
    for source in sorted({item.source for item in latest.values()}):
        sent = [item for item in latest.values() if item.source == source]
        publishers = sorted({_app_label(item.event_class.__module__) or "?" for item in sent})
        operations[send_key(source)] = {
            "action": "send",
            "channel": channel_ref,
            "title": f"{source} publishes",
            "summary": f"Events published by the {', '.join(publishers)} app "
            f"(source {source}), at their latest version.",
            "messages": [_message_ref(item) for item in sent],
            "x-eventbridge-source": source,
            "x-django-apps": publishers,
        }
    for subscription in sorted(subscriptions, key=lambda item: item.name):
        received = [
            _version_read(subscription, item)
            for item in latest.values()
            if could_receive(subscription, item)
        ]
        operation: dict[str, Any] = {
            "action": "receive",
            "channel": channel_ref,
            "title": subscription.name,
            "summary": subscription.description or f"Subscription {subscription.name}.",
            "messages": [_message_ref(item) for item in received if item is not None],
            "x-subscription": subscription.name,
            "x-eventbridge-pattern": subscription.pattern,
            "x-filters-detail": filters_beyond_routing(subscription),
            "x-handler": _qualified_name(subscription.handler),
        }
        if app := _app_label(getattr(subscription.handler, "__module__", "")):
            operation["x-django-app"] = app
        if subscription.versions:
            operation["x-pinned-versions"] = dict(sorted(subscription.versions.items()))
        operations[receive_key(subscription)] = operation

    messages = {message_key(item): _message(item, latest) for item in every_version}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": (
                "The domain events on the shop's event bus: every type and version with "
                "the JSON Schema of its whole EventBridge envelope, who publishes it and "
                "who subscribes. Generated from the code by manage.py export_asyncapi; "
                "the committed copy is the compatibility contract (manage.py check)."
            ),
        },
        "defaultContentType": "application/json",
        "channels": {
            CHANNEL: {
                "address": None,
                "title": "Event bus",
                "description": (
                    "The bus every event travels on: an EventBridge custom bus "
                    "(EVENT_BUS_NAME), or locally the same routing evaluated in process "
                    "with Celery. Every subscription's pattern is an EventBridge rule."
                ),
                "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in messages},
            }
        },
        "operations": operations,
        "components": {"messages": messages},
    }


def _message(event_type: EventType, latest: dict[tuple[str, str], EventType]) -> dict[str, Any]:
    summary, description = _docstring(event_type.event_class)
    is_latest = latest[(event_type.source, event_type.detail_type)] is event_type
    message: dict[str, Any] = {
        "name": event_type.detail_type,
        "title": f"{event_type.detail_type} v{event_type.version}",
        "summary": summary or f"{event_type.detail_type} from {event_type.source}.",
        "contentType": "application/json",
        "payload": envelope_schema(event_type),
        "correlationId": {
            "description": "The request that caused the event (X-Request-ID).",
            "location": "$message.payload#/detail/correlation_id",
        },
        "examples": [{"name": message_key(event_type), "payload": example_envelope(event_type)}],
        "x-eventbridge": {
            "source": event_type.source,
            "detail-type": event_type.detail_type,
            "version": event_type.version,
            "latest": is_latest,
        },
        "x-declared-in": _qualified_name(event_type.event_class),
    }
    if description:
        message["description"] = description
    return message


def _message_ref(event_type: EventType) -> dict[str, str]:
    return {"$ref": f"#/channels/{CHANNEL}/messages/{message_key(event_type)}"}


def _version_read(subscription: Subscription, latest: EventType) -> EventType | None:
    """The declaration of the version of ``latest``'s type that ``subscription`` reads."""
    wanted = reading_version(subscription.versions, latest)
    if wanted == latest.version:
        return latest
    try:
        return get_event_type(latest.source, latest.detail_type, wanted)
    except LookupError:  # reported by the system check
        return None


def _docstring(event_class: type) -> tuple[str, str]:
    """(first line, rest) of a class's own docstring; dataclasses invent one, skip that."""
    text = inspect.cleandoc(event_class.__dict__.get("__doc__") or "")
    if text.startswith(f"{event_class.__name__}("):
        return "", ""
    first, _, rest = text.partition("\n\n")
    return " ".join(first.split()), rest.strip()


def _qualified_name(item: Any) -> str:
    return f"{getattr(item, '__module__', '?')}.{getattr(item, '__qualname__', item)}"


def _app_label(module: str) -> str | None:
    config = apps.get_containing_app_config(module) if module else None
    return config.label if config is not None else None


# --- Which subscriptions can receive a type ---------------------------------------------------


def routing_part(pattern: dict[str, Any]) -> dict[str, Any] | None:
    """The part of ``pattern`` that looks at source and detail-type (None: it does not)."""
    part = {key: value for key, value in pattern.items() if key in ROUTING_FIELDS}
    branches = pattern.get("$or")
    if isinstance(branches, list):
        branch_parts = [routing_part(branch) for branch in branches if isinstance(branch, dict)]
        # An alternative that ignores routing lets every type through: the $or adds nothing.
        if branch_parts and all(item is not None for item in branch_parts):
            part["$or"] = branch_parts
    return part or None


def could_receive(subscription: Subscription, event_type: EventType) -> bool:
    """Whether some events of ``event_type`` match the subscription's pattern, judging by
    source and detail-type only (a pattern on the detail may still skip some)."""
    part = routing_part(subscription.pattern)
    if part is None:
        return True
    try:
        matcher = compile_pattern(part)
    except InvalidPattern:  # cannot happen for a valid pattern; err on the side of listing
        return True
    return matcher.matches({"source": event_type.source, "detail-type": event_type.detail_type})


def filters_beyond_routing(subscription: Subscription) -> bool:
    return routing_part(subscription.pattern) != subscription.pattern


def to_json(document: dict[str, Any]) -> str:
    """The catalog as committed: indented, keys in generation order, one final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
