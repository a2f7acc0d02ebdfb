"""A cart's story for the reminder admin: every event the outbox still holds that names the
cart (its own events and its reminders'), oldest first, with time, sequence and correlation
id. The outbox keeps envelopes for ``EVENT_RETENTION``; older events are pruned, so a
timeline says from when it is complete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eventbus.history import history_envelopes, history_horizon

# Detail fields worth a glance in a timeline row, in this order.
_SHOWN = ("sku", "quantity", "step", "reason", "order_id", "touch", "total", "discount_code")


@dataclass(frozen=True)
class TimelineEntry:
    time: datetime
    detail_type: str
    sequence: int | None
    correlation_id: str
    event_id: str
    summary: str


@dataclass(frozen=True)
class Timeline:
    entries: list[TimelineEntry]
    complete_since: datetime
    # False when the cart is older than the retained history: its first events are gone.
    complete: bool


def _summary(detail: dict) -> str:
    parts = [f"{name} {detail[name]}" for name in _SHOWN if detail.get(name) not in (None, "")]
    if "consent" in detail:
        parts.append("consent" if detail["consent"] else "no consent")
    if detail.get("consent") and "confirmed" in detail:
        # Double opt-in: a guest's consent counts (and a reminder follows) once confirmed.
        parts.append("confirmed" if detail["confirmed"] else "not confirmed yet")
    return ", ".join(parts)


def cart_timeline(*, cart_id: object, cart_created_at: datetime) -> Timeline:
    horizon = history_horizon()
    entries = [
        TimelineEntry(
            time=envelope.time,
            detail_type=envelope.detail_type,
            sequence=envelope.detail.get("sequence"),
            correlation_id=envelope.correlation_id or "",
            event_id=envelope.id,
            summary=_summary(envelope.detail),
        )
        for envelope in history_envelopes(
            since=cart_created_at.replace(microsecond=0),
            detail_field="cart_id",
            value=str(cart_id),
        )
    ]
    # Envelope times have one-second resolution: within a second, the cart's own events
    # in their sequence, then the reminders' (which follow from them).
    entries.sort(key=lambda entry: (entry.time, entry.sequence is None, entry.sequence or 0))
    return Timeline(entries, horizon, complete=cart_created_at >= horizon)
