"""What the catalog page shows, read from an AsyncAPI document (the generated one), so the
page can only say what the document says."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldRow:
    name: str
    type: str
    constraints: str
    required: bool
    description: str


@dataclass(frozen=True)
class VersionView:
    key: str
    version: int
    latest: bool
    summary: str
    description: str
    declared_in: str
    fields: list[FieldRow]
    example: str


@dataclass(frozen=True)
class ConsumerRow:
    name: str
    version: int
    filters_detail: bool
    summary: str


@dataclass(frozen=True)
class EventView:
    detail_type: str
    source: str
    anchor: str
    versions: list[VersionView]
    publishers: list[str]
    consumers: list[ConsumerRow]

    @property
    def latest(self) -> VersionView:
        return next(item for item in self.versions if item.latest)


@dataclass(frozen=True)
class SubscriptionView:
    name: str
    summary: str
    handler: str
    app: str
    pattern: str
    filters_detail: bool
    receives: list[tuple[str, int, str]]  # detail-type, version, anchor
    pinned: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PublisherView:
    source: str
    summary: str
    sends: list[tuple[str, int, str]]


@dataclass(frozen=True)
class CatalogPage:
    title: str
    version: str
    description: str
    events: list[EventView]
    subscriptions: list[SubscriptionView]
    publishers: list[PublisherView]


def catalog_page(document: dict[str, Any]) -> CatalogPage:
    messages: dict[str, dict[str, Any]] = document.get("components", {}).get("messages", {})
    operations: dict[str, dict[str, Any]] = document.get("operations", {})

    def routing(reference: dict[str, Any]) -> dict[str, Any]:
        key = str(reference.get("$ref", "")).rsplit("/", 1)[-1]
        return messages.get(key, {}).get("x-eventbridge", {})

    publishers, subscriptions = [], []
    sent_by: dict[tuple[str, str], list[str]] = {}
    received_by: dict[tuple[str, str], list[ConsumerRow]] = {}
    for operation in operations.values():
        refs = [routing(item) for item in operation.get("messages", [])]
        listed = [
            (item["detail-type"], item["version"], _anchor(item["detail-type"]))
            for item in refs
            if item
        ]
        if operation.get("action") == "send":
            source = str(operation.get("x-eventbridge-source", operation.get("title", "")))
            publishers.append(PublisherView(source, str(operation.get("summary", "")), listed))
            for item in refs:
                apps = operation.get("x-django-apps") or []
                name = f"{source} ({', '.join(apps)} app)" if apps else source
                sent_by.setdefault((item["source"], item["detail-type"]), []).append(name)
            continue
        view = SubscriptionView(
            name=str(operation.get("x-subscription", operation.get("title", ""))),
            summary=str(operation.get("summary", "")),
            handler=str(operation.get("x-handler", "")),
            app=str(operation.get("x-django-app", "")),
            pattern=json.dumps(operation.get("x-eventbridge-pattern", {}), ensure_ascii=False),
            filters_detail=bool(operation.get("x-filters-detail")),
            receives=listed,
            pinned=dict(operation.get("x-pinned-versions", {})),
        )
        subscriptions.append(view)
        for item in refs:
            received_by.setdefault((item["source"], item["detail-type"]), []).append(
                ConsumerRow(view.name, item["version"], view.filters_detail, view.summary)
            )

    grouped: dict[tuple[str, str], list[VersionView]] = {}
    for key, message in messages.items():
        routing_info = message.get("x-eventbridge", {})
        type_key = (routing_info.get("source", ""), routing_info.get("detail-type", key))
        grouped.setdefault(type_key, []).append(_version_view(key, message))
    events = [
        EventView(
            detail_type=detail_type,
            source=source,
            anchor=_anchor(detail_type),
            versions=sorted(versions, key=lambda item: -item.version),
            publishers=sent_by.get((source, detail_type), []),
            consumers=sorted(received_by.get((source, detail_type), []), key=lambda c: c.name),
        )
        for (source, detail_type), versions in sorted(grouped.items(), key=lambda kv: kv[0][1])
    ]
    info = document.get("info", {})
    return CatalogPage(
        title=str(info.get("title", "Events")),
        version=str(info.get("version", "")),
        description=str(info.get("description", "")),
        events=events,
        subscriptions=sorted(subscriptions, key=lambda item: item.name),
        publishers=sorted(publishers, key=lambda item: item.source),
    )


def _version_view(key: str, message: dict[str, Any]) -> VersionView:
    routing = message.get("x-eventbridge", {})
    detail = message.get("payload", {}).get("properties", {}).get("detail", {})
    required = set(detail.get("required", ()))
    rows = [
        FieldRow(
            name=name,
            type=describe_type(spec),
            constraints=describe_constraints(spec),
            required=name in required,
            description=str(spec.get("description", "")),
        )
        for name, spec in detail.get("properties", {}).items()
    ]
    examples = message.get("examples") or [{}]
    return VersionView(
        key=key,
        version=int(routing.get("version", 1)),
        latest=bool(routing.get("latest", True)),
        summary=str(message.get("summary", "")),
        description=str(message.get("description", "")),
        declared_in=str(message.get("x-declared-in", "")),
        fields=rows,
        example=json.dumps(examples[0].get("payload", {}), indent=2, ensure_ascii=False),
    )


def describe_type(spec: dict[str, Any]) -> str:
    kind = spec.get("type", "any")
    text = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if "format" in spec:
        text += f" ({spec['format']})"
    return text


def describe_constraints(spec: dict[str, Any]) -> str:
    """The limits of a field in words: ``one of "email"``, ``≥ 1``, ``1 to 32 characters``."""
    parts = []
    if "enum" in spec:
        parts.append("one of " + ", ".join(json.dumps(value) for value in spec["enum"]))
    if "minimum" in spec:
        parts.append(f"≥ {spec['minimum']}")
    if "maximum" in spec:
        parts.append(f"≤ {spec['maximum']}")
    low, high = spec.get("minLength"), spec.get("maxLength")
    if low is not None and low == high:
        parts.append(f"{low} characters")
    elif low is not None and high is not None:
        parts.append(f"{low} to {high} characters")
    elif high is not None:
        parts.append(f"at most {high} characters")
    elif low:
        parts.append(f"at least {low} characters")
    if "pattern" in spec:
        parts.append(f"matches {spec['pattern']}")
    return ", ".join(parts)


def _anchor(detail_type: str) -> str:
    return f"event-{detail_type}"
