"""JSON Schemas of whole events (the envelope and its detail), one per event type and
version, each with an example: what the AsyncAPI catalog's messages carry, and what a
schema registry can be given as they are.

They keep to the part of JSON Schema that draft-04 (EventBridge's schema registry),
draft-07 (AsyncAPI) and 2020-12 (the detail validator) share: ``enum``, not ``const``.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from eventbus.events import VERSION_FIELD, EventType

# Fixed, so that a generated catalog only changes when the code does.
EXAMPLE_TIME = "2026-11-26T10:00:00Z"
EXAMPLE_ACCOUNT = "123456789012"
EXAMPLE_REGION = "eu-west-1"
_EXAMPLE_NAMESPACE = uuid.UUID("6c1f3b1e-54a4-4c8e-9f57-0e5e9c1a2b3d")


def envelope_schema(event_type: EventType) -> dict[str, Any]:
    """The schema of a whole event of ``event_type`` as it travels on the bus."""
    return {
        "type": "object",
        "title": f"{event_type.detail_type} v{event_type.version}",
        "properties": {
            "version": {
                "type": "string",
                "enum": ["0"],
                "description": "EventBridge's envelope version (not the detail's).",
            },
            "id": {
                "type": "string",
                "format": "uuid",
                "description": "The event's id, given by the outbox; consumers deduplicate on it.",
            },
            "detail-type": {"type": "string", "enum": [event_type.detail_type]},
            "source": {
                "type": "string",
                "enum": [event_type.source],
                "description": "The service that publishes the event.",
            },
            "account": {
                "type": "string",
                "pattern": "^[0-9]{12}$",
                "description": "The AWS account (000000000000 when not configured).",
            },
            "time": {
                "type": "string",
                "format": "date-time",
                "description": "When the event happened, UTC, to the second.",
            },
            "region": {"type": "string", "description": "The AWS region."},
            "resources": {"type": "array", "items": {"type": "string"}},
            "detail": detail_schema(event_type),
        },
        "required": [
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail",
        ],
        "additionalProperties": False,
    }


def detail_schema(event_type: EventType) -> dict[str, Any]:
    """The schema the detail is validated with, in JSON terms (a copy)."""
    return {"type": "object", **copy.deepcopy(event_type.full_schema)}


def example_envelope(event_type: EventType) -> dict[str, Any]:
    """A deterministic example event: the detail from each field's ``examples``, else
    from its type, format and bounds."""
    name = f"{event_type.source}/{event_type.detail_type}/v{event_type.version}"
    detail = example_value(detail_schema(event_type), name="detail")
    if event_type.version > 1:
        detail[VERSION_FIELD] = event_type.version
    return {
        "version": "0",
        "id": str(uuid.uuid5(_EXAMPLE_NAMESPACE, name)),
        "detail-type": event_type.detail_type,
        "source": event_type.source,
        "account": EXAMPLE_ACCOUNT,
        "time": EXAMPLE_TIME,
        "region": EXAMPLE_REGION,
        "resources": [],
        "detail": detail,
    }


def example_value(schema: dict[str, Any], *, name: str) -> Any:
    """An example instance of ``schema``. Objects get their required properties and the
    optional ones that declare ``examples``."""
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    if schema.get("enum"):
        return copy.deepcopy(schema["enum"][0])
    kinds = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kinds, list):
        kinds = next((kind for kind in kinds if kind != "null"), "null")
    if kinds == "object":
        required = set(schema.get("required", ()))
        return {
            key: example_value(spec, name=key)
            for key, spec in schema.get("properties", {}).items()
            if key in required or spec.get("examples")
        }
    if kinds == "array":
        items = schema.get("items", {})
        return [example_value(items, name=name)] * max(schema.get("minItems", 1), 1)
    if kinds in ("integer", "number"):
        return schema.get("minimum", 1)
    if kinds == "boolean":
        return True
    if kinds == "null":
        return None
    return _example_string(schema, name=name)


def _example_string(schema: dict[str, Any], *, name: str) -> str:
    text = {
        "uuid": str(uuid.uuid5(_EXAMPLE_NAMESPACE, name)),
        "date-time": EXAMPLE_TIME,
        "email": "ann@example.com",
    }.get(schema.get("format", ""), name)
    text = text.ljust(schema.get("minLength", 0), "x")
    return text[: schema["maxLength"]] if "maxLength" in schema else text
