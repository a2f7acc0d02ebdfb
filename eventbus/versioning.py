"""Event versions: converters between adjacent versions of a type, and reading an event in
the version a consumer was written for.

A breaking change to an event type is a new version (``detail.version``; see
docs/architecture.md). Producers emit the latest; each pair of adjacent versions has an
*upcaster* (older to newer: history and in-flight events reach new consumers) and, where a
consumer still reads the older shape, a *downcaster* (newer to older). Delivery converts
each event to the version its subscription reads (``@subscribe(versions=...)``, default
the latest) before parsing it, so a handler always gets the shape it was written for.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from eventbus.envelope import Envelope, MalformedEnvelope
from eventbus.events import (
    VERSION_FIELD,
    DomainEvent,
    EventType,
    InvalidEvent,
    event_types,
    get_event_type,
)

# A converter gets a copy of the detail (and the envelope, for what only it knows, such as
# the time) and returns the detail in the other version; ``version`` is set for it.
Converter = Callable[[dict[str, Any], Envelope], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    source: str
    detail_type: str
    from_version: int
    to_version: int
    convert: Converter

    @property
    def name(self) -> str:
        return f"{self.convert.__module__}.{self.convert.__qualname__}"


# (source, detail-type, from version, to version) -> the step.
_steps: dict[tuple[str, str, int, int], Step] = {}


def upcaster(
    older: type[DomainEvent], newer: type[DomainEvent]
) -> Callable[[Converter], Converter]:
    """Register the decorated function as the converter from ``older`` to ``newer`` (the
    next version of the same type)."""
    return _register(older, newer, expected_step=1)


def downcaster(
    newer: type[DomainEvent], older: type[DomainEvent]
) -> Callable[[Converter], Converter]:
    """Register the decorated function as the converter from ``newer`` back to ``older``
    (the previous version), for consumers still written for ``older``."""
    return _register(newer, older, expected_step=-1)


def _register(
    start: type[DomainEvent], end: type[DomainEvent], *, expected_step: int
) -> Callable[[Converter], Converter]:
    if (start.source, start.detail_type) != (end.source, end.detail_type):
        raise TypeError(
            f"a converter links two versions of one type, not {start.detail_type} "
            f"and {end.detail_type}"
        )
    if end.version - start.version != expected_step:
        raise TypeError(
            f"{start.detail_type}: converters link adjacent versions "
            f"(v{start.version} to v{start.version + expected_step}), not v{start.version} "
            f"to v{end.version}"
        )

    def register(convert: Converter) -> Converter:
        key = (start.source, start.detail_type, start.version, end.version)
        _steps[key] = Step(*key, convert)
        return convert

    return register


def detail_version(detail: Mapping[str, Any]) -> int:
    """The version a detail declares: ``detail.version``, absent meaning 1."""
    version = detail.get(VERSION_FIELD, 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MalformedEnvelope(f"detail.{VERSION_FIELD} must be an integer >= 1: {version!r}")
    return version


def reading_version(versions: Mapping[str, int], event_type: EventType) -> int:
    """The version of ``event_type`` that a reader pinning ``versions`` gets (the latest
    unless it pins one)."""
    return versions.get(event_type.detail_type, event_type.version)


def envelope_as_read_by(versions: Mapping[str, int], envelope: Envelope) -> Envelope:
    """``envelope`` with its detail in the version a reader pinning ``versions`` reads, and
    schema defaults filled in. Raises MalformedEnvelope for an unknown type or version, a
    detail invalid in its own version, or a conversion that is not declared."""
    start = detail_version(envelope.detail)
    try:
        latest = get_event_type(envelope.source, envelope.detail_type)
        own = (
            latest
            if start == latest.version
            else get_event_type(envelope.source, envelope.detail_type, start)
        )
    except LookupError as error:
        raise MalformedEnvelope(str(error)) from error
    target = reading_version(versions, latest)
    if start == target and not own.has_defaults:
        return envelope  # the common case: nothing to convert, nothing to fill
    return replace(envelope, detail=convert_detail(envelope, to_version=target))


def convert_detail(envelope: Envelope, *, to_version: int) -> dict[str, Any]:
    """The envelope's detail converted, one version at a time, to ``to_version``."""
    source, detail_type = envelope.source, envelope.detail_type
    version = detail_version(envelope.detail)
    detail = _read_at(envelope.detail, source, detail_type, version)
    while version != to_version:
        following = version + 1 if to_version > version else version - 1
        step = _steps.get((source, detail_type, version, following))
        if step is None:
            direction = "upcaster" if following > version else "downcaster"
            raise MalformedEnvelope(
                f"{detail_type}: no {direction} from v{version} to v{following}"
            )
        converted = step.convert(copy.deepcopy(detail), envelope)
        converted.pop(VERSION_FIELD, None)
        if following > 1:
            converted[VERSION_FIELD] = following
        version = following
        try:
            detail = _read_at(converted, source, detail_type, version)
        except MalformedEnvelope as error:
            raise MalformedEnvelope(f"{step.name} gave an invalid detail: {error}") from error
    return detail


def _read_at(detail: dict[str, Any], source: str, detail_type: str, version: int) -> dict[str, Any]:
    """``detail`` with its version's schema defaults filled in, checked against it."""
    try:
        event_type = get_event_type(source, detail_type, version)
    except LookupError as error:
        raise MalformedEnvelope(str(error)) from error
    if event_type.has_defaults:
        detail = fill_defaults(event_type.full_schema, copy.deepcopy(detail))
    try:
        event_type.validate_detail(detail)
    except InvalidEvent as error:
        raise MalformedEnvelope(f"{error} (as v{version})") from error
    return detail


def fill_defaults(schema: Mapping[str, Any], value: Any) -> Any:
    """Give ``value`` (an object) the ``default`` of each property it lacks, in nested
    objects too: a field added as required with a default is then readable in old events."""
    if not isinstance(value, dict):
        return value
    for name, spec in schema.get("properties", {}).items():
        if not isinstance(spec, dict):
            continue
        if name not in value and "default" in spec:
            value[name] = copy.deepcopy(spec["default"])
        elif name in value:
            value[name] = fill_defaults(spec, value[name])
    return value


def steps() -> list[Step]:
    """Every registered converter, by type and versions."""
    return sorted(
        _steps.values(),
        key=lambda step: (step.source, step.detail_type, step.from_version, step.to_version),
    )


def has_step(event_type: EventType, to_version: int) -> bool:
    return (event_type.source, event_type.detail_type, event_type.version, to_version) in _steps


def version_problems(pinned: Mapping[str, Mapping[str, int]]) -> list[str]:
    """What stops some event from being read: a version without its predecessor, a
    missing upcaster, a reader pinning a version that does not exist or cannot be reached
    by downcasters. ``pinned`` maps a reader's name to the versions it pins."""
    problems: list[str] = []
    every_version = list(event_types(all_versions=True))
    by_type: dict[tuple[str, str], list[EventType]] = {}
    for event_type in every_version:
        by_type.setdefault((event_type.source, event_type.detail_type), []).append(event_type)
    for (source, detail_type), versions in by_type.items():
        numbers = [item.version for item in versions]
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(
                f"{detail_type} ({source}) has versions {numbers}: versions count up from 1 "
                "with none left out (keep older versions declared for history)"
            )
            continue
        for older in versions[:-1]:
            if not has_step(older, older.version + 1):
                problems.append(
                    f"{detail_type} v{older.version} has no upcaster to v{older.version + 1}: "
                    "its stored and in-flight events cannot reach newer consumers"
                )
    for reader, versions in sorted(pinned.items()):
        for detail_type, version in sorted(versions.items()):
            matching = [key for key in by_type if key[1] == detail_type]
            if not matching:
                problems.append(f"{reader} pins {detail_type} v{version}: no such event type")
                continue
            for key in matching:
                known = by_type[key]
                if version not in [item.version for item in known]:
                    problems.append(
                        f"{reader} pins {detail_type} v{version}: it has versions "
                        f"{[item.version for item in known]}"
                    )
                    continue
                for newer in known[version:]:
                    if not has_step(newer, newer.version - 1):
                        problems.append(
                            f"{reader} reads {detail_type} v{version} but there is no "
                            f"downcaster from v{newer.version} to v{newer.version - 1}"
                        )
    return problems
