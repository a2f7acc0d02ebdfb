"""The benchmarks' own event type, the size of a cart event. Import it after
``bench._django.setup()``: the event registry needs Django's apps."""

from __future__ import annotations

from dataclasses import dataclass

from eventbus.events import DomainEvent

BENCH_SOURCE = "bench"


@dataclass(frozen=True, kw_only=True)
class BenchPinged(DomainEvent):
    source = BENCH_SOURCE
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}, "note": {"type": "string"}},
        "required": ["n"],
    }

    n: int
    note: str = "a short payload, like a cart event"
