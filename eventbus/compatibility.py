"""Backward compatibility of event schemas, in schema registries' BACKWARD sense: code
that reads with the new schema must accept every event the old one accepted (stored
history, events in flight, dead letters waiting for a replay).

``schema_changes`` compares two JSON Schemas structurally, keyword by keyword, and says
of each difference whether it can refuse an old event; ``catalog_changes`` does that for
every message of two AsyncAPI catalogs and checks that no subscription silently gets
another version than the one it was written for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Keywords that describe but do not constrain ("default" is handled on its own).
ANNOTATIONS = ("title", "description", "examples", "$comment", "deprecated")
# A larger value refuses more (lower bounds), or a smaller one (upper bounds).
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
# No order to compare: any new or changed value may refuse old values.
OPAQUE = ("pattern", "format", "multipleOf")
UNDERSTOOD = frozenset(
    {
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "uniqueItems",
        "default",
        *ANNOTATIONS,
        *LOWER_BOUNDS,
        *UPPER_BOUNDS,
        *OPAQUE,
    }
)


@dataclass(frozen=True)
class SchemaChange:
    path: str  # "detail.sku", "detail.lines[]", "" for the root
    message: str
    breaking: bool


def schema_changes(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[SchemaChange]:
    """Every difference between ``old`` and ``new``; ``breaking`` when an instance valid
    under ``old`` may be invalid under ``new`` (or read differently). Keywords it does not
    understand count as breaking when they differ: it cannot prove them compatible."""
    changes: list[SchemaChange] = []

    def note(message: str, *, breaking: bool, at: str = path) -> None:
        changes.append(SchemaChange(at, message, breaking))

    _compare_types(old, new, note)
    _compare_values(old, new, note)
    _compare_bounds(old, new, note)
    _compare_properties(old, new, path, note, changes)
    _compare_additional(old, new, path, note, changes)
    _compare_items(old, new, path, note, changes)
    if not old.get("uniqueItems") and new.get("uniqueItems"):
        note("items must now be unique", breaking=True)
    elif old.get("uniqueItems") and not new.get("uniqueItems"):
        note("items no longer need to be unique", breaking=False)
    if "default" in old and "default" in new and not _same(old["default"], new["default"]):
        # Readers fill a missing field with its default: old events would now mean another thing.
        note(
            f"default changed from {_show(old['default'])} to {_show(new['default'])}",
            breaking=True,
        )
    for key in sorted((set(old) | set(new)) - UNDERSTOOD):
        if not _same(old.get(key), new.get(key)):
            note(f"{key} changed: cannot tell whether old events still fit", breaking=True)
    for key in ANNOTATIONS:
        if not _same(old.get(key), new.get(key)):
            note(f"{key} changed", breaking=False)
    return changes


def _compare_types(old: dict[str, Any], new: dict[str, Any], note: Any) -> None:
    old_types, new_types = _types(old), _types(new)
    if new_types is None:
        if old_types is not None:
            note(f"type widened from {_show_types(old_types)} to any", breaking=False)
        return
    if old_types is None:
        note(f"type narrowed from any to {_show_types(new_types)}", breaking=True)
        return
    # Every integer is a number: integer -> number widens.
    lost = [kind for kind in old_types if not (kind in new_types or _integer_in(kind, new_types))]
    if lost:
        note(
            f"type changed from {_show_types(old_types)} to {_show_types(new_types)}",
            breaking=True,
        )
    elif old_types != new_types:
        note(
            f"type widened from {_show_types(old_types)} to {_show_types(new_types)}",
            breaking=False,
        )


def _integer_in(kind: str, types: set[str]) -> bool:
    return kind == "integer" and "number" in types


def _compare_values(old: dict[str, Any], new: dict[str, Any], note: Any) -> None:
    old_values, new_values = _allowed_values(old), _allowed_values(new)
    if new_values is None:
        if old_values is not None:
            note("no longer limited to a list of values", breaking=False)
        return
    if old_values is None:
        note(f"now limited to the values {_show(new_values)}", breaking=True)
        return
    old_keys, new_keys = [_key(value) for value in old_values], [_key(v) for v in new_values]
    removed = [
        value for value, key in zip(old_values, old_keys, strict=True) if key not in new_keys
    ]
    added = [value for value, key in zip(new_values, new_keys, strict=True) if key not in old_keys]
    if removed:
        note(f"enum narrowed: {_show(removed)} no longer allowed", breaking=True)
    if added:
        note(f"enum widened: {_show(added)} added", breaking=False)


def _compare_bounds(old: dict[str, Any], new: dict[str, Any], note: Any) -> None:
    for key, tighter in [*((key, 1) for key in LOWER_BOUNDS), *((key, -1) for key in UPPER_BOUNDS)]:
        before, after = old.get(key), new.get(key)
        if _same(before, after):
            continue
        if isinstance(before, bool) or isinstance(after, bool):  # draft-04 exclusive flags
            note(f"{key} changed from {_show(before)} to {_show(after)}", breaking=bool(after))
        elif after is not None and (before is None or (after - before) * tighter > 0):
            shown = "added" if before is None else f"tightened from {_show(before)}"
            note(f"{key} {shown} to {_show(after)}", breaking=True)
        else:
            note(f"{key} loosened from {_show(before)} to {_show(after)}", breaking=False)
    for key in OPAQUE:
        before, after = old.get(key), new.get(key)
        if _same(before, after):
            continue
        if after is None:
            note(f"{key} {_show(before)} removed", breaking=False)
        elif before is None:
            note(f"{key} {_show(after)} added", breaking=True)
        else:
            note(f"{key} changed from {_show(before)} to {_show(after)}", breaking=True)


def _compare_properties(
    old: dict[str, Any], new: dict[str, Any], path: str, note: Any, changes: list[SchemaChange]
) -> None:
    old_properties: dict[str, Any] = old.get("properties", {})
    new_properties: dict[str, Any] = new.get("properties", {})
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    for name, old_spec in old_properties.items():
        at = _join(path, name)
        if name not in new_properties:
            note("field removed or renamed: old events carry it", breaking=True, at=at)
            continue
        new_spec = new_properties[name]
        changes.extend(schema_changes(old_spec, new_spec, at))
        has_default = isinstance(new_spec, dict) and "default" in new_spec
        if name in new_required and name not in old_required and not has_default:
            note(
                "field became required without a default: old events may lack it",
                breaking=True,
                at=at,
            )
        elif name in old_required and name not in new_required:
            note("field became optional", breaking=False, at=at)
    for name, new_spec in new_properties.items():
        if name in old_properties:
            continue
        at = _join(path, name)
        if name not in new_required:
            note("new optional field", breaking=False, at=at)
        elif isinstance(new_spec, dict) and "default" in new_spec:
            note("new required field with a default", breaking=False, at=at)
        else:
            note("new required field without a default: old events lack it", breaking=True, at=at)
    undeclared = new_required - old_required - set(new_properties) - set(old_properties)
    for name in sorted(undeclared):
        note(
            "new required field without a default: old events lack it",
            breaking=True,
            at=_join(path, name),
        )


def _compare_additional(
    old: dict[str, Any], new: dict[str, Any], path: str, note: Any, changes: list[SchemaChange]
) -> None:
    before, after = old.get("additionalProperties", True), new.get("additionalProperties", True)
    if before is False and after is not False:
        note("now accepts fields it does not declare", breaking=False)
    elif before is not False and after is False:
        note("no longer accepts fields it does not declare", breaking=True)
    elif isinstance(before, dict) and isinstance(after, dict):
        changes.extend(schema_changes(before, after, _join(path, "*")))
    elif isinstance(after, dict) and not isinstance(before, dict):
        note("fields it does not declare are now constrained", breaking=True)
    elif isinstance(before, dict):
        note("fields it does not declare are no longer constrained", breaking=False)


def _compare_items(
    old: dict[str, Any], new: dict[str, Any], path: str, note: Any, changes: list[SchemaChange]
) -> None:
    before, after = old.get("items"), new.get("items")
    if isinstance(before, dict) and isinstance(after, dict):
        changes.extend(schema_changes(before, after, f"{path}[]"))
    elif before is None and after is not None:
        note("array items are now constrained", breaking=True)
    elif before is not None and after is None:
        note("array items are no longer constrained", breaking=False)
    elif not _same(before, after):
        note("items changed: cannot tell whether old events still fit", breaking=True)


def _types(schema: dict[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _allowed_values(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    return list(schema["enum"]) if "enum" in schema else None


def _key(value: Any) -> str:
    # JSON equality: 1 and true are different values (Python says 1 == True).
    return json.dumps(value, sort_keys=True)


def _same(first: Any, second: Any) -> bool:
    return _key(first) == _key(second)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _show_types(types: set[str]) -> str:
    return "|".join(sorted(types))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --- Catalogs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    subject: str  # "CartReminderSent v1", "subscription cart-projection", "catalog"
    message: str
    breaking: bool

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"


def catalog_changes(committed: dict[str, Any], current: dict[str, Any]) -> list[Finding]:
    """What changed from the ``committed`` catalog to the ``current`` one. Each message
    (an event type at one version) is compared with the same message only: a new version
    is a new message, and the old one must stay readable."""
    findings: list[Finding] = []
    old_messages, new_messages = _messages(committed), _messages(current)
    for key, old in old_messages.items():
        subject = str(old.get("title", key))
        if key not in new_messages:
            findings.append(
                Finding(
                    subject,
                    "no longer declared: stored and in-flight events of it could not be read "
                    "(keep the version declared, with its upcaster)",
                    breaking=True,
                )
            )
            continue
        for change in schema_changes(old.get("payload", {}), new_messages[key].get("payload", {})):
            where = f"{change.path}: " if change.path else ""
            findings.append(Finding(subject, where + change.message, change.breaking))
    for key in sorted(new_messages.keys() - old_messages.keys()):
        subject = str(new_messages[key].get("title", key))
        findings.append(Finding(subject, "new event type or version", breaking=False))
    findings.extend(_subscription_changes(committed, current))
    if not findings and committed != current:
        findings.append(
            Finding("catalog", "differs from the code (texts, publishers or routes)", False)
        )
    return findings


def _subscription_changes(committed: dict[str, Any], current: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    old_operations, new_operations = _receivers(committed), _receivers(current)
    for name, old in old_operations.items():
        subject = f"subscription {name}"
        new = new_operations.get(name)
        if new is None:
            findings.append(Finding(subject, "removed", breaking=False))
            continue
        old_reads, new_reads = _reads(committed, old), _reads(current, new)
        for detail_type, version in sorted(old_reads.items()):
            now = new_reads.get(detail_type)
            if now is not None and now != version:
                findings.append(
                    Finding(
                        subject,
                        f"was written for {detail_type} v{version} and would now get v{now}: "
                        f"pin it with @subscribe(..., versions={{{detail_type!r}: {version}}}),"
                        f" or once its handler reads v{now}, run export_asyncapi "
                        "--allow-breaking",
                        breaking=True,
                    )
                )
        if old_reads.keys() != new_reads.keys() or not _same(
            old.get("x-eventbridge-pattern"), new.get("x-eventbridge-pattern")
        ):
            findings.append(Finding(subject, "pattern or event types changed", breaking=False))
    for name in sorted(new_operations.keys() - old_operations.keys()):
        findings.append(Finding(f"subscription {name}", "new", breaking=False))
    return findings


def _messages(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(document.get("components", {}).get("messages", {}))


def _receivers(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        str(operation.get("x-subscription", key)): operation
        for key, operation in document.get("operations", {}).items()
        if operation.get("action") == "receive"
    }


def _reads(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, int]:
    """detail-type -> the version a receive operation gets."""
    messages = _messages(document)
    reads: dict[str, int] = {}
    for reference in operation.get("messages", []):
        message = messages.get(str(reference.get("$ref", "")).rsplit("/", 1)[-1], {})
        routing = message.get("x-eventbridge", {})
        if "detail-type" in routing:
            reads[routing["detail-type"]] = routing.get("version", 1)
    return reads
