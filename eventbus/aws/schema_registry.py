"""What the EventBridge schema registry holds: one ``JSONSchemaDraft4`` schema per event type
and version, named and described the same way by ``provision_eventbridge`` and the
CloudFormation template (both build from :func:`registry_schemas`).

And how to tell an endpoint that does not serve the Schemas API at all (moto has none):
provisioning then skips the registry instead of failing the whole run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from eventbus.events import EventType, event_types
from eventbus.schemas import envelope_schema

DRAFT_04 = "http://json-schema.org/draft-04/schema#"
SCHEMA_TYPE = "JSONSchemaDraft4"
REGISTRY_DESCRIPTION = (
    "The shop's events, one schema per type and version (docs/events/asyncapi.json has the same)."
)


@dataclass(frozen=True)
class RegistrySchema:
    """One schema of the registry, as CreateSchema and AWS::EventSchemas::Schema take it."""

    name: str
    description: str
    content: str
    detail_type: str
    version: int

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.content)


def schema_name(event_type: EventType) -> str:
    """``<source>@<detail-type>-v<version>``, after the names schema discovery gives."""
    return f"{event_type.source}@{event_type.detail_type}-v{event_type.version}"


def registry_schema(event_type: EventType) -> RegistrySchema:
    """The registry's schema of ``event_type``: its whole envelope, as JSON Schema draft-04."""
    document = {"$schema": DRAFT_04, **envelope_schema(event_type)}
    return RegistrySchema(
        name=schema_name(event_type),
        description=f"{event_type.detail_type} version {event_type.version}",
        content=json.dumps(document, indent=2, sort_keys=True),
        detail_type=event_type.detail_type,
        version=event_type.version,
    )


def registry_schemas(types: Iterable[EventType] | None = None) -> list[RegistrySchema]:
    """The schemas of ``types`` (default: every registered type and version), in order."""
    chosen = event_types(all_versions=True) if types is None else types
    ordered = sorted(chosen, key=lambda item: (item.source, item.detail_type, item.version))
    return [registry_schema(item) for item in ordered]


def schemas_service_missing(schemas: Any) -> str:
    """Why the endpoint of the ``schemas`` client serves no Schemas API, or '' if it does.

    Asks for one registry. An endpoint that does not know the service answers with
    something that is not a Schemas API error (moto's server: an HTML page with status 500,
    so an error code that is only an HTTP status), or cannot be reached at all (a region
    without the service has no such host). A real API error (access denied, throttling)
    is raised: that is a fault to fix, not a missing service.
    """
    endpoint = schemas.meta.endpoint_url
    try:
        schemas.list_registries(Limit=1)
    except EndpointConnectionError as error:
        return f"{endpoint} cannot be reached ({error})"
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code.isdigit():
            return f"{endpoint} answered HTTP {code}, not the EventBridge Schemas API"
        raise
    return ""
