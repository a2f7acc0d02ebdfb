"""``manage.py replay_events``: a subscription added after the events happened catches up on
the history the outbox keeps, each event once, a cart's events in their order, and nobody
else sees anything."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from cart.models import Cart
from cart.services import cart_item_add, cart_item_remove
from eventbus.backfill import backfill_subscription
from eventbus.envelope import Envelope
from eventbus.models import DeadLetter, OutboxEvent, ProcessedEvent
from eventbus.subscriptions import subscribe, unsubscribe
from eventbus.testing import RecordingHandler, temporary_subscription

pytestmark = pytest.mark.django_db

CARTS = 8
EVENTS_PER_CART = 25  # 8 x 25 = 200
CART_EVENTS = {"source": ["shop.cart"]}


@pytest.fixture
def history(catalog, deliver) -> list[Envelope]:
    """200 cart events, accepted an hour ago over a few seconds (so one second holds
    several events of each cart), and delivered to the subscriptions of the time."""
    coffee = catalog.get(sku="COF-001")
    carts = [Cart.objects.create() for _ in range(CARTS)]
    envelopes = []
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False) as clock:
        for step in range(EVENTS_PER_CART):
            if step % 7 == 6:
                clock.shift(timedelta(seconds=1))
            for cart in carts:
                with transaction.atomic():
                    locked = Cart.objects.select_for_update().get(pk=cart.pk)
                    if step % 2 == 0:
                        envelopes.append(cart_item_add(cart=locked, product=coffee, quantity=1))
                    else:
                        envelopes.append(cart_item_remove(cart=locked, product=coffee))
    deliver()
    assert len(envelopes) == CARTS * EVENTS_PER_CART == 200
    return envelopes


def replay(*arguments: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("replay_events", *arguments, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def bus_state() -> dict[str, int]:
    """What every subscription has handled, by subscription."""
    return dict(Counter(ProcessedEvent.objects.values_list("subscription", flat=True)))


def test_a_new_subscription_catches_up_once_in_cart_order_and_nobody_else_sees_it(
    history, bus, deliver
):
    before, published = bus_state(), len(bus.published)
    with (
        temporary_subscription(name="late-analytics", pattern=CART_EVENTS) as late,
        temporary_subscription(name="late-bystander", pattern=CART_EVENTS) as bystander,
    ):
        out, err = replay("--subscription", "late-analytics")

        # Exactly once each.
        received = late.handler.calls
        assert len(received) == len(history)
        assert sorted(late.handler.event_ids) == sorted(envelope.id for envelope in history)
        # Each cart's events in their sequence order, everything in creation order.
        sequences: dict[str, list[int]] = {}
        for event, _ in received:
            sequences.setdefault(str(event.cart_id), []).append(event.sequence)
        assert len(sequences) == CARTS
        for cart_sequences in sequences.values():
            assert cart_sequences == list(range(1, len(cart_sequences) + 1))
        times = [envelope.time for _, envelope in received]
        assert times == sorted(times)
        assert len(set(times)) > 1  # several seconds, several events of a cart in each
        assert "delivered 200, 0 duplicate(s)" in out
        assert "0 dead letter(s), 0 skipped" in out
        assert "late-analytics has caught up." in out
        assert "200/200" in err  # the progress bar

        # Nobody else saw anything: nothing was published, no other subscription handled
        # anything, and a subscription just like it that was not replayed got nothing.
        deliver()
        assert bystander.handler.calls == []
        assert len(bus.published) == published
        assert bus_state() == {**before, "late-analytics": len(history)}

        # Twice changes nothing.
        out, _ = replay("--subscription", "late-analytics")
        assert len(late.handler.calls) == len(history)
        assert "delivered 0, 200 duplicate(s)" in out
        assert bus_state() == {**before, "late-analytics": len(history)}


def test_only_what_the_pattern_matches_and_the_chosen_detail_types(history):
    removals = [envelope for envelope in history if envelope.detail_type == "CartItemRemoved"]
    with temporary_subscription(
        name="late-removals", pattern={"detail-type": ["CartItemRemoved"]}
    ) as late:
        out, _ = replay("--subscription", "late-removals", "--dry-run")
        assert late.handler.calls == []
        assert f"would deliver {len(removals)}, 0 duplicate(s)" in out
        assert f"{len(history) - len(removals)} skipped (the pattern does not match)" in out

        out, _ = replay("--subscription", "late-removals")
        assert sorted(late.handler.event_ids) == sorted(envelope.id for envelope in removals)

    with temporary_subscription(name="late-adds", pattern=CART_EVENTS) as late:
        out, _ = replay("--subscription", "late-adds", "--detail-type", "ItemAddedToCart")
        adds = [envelope.id for envelope in history if envelope.detail_type == "ItemAddedToCart"]
        assert sorted(late.handler.event_ids) == sorted(adds)
        assert f"{len(adds)} event(s) from" in out and "0 skipped" in out


def test_since_and_until_bound_the_window(history):
    times = sorted({envelope.time for envelope in history})
    since, until = times[1], times[-1]
    inside = [envelope.id for envelope in history if since <= envelope.time < until]
    assert 0 < len(inside) < len(history)
    with temporary_subscription(name="late-window", pattern=CART_EVENTS) as late:
        replay(
            "--subscription",
            "late-window",
            "--since",
            since.isoformat(),
            "--until",
            until.isoformat(),
        )
        assert sorted(late.handler.event_ids) == sorted(inside)

        # A dry run of everything now counts those as handled before.
        out, _ = replay("--subscription", "late-window", "--dry-run")
        assert f"would deliver {len(history) - len(inside)}, {len(inside)} duplicate(s)" in out
        assert len(late.handler.calls) == len(inside)


def test_a_batch_subscription_gets_batches_and_each_cart_in_order_across_them(history):
    batches: list[list[str]] = []

    def handler(items):
        batches.append([envelope.id for _, envelope in items])

    subscribe(name="late-batches", pattern=CART_EVENTS, batch=True)(handler)
    try:
        report = backfill_subscription(subscription_name="late-batches", batch_size=30)
    finally:
        unsubscribe("late-batches")
    assert [len(batch) for batch in batches] == [30] * 6 + [20]
    order = {envelope.id: index for index, envelope in enumerate(history)}
    delivered = [event_id for batch in batches for event_id in batch]
    # The order the carts accepted them in (history's list is per cart in sequence order).
    by_cart: dict[str, list[int]] = {}
    for event_id in delivered:
        envelope = history[order[event_id]]
        by_cart.setdefault(envelope.detail["cart_id"], []).append(envelope.detail["sequence"])
    assert all(sequence == sorted(sequence) for sequence in by_cart.values())
    assert (report.delivered, report.duplicates, report.skipped) == (len(history), 0, 0)


def test_a_failing_handler_is_retried_then_dead_lettered_and_the_command_says_so(history, settings):
    handler = RecordingHandler(fail_with=RuntimeError("analytics store is down"))
    attempts = settings.EVENT_BUS["MAX_ATTEMPTS"]
    with (
        temporary_subscription(
            name="late-broken", pattern={"detail-type": ["ItemAddedToCart"]}, handler=handler
        ),
        pytest.raises(CommandError, match="replay_dead_letters --subscription late-broken"),
    ):
        replay("--subscription", "late-broken", "--batch-size", "500")
    adds = [envelope.id for envelope in history if envelope.detail_type == "ItemAddedToCart"]
    assert Counter(handler.event_ids) == {event_id: attempts for event_id in adds}
    letters = DeadLetter.objects.filter(subscription="late-broken")
    assert sorted(letters.values_list("event_id", flat=True)) == sorted(adds)
    assert set(letters.values_list("attempts", flat=True)) == {attempts}
    assert not ProcessedEvent.objects.filter(subscription="late-broken").exists()


def test_bad_input_is_a_clear_error(history, settings):
    with pytest.raises(CommandError, match="no subscription named 'nobody'"):
        replay("--subscription", "nobody")
    with pytest.raises(CommandError, match="--since: not an ISO 8601 date"):
        replay("--subscription", "cart-projection", "--since", "last tuesday")
    with pytest.raises(CommandError, match="must be before until"):
        replay(
            "--subscription", "cart-projection", "--since", "2030-01-02", "--until", "2030-01-01"
        )
    with pytest.raises(CommandError, match="--detail-type cannot narrow an archive replay"):
        replay("--subscription", "cart-projection", "--from-archive", "--detail-type", "X")
    with pytest.raises(CommandError, match="needs EVENT_BUS_BACKEND=eventbridge"):
        replay("--subscription", "cart-projection", "--from-archive")


def test_events_the_bus_refused_are_not_history(history):
    refused = history[-1]
    OutboxEvent.objects.filter(pk=refused.id).update(status=OutboxEvent.Status.FAILED)
    with temporary_subscription(name="late-analytics", pattern=CART_EVENTS) as late:
        replay("--subscription", "late-analytics")
    assert refused.id not in late.handler.event_ids
    assert len(late.handler.calls) == len(history) - 1
