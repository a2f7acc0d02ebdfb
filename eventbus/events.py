"""Domain events: frozen dataclasses declared in the app that owns them, with a JSON Schema.

Declaring a subclass of :class:`DomainEvent` registers its type, so the registry can be
listed (``manage.py list_events``) and every published detail is checked against its schema.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import cached_property
from typing import Any, ClassVar

from jsonschema import Draft202012Validator


class InvalidEvent(ValueError):
    """A detail that does not satisfy its event type's schema."""


class UnknownEventType(LookupError):
    pass


@dataclasses.dataclass(frozen=True)
class EventType:
    source: str
    detail_type: str
    schema: dict[str, Any]
    event_class: type[DomainEvent]

    @cached_property
    def full_schema(self) -> dict[str, Any]:
        """The declared schema plus the ``correlation_id`` that every detail may carry."""
        properties = {
            **self.schema.get("properties", {}),
            "correlation_id": {"type": ["string", "null"], "maxLength": 128},
        }
        return {"additionalProperties": False, **self.schema, "properties": properties}

    @cached_property
    def validator(self) -> Draft202012Validator:
        Draft202012Validator.check_schema(self.full_schema)
        return Draft202012Validator(self.full_schema)

    def validate_detail(self, detail: dict[str, Any]) -> None:
        error = next(iter(sorted(self.validator.iter_errors(detail), key=str)), None)
        if error is not None:
            where = ".".join(str(part) for part in error.absolute_path) or "(detail)"
            raise InvalidEvent(f"{self.detail_type}: detail.{where}: {error.message}")


_registry: dict[tuple[str, str], EventType] = {}


@dataclasses.dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every event; subclasses set ``source`` and ``schema`` and declare fields.

    ``detail_type`` defaults to the class name (past tense: ``ItemAddedToCart``).
    """

    source: ClassVar[str]
    detail_type: ClassVar[str]
    schema: ClassVar[dict[str, Any]]

    correlation_id: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "detail_type" not in cls.__dict__:
            cls.detail_type = cls.__name__
        key = (cls.source, cls.detail_type)
        existing = _registry.get(key)
        if existing is not None and existing.event_class.__qualname__ != cls.__qualname__:
            raise TypeError(f"event type {key} declared twice")
        _registry[key] = EventType(cls.source, cls.detail_type, cls.schema, cls)

    def detail(self) -> dict[str, Any]:
        """The event's fields as JSON primitives (what goes into ``detail``)."""
        return dataclasses.asdict(self)

    @classmethod
    def event_type(cls) -> EventType:
        return _registry[(cls.source, cls.detail_type)]


def event_types() -> Iterator[EventType]:
    yield from sorted(_registry.values(), key=lambda item: (item.source, item.detail_type))


def get_event_type(source: str, detail_type: str) -> EventType:
    try:
        return _registry[(source, detail_type)]
    except KeyError:
        raise UnknownEventType(f"no event type {detail_type!r} from {source!r}") from None
