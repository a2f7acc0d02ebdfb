"""Pattern matching cost per event: a compiled 3-field EventBridge pattern against a
hand-written Python predicate that makes the same decision, on the same events."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

ROUNDS = int(os.environ.get("BENCH_PATTERN_ROUNDS", "7"))
EVENTS = 1000
REPEAT = 100  # each round matches EVENTS x REPEAT times
GOAL = 3.0

PATTERN = {
    "source": ["shop.cart"],
    "detail-type": ["ItemAddedToCart"],
    "detail": {"quantity": [{"numeric": [">=", 2]}]},
}


def by_hand(event: dict[str, Any]) -> bool:
    """What a developer would write for PATTERN, JSON types respected (bools are no numbers)."""
    if event.get("source") != "shop.cart" or event.get("detail-type") != "ItemAddedToCart":
        return False
    detail = event.get("detail")
    quantity = detail.get("quantity") if isinstance(detail, dict) else None
    return isinstance(quantity, (int, float)) and not isinstance(quantity, bool) and quantity >= 2


def sample_events() -> list[dict[str, Any]]:
    """Envelopes as the relay sees them: a quarter match, the rest fail on each field in turn."""
    kinds = [
        ("shop.cart", "ItemAddedToCart", 3),  # matches
        ("shop.cart", "ItemAddedToCart", 1),  # fails on quantity
        ("shop.cart", "CartItemRemoved", None),  # fails on detail-type
        ("shop.notifications", "CartReminderDue", None),  # fails on source
    ]
    events = []
    for number in range(EVENTS):
        source, detail_type, quantity = kinds[number % len(kinds)]
        detail: dict[str, Any] = {
            "cart_id": f"00000000-0000-4000-8000-{number:012d}",
            "sequence": number + 1,
            "sku": "COF-001",
            "correlation_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        }
        if quantity is not None:
            detail |= {"quantity": quantity, "unit_price": "12.50", "currency": "EUR"}
        events.append(
            {
                "version": "0",
                "id": f"7f5c3a3e-0000-4000-8000-{number:012d}",
                "detail-type": detail_type,
                "source": source,
                "account": "000000000000",
                "time": "2026-11-26T10:00:00Z",
                "region": "local",
                "resources": [],
                "detail": detail,
            }
        )
    return events


def _best_seconds_per_event(predicate: Callable[[Any], bool], events: list[Any]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(REPEAT):
            for event in events:
                predicate(event)
        best = min(best, time.perf_counter() - started)
    return best / (REPEAT * len(events))


def main() -> None:
    from eventbus.patterns import compile_pattern

    compiled = compile_pattern(PATTERN)
    events = sample_events()
    decisions = [compiled.matches(event) for event in events]
    if decisions != [by_hand(event) for event in events]:
        raise SystemExit("the compiled pattern and the hand-written predicate disagree")
    print(f"pattern: {PATTERN}")
    print(f"{len(events)} events, {sum(decisions)} matching; best of {ROUNDS} x {REPEAT} passes")

    # Alternate, so that a noisy neighbour slows both alike.
    compiled_seconds = hand_seconds = float("inf")
    for _ in range(3):
        compiled_seconds = min(compiled_seconds, _best_seconds_per_event(compiled.matches, events))
        hand_seconds = min(hand_seconds, _best_seconds_per_event(by_hand, events))
    ratio = compiled_seconds / hand_seconds
    print(f"compiled pattern:      {compiled_seconds * 1e9:7.0f} ns/event")
    print(f"hand-written predicate:{hand_seconds * 1e9:7.0f} ns/event")
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"ratio compiled/hand: {ratio:.2f} (goal <= {GOAL}: {verdict})")
