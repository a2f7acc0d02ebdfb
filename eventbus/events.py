"""Domain events: frozen dataclasses declared in the app that owns them, with a JSON Schema.

Declaring a subclass of :class:`DomainEvent` registers its type, so the registry can be
listed (``manage.py list_events``, the AsyncAPI catalog) and every published detail is
checked against its schema. A type can have several versions (``version``, carried as
``detail.version`` from 2 on; see eventbus/versioning.py): each is registered on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import cached_property
from typing import Any, ClassVar

from jsonschema import Draft202012Validator, ValidationError

from core.tracing import TRACEPARENT, TRACEPARENT_PATTERN, TRACESTATE, TRACESTATE_MAX_LENGTH


class InvalidEvent(ValueError):
    """A detail that does not satisfy its event type's schema."""


class UnknownEventType(LookupError):
    pass


VERSION_FIELD = "version"
# W3C Trace Context of the span that recorded the event (core/tracing.py writes and reads
# it): in the detail, because the detail is all that EventBridge, its rule targets and
# Scheduler's target input carry through every backend. Optional; a value that is not
# valid is dropped on receipt (eventbus.tracing.trusted), never a reason to refuse an event.
TRACE_CONTEXT_PROPERTIES: dict[str, Any] = {
    TRACEPARENT: {
        "type": "string",
        "pattern": TRACEPARENT_PATTERN,
        "description": (
            "W3C Trace Context traceparent (version 00) of the span that recorded the "
            "event; consumers continue its trace."
        ),
        "examples": ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
    },
    TRACESTATE: {
        "type": "string",
        "maxLength": TRACESTATE_MAX_LENGTH,
        "description": "W3C Trace Context tracestate that goes with traceparent, if any.",
    },
}


@dataclasses.dataclass(frozen=True)
class EventType:
    source: str
    detail_type: str
    schema: dict[str, Any]
    event_class: type[DomainEvent]
    version: int = 1

    @cached_property
    def full_schema(self) -> dict[str, Any]:
        """The declared schema plus what every detail may carry: ``correlation_id``, the
        trace context (``traceparent``, ``tracestate``), and ``version`` (required from
        version 2 on; absent means 1, so version-1 details stay as they always were)."""
        properties = {
            **self.schema.get("properties", {}),
            "correlation_id": {
                "type": ["string", "null"],
                "maxLength": 128,
                "description": "The id of the request that caused the event, for tracing.",
                "examples": ["5b0f6c1e-8d2a-4f3b-9c7e-1a2b3c4d5e6f"],
            },
            **TRACE_CONTEXT_PROPERTIES,
            VERSION_FIELD: {
                "type": "integer",
                # enum, not const: the schemas stay valid JSON Schema draft-04 too.
                "enum": [self.version],
                "description": "The version of this detail's schema; absent means 1.",
            },
        }
        required = list(self.schema.get("required", ()))
        if self.version > 1:
            required.append(VERSION_FIELD)
        return {
            "additionalProperties": False,
            **self.schema,
            "properties": properties,
            "required": required,
        }

    @cached_property
    def has_defaults(self) -> bool:
        """Whether any property declares a ``default`` (readers fill those in)."""
        return _declares_defaults(self.full_schema)

    @cached_property
    def validator(self) -> Draft202012Validator:
        Draft202012Validator.check_schema(self.full_schema)
        # Formats (uuid, email, date-time) are checked too: they are part of the contract.
        return Draft202012Validator(
            self.full_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )

    @property
    def fields(self) -> list[tuple[str, str, bool]]:
        """``(name, JSON type, required)`` for each declared detail field, for listings."""
        required = set(self.full_schema["required"])
        return [
            (name, _describe_type(spec), name in required)
            for name, spec in self.full_schema["properties"].items()
        ]

    def validate_detail(self, detail: dict[str, Any]) -> None:
        """Raise InvalidEvent naming the first offending field (``detail.quantity: ...``)."""
        errors = sorted(
            self.validator.iter_errors(detail),
            key=lambda error: (list(map(str, error.absolute_path)), error.message),
        )
        if errors:
            where, problem = _locate(errors[0])
            raise InvalidEvent(f"{self.detail_type}: {where}: {problem}")


def _locate(error: ValidationError) -> tuple[str, str]:
    """Where ``error`` is, as ``detail.<field path>``; a missing or unexpected field is named
    itself rather than its parent object."""
    path = ["detail", *map(str, error.absolute_path)]
    instance = error.instance if isinstance(error.instance, dict) else {}
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in instance]
        if missing:
            return ".".join([*path, missing[0]]), "is required"
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        unexpected = sorted(name for name in instance if name not in allowed)
        if unexpected:
            return ".".join([*path, unexpected[0]]), "is not a field of this event"
    return ".".join(path), error.message


def _declares_defaults(schema: dict[str, Any]) -> bool:
    return any(
        isinstance(spec, dict) and ("default" in spec or _declares_defaults(spec))
        for spec in schema.get("properties", {}).values()
    )


def _describe_type(spec: dict[str, Any]) -> str:
    kind = spec.get("type", "any")
    text = "|".join(kind) if isinstance(kind, list) else str(kind)
    if "format" in spec:
        text += f" ({spec['format']})"
    return text


# (source, detail-type, version) -> its declaration; and the latest version of each type,
# which every lookup on the delivery path wants.
_registry: dict[tuple[str, str, int], EventType] = {}
_latest: dict[tuple[str, str], EventType] = {}


@dataclasses.dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every event; subclasses set ``source`` and ``schema`` and declare fields.

    ``detail_type`` defaults to the class name (past tense: ``ItemAddedToCart``). A new,
    incompatible shape of a type is a new class with the same ``detail_type`` and the next
    ``version``; the older class stays declared so history and old consumers can be read.
    """

    source: ClassVar[str]
    detail_type: ClassVar[str]
    schema: ClassVar[dict[str, Any]]
    version: ClassVar[int] = 1

    correlation_id: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "detail_type" not in cls.__dict__:
            cls.detail_type = cls.__name__
        if not isinstance(cls.version, int) or isinstance(cls.version, bool) or cls.version < 1:
            raise TypeError(f"{_qualified_name(cls)}: version must be an integer >= 1")
        key = (cls.source, cls.detail_type, cls.version)
        existing = _registry.get(key)
        if existing is not None and _qualified_name(existing.event_class) != _qualified_name(cls):
            raise TypeError(
                f"event type {key} declared twice: by {_qualified_name(existing.event_class)} "
                f"and {_qualified_name(cls)}"
            )
        # A broken schema should fail when the module loads, not at the first publish.
        Draft202012Validator.check_schema(cls.schema)
        # Re-declaring the same class (a module reloaded) replaces it.
        declared = EventType(cls.source, cls.detail_type, cls.schema, cls, cls.version)
        _registry[key] = declared
        latest = _latest.get(key[:2])
        if latest is None or latest.version <= declared.version:
            _latest[key[:2]] = declared

    def detail(self) -> dict[str, Any]:
        """The event's fields as JSON primitives (what goes into ``detail``)."""
        detail = dataclasses.asdict(self)
        if self.version > 1:
            detail[VERSION_FIELD] = self.version
        return detail

    @classmethod
    def event_type(cls) -> EventType:
        return _registry[(cls.source, cls.detail_type, cls.version)]


def _qualified_name(item: type) -> str:
    return f"{item.__module__}.{item.__qualname__}"


def event_types(*, all_versions: bool = False) -> Iterator[EventType]:
    """Every registered type at its latest version (or, ``all_versions``, every version),
    by source, detail-type and version."""
    chosen = _registry.values() if all_versions else _latest.values()
    yield from sorted(chosen, key=lambda item: (item.source, item.detail_type, item.version))


def get_event_type(source: str, detail_type: str, version: int | None = None) -> EventType:
    """The declaration of ``detail_type`` from ``source`` at ``version`` (default: latest)."""
    if version is not None:
        try:
            return _registry[(source, detail_type, version)]
        except KeyError:
            raise UnknownEventType(
                f"no version {version} of event type {detail_type!r} from {source!r}"
            ) from None
    try:
        return _latest[(source, detail_type)]
    except KeyError:
        raise UnknownEventType(f"no event type {detail_type!r} from {source!r}") from None
