"""The transport envelope: EventBridge's event structure, used by every backend alike."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any


class MalformedEnvelope(ValueError):
    """A message that is not an EventBridge event: it can never be delivered."""


# The text fields of an envelope, each at most this long (ids, names and ARNs are short).
_TEXT_FIELDS = ("id", "detail-type", "source", "account", "region", "version")
_MAX_TEXT = 256


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise MalformedEnvelope(f"envelope {key} must be a string, got {type(value).__name__}")
    if len(value) > _MAX_TEXT:
        raise MalformedEnvelope(f"envelope {key} is longer than {_MAX_TEXT} characters")
    if key in ("id", "detail-type", "source") and not value:
        raise MalformedEnvelope(f"envelope {key} is empty")
    return value


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class Envelope:
    """An event as EventBridge carries it; ``detail`` holds primitives only."""

    detail_type: str
    source: str
    detail: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    account: str = "000000000000"
    region: str = "local"
    resources: tuple[str, ...] = ()
    version: str = "0"

    @property
    def correlation_id(self) -> str | None:
        return self.detail.get("correlation_id")

    def with_new_identity(self, *, now: datetime | None = None) -> Envelope:
        """The same event emitted again as a new occurrence (how a schedule fires)."""
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        return replace(self, id=str(uuid.uuid4()), time=moment)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "id": self.id,
            "detail-type": self.detail_type,
            "source": self.source,
            "account": self.account,
            "time": _format_time(self.time),
            "region": self.region,
            "resources": list(self.resources),
            "detail": self.detail,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> Envelope:
        """The envelope in ``data``, each field checked for its type: anything else
        (whatever a bus or a person put on a queue) is a ``MalformedEnvelope``."""
        if not isinstance(data, dict):
            raise MalformedEnvelope(f"an envelope is a JSON object, got {type(data).__name__}")
        missing = [key for key in ("id", "detail-type", "source", "detail") if key not in data]
        if missing:
            raise MalformedEnvelope(f"envelope lacks {', '.join(missing)}")
        if not isinstance(data["detail"], dict):
            raise MalformedEnvelope("envelope detail must be a JSON object")
        text = {key: _text(data, key) for key in _TEXT_FIELDS}
        resources = data.get("resources") or []
        if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
            raise MalformedEnvelope("envelope resources must be a list of strings")
        time = data.get("time")
        if time is not None and not isinstance(time, str):
            raise MalformedEnvelope(f"envelope time must be a string, got {type(time).__name__}")
        try:
            moment = _parse_time(time) if time else datetime.now(UTC)
        except ValueError as error:
            raise MalformedEnvelope(f"envelope time is not ISO 8601: {time!r}") from error
        return cls(
            id=text["id"],
            detail_type=text["detail-type"],
            source=text["source"],
            detail=data["detail"],
            time=moment,
            account=text["account"] or "000000000000",
            region=text["region"] or "local",
            resources=tuple(resources),
            version=text["version"] or "0",
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as error:
            raise MalformedEnvelope(f"not JSON: {error}") from error
        return cls.from_dict(data)
