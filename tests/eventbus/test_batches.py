"""Batched delivery: what a transport delivers together is handled in one transaction,
the processed-event rows claimed with one statement, and a failing event is retried (and
dead-lettered) alone while the others commit once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from eventbus.backends.celery import deliver_batch
from eventbus.conversion import to_envelope
from eventbus.delivery import Result
from eventbus.delivery import deliver_batch as deliver_together
from eventbus.failures import max_attempts
from eventbus.models import DeadLetter, ProcessedEvent
from eventbus.subscriptions import subscribe, unsubscribe
from tests.eventbus.sample_events import SHIPPING, ParcelShipped

pytestmark = pytest.mark.django_db

NAME = "shipping-batch"


class BatchLedger:
    """A batch handler that records the parcels it was given, and fails on ``poison``."""

    def __init__(self, poison: str = "") -> None:
        self.poison = poison
        self.calls: list[list[str]] = []
        self.__qualname__ = f"BatchLedger-{id(self)}"
        self.__module__ = __name__

    def __call__(self, items) -> None:
        parcels = [event.parcel_id for event, _ in items]
        self.calls.append(parcels)
        if self.poison in parcels:
            raise RuntimeError(f"parcel {self.poison} breaks the ledger")

    def handled(self) -> list[str]:
        """Parcels of the calls that succeeded (their effects committed)."""
        return sorted(p for call in self.calls if self.poison not in call for p in call)


@pytest.fixture
def ledger():
    handlers = []

    def register(poison: str = "") -> BatchLedger:
        handler = BatchLedger(poison)
        subscribe(name=NAME, pattern=SHIPPING, batch=True)(handler)
        handlers.append(handler)
        return handler

    yield register
    unsubscribe(NAME)


def envelopes(*parcels: str) -> list[dict]:
    return [to_envelope(ParcelShipped(parcel_id=p, weight_grams=100)).to_dict() for p in parcels]


def test_a_batch_is_one_handler_call_and_one_claim(ledger):
    handler = ledger()
    batch = envelopes("A", "B", "C")
    with CaptureQueriesContext(connection) as queries:
        outcomes = deliver_together(NAME, [(envelope, 1) for envelope in batch])
    assert [outcome.result for outcome in outcomes] == [Result.HANDLED] * 3
    assert handler.calls == [["A", "B", "C"]]
    claims = [q["sql"] for q in queries.captured_queries if "eventbus_processedevent" in q["sql"]]
    assert len(claims) == 1 and claims[0].startswith('INSERT INTO "eventbus_processedevent"')
    assert ProcessedEvent.objects.filter(subscription=NAME).count() == 3


def test_a_failing_event_is_retried_alone_and_dead_lettered_with_its_attempts(ledger, bus):
    handler = ledger(poison="B")
    batch = envelopes("A", "B", "C")

    deliver_batch.apply(args=(NAME, batch))  # the Celery task, eager: retries run at once

    # A and C were applied once, in the second call (the first, the whole batch, failed and
    # was rolled back); B alone was tried on every attempt.
    assert handler.calls == [["A", "B", "C"], ["A"], ["B"], ["C"]] + [["B"]] * (max_attempts() - 1)
    assert handler.handled() == ["A", "C"]
    [letter] = DeadLetter.objects.all()
    assert (letter.subscription, letter.event_id) == (NAME, batch[1]["id"])
    assert letter.attempts == max_attempts()
    assert set(ProcessedEvent.objects.values_list("event_id", flat=True)) == {
        batch[0]["id"],
        batch[2]["id"],
    }


def test_a_redelivered_batch_changes_nothing(ledger):
    handler = ledger()
    batch = [(envelope, 1) for envelope in envelopes("A", "B")]
    deliver_together(NAME, batch)
    outcomes = deliver_together(NAME, batch)
    assert [outcome.result for outcome in outcomes] == [Result.DUPLICATE] * 2
    assert handler.calls == [["A", "B"]]


def test_part_of_a_batch_seen_before_runs_only_the_new_part(ledger):
    handler = ledger()
    first, second = envelopes("A", "B")
    deliver_together(NAME, [(first, 1)])
    outcomes = deliver_together(NAME, [(first, 2), (second, 1), (second, 1)])
    assert [outcome.result for outcome in outcomes] == [
        Result.DUPLICATE,
        Result.HANDLED,
        Result.DUPLICATE,  # the same event twice in one delivery
    ]
    assert handler.calls == [["A"], ["B"]]


def test_a_message_that_is_no_event_does_not_hold_back_the_others(ledger):
    handler = ledger()
    good = envelopes("A")[0]
    outcomes = deliver_together(
        NAME, [({"id": 5, "source": [], "detail-type": None, "detail": {}}, 1), (good, 1)]
    )
    assert outcomes[0].result is Result.DEAD_LETTER and outcomes[0].recorded
    assert outcomes[1].result is Result.HANDLED
    assert handler.calls == [["A"]]
    assert "MalformedEnvelope" in DeadLetter.objects.get().error


def test_the_cart_projection_costs_the_same_queries_for_one_event_or_many(catalog):
    from rest_framework.test import APIClient

    from eventbus.models import OutboxEvent

    def accepted_batch(carts: int, adds: int) -> list:
        before = set(OutboxEvent.objects.values_list("pk", flat=True))
        for _ in range(carts):
            client = APIClient()
            for number in range(adds):
                sku = ["COF-001", "COF-002", "TEA-001"][number % 3]
                client.post("/api/cart/items/", {"sku": sku, "quantity": 1}, format="json")
        rows = OutboxEvent.objects.exclude(pk__in=before).order_by("created_at", "pk")
        return [(row.envelope, 1) for row in rows]

    def queries_for(batch) -> int:
        with CaptureQueriesContext(connection) as queries:
            outcomes = deliver_together("cart-projection", batch)
        assert {outcome.result for outcome in outcomes} == {Result.HANDLED}
        return len(queries.captured_queries)

    alone = queries_for(accepted_batch(carts=1, adds=1))
    several = queries_for(accepted_batch(carts=3, adds=2))
    many = queries_for(accepted_batch(carts=10, adds=3))
    assert many == several
    # One event needs no savepoint (it cannot fail "alone" while others commit).
    assert alone == several - 2


def test_the_reminder_policy_takes_no_savepoint_per_cart(catalog):
    """A batch's carts share the delivery's transaction: a failing cart fails the batch,
    which the delivery then retries event by event, so a savepoint per cart (two more
    statements each) would buy nothing."""
    from rest_framework.test import APIClient

    from eventbus.models import OutboxEvent

    for _ in range(3):
        APIClient().post("/api/cart/items/", {"sku": "COF-001", "quantity": 1}, format="json")
    batch = [(row.envelope, 1) for row in OutboxEvent.objects.order_by("created_at", "pk")]
    with CaptureQueriesContext(connection) as queries:
        outcomes = deliver_together("reminder-policy", batch)

    assert {outcome.result for outcome in outcomes} == {Result.HANDLED}
    savepoints = [
        query["sql"] for query in queries.captured_queries if query["sql"].startswith("SAVEPOINT")
    ]
    # The delivery's transaction (a savepoint inside the test's) and the batch's: none per cart.
    assert len(savepoints) == 2


def test_the_recovery_dashboard_writes_a_batchs_facts_in_one_statement(catalog):
    from rest_framework.test import APIClient

    from eventbus.models import OutboxEvent
    from notifications.models import RecoveryFact

    for _ in range(4):
        client = APIClient()
        for sku in ["COF-001", "COF-002"]:
            client.post("/api/cart/items/", {"sku": sku, "quantity": 1}, format="json")
    batch = [(row.envelope, 1) for row in OutboxEvent.objects.order_by("created_at", "pk")]
    assert len(batch) == 8
    with CaptureQueriesContext(connection) as queries:
        outcomes = deliver_together("recovery-dashboard", batch)
    assert {outcome.result for outcome in outcomes} == {Result.HANDLED}
    inserts = [q for q in queries.captured_queries if "notifications_recoveryfact" in q["sql"]]
    assert len(inserts) == 1
    # A cart's adds of one day are one fact; the batch again changes nothing.
    assert RecoveryFact.objects.filter(kind="cart_active").count() == 4
    deliver_together("recovery-dashboard", batch)
    assert RecoveryFact.objects.count() == 4
