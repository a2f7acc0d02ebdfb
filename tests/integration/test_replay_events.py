"""``replay_events`` on the real backends: from the outbox it delivers in process on either
backend and the bus carries nothing (no SQS message, no Celery task); on moto's EventBridge
``--from-archive`` replays the bus's archive into the subscription's rule.

What moto (5.2.5) does with StartReplay, and so what is and is not shown here: it checks the
archive, the destination bus and the window's bounds, records the replay (DescribeReplay
answers COMPLETED with the Destination, FilterArns included, and the window as given) and
sends every archived event, with a ``replay-name``, to the targets of the bus's rules at
once. It ignores ``FilterArns`` (every rule whose pattern matches gets the events, where
EventBridge sends them only to the rules listed) and the window (every archived event, where
EventBridge sends those whose time is inside it). So the tests check the request that
restricts the replay to one rule, that the subscription's consumer handles each archived
event once however often it is replayed, and that the other subscriptions, which moto hands
the events too, find only duplicates: their state does not change.
"""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from cart.models import Cart
from cart.services import cart_item_add, cart_item_remove
from eventbus.aws.provisioning import provision
from eventbus.envelope import Envelope
from eventbus.models import ProcessedEvent
from eventbus.testing import temporary_subscription
from tests.integration.moto_server import BUS_NAME, QUEUE_PREFIX

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CART_EVENTS = {"source": ["shop.cart"]}


def accept_events(catalog, *, carts: int = 3, per_cart: int = 6) -> list[Envelope]:
    """Cart events, each accepted in its own transaction (the relay publishes after each)."""
    coffee = catalog.get(sku="COF-001")
    envelopes = []
    cart_ids = [Cart.objects.create().pk for _ in range(carts)]
    for step in range(per_cart):
        for cart_id in cart_ids:
            with transaction.atomic():
                cart = Cart.objects.select_for_update().get(pk=cart_id)
                if step % 2 == 0:
                    envelopes.append(cart_item_add(cart=cart, product=coffee, quantity=1))
                else:
                    envelopes.append(cart_item_remove(cart=cart, product=coffee))
    return envelopes


def replay(*arguments: str, progress: StringIO | None = None) -> str:
    out = StringIO()
    if progress is None:
        arguments = (*arguments, "--no-progress")
    call_command("replay_events", *arguments, stdout=out, stderr=progress or StringIO())
    return out.getvalue()


def consume_once(*names: str) -> None:
    arguments = ["consume_events", "--once", "--wait-seconds", "1"]
    for name in names:
        arguments += ["--subscription", name]
    call_command(*arguments, stdout=StringIO())


def handled() -> Counter:
    return Counter(ProcessedEvent.objects.values_list("subscription", flat=True))


def test_on_eventbridge_the_outbox_replay_delivers_in_process_and_sends_nothing(
    require_postgres, provisioned, catalog
):
    envelopes = accept_events(catalog)
    consume_once()  # the subscriptions of the time handle the live events
    before = handled()
    put_events = []
    provisioned.client("events").meta.events.register(
        "before-call.events.PutEvents", lambda **kwargs: put_events.append(kwargs)
    )
    queues = [f"{QUEUE_PREFIX}-{name}" for name in before]

    with temporary_subscription(name="late-analytics", pattern=CART_EVENTS) as late:
        # No rule or queue exists for it on AWS: the replay does not need one.
        out = replay("--subscription", "late-analytics")

    assert sorted(late.handler.event_ids) == sorted(envelope.id for envelope in envelopes)
    assert f"delivered {len(envelopes)}, 0 duplicate(s)" in out
    assert put_events == []
    assert all(provisioned.queue_depth(queue) == 0 for queue in queues)
    assert handled() == {**before, "late-analytics": len(envelopes)}


def broker_queues(broker: redis.Redis) -> dict[bytes, int]:
    """Every list in the broker's database (kombu's queues) and its length."""
    return {key: broker.llen(key) for key in broker.scan_iter() if broker.type(key) == b"list"}


def test_on_celery_the_outbox_replay_enqueues_no_task(celery_bus, catalog):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()
    envelopes = accept_events(catalog, carts=2, per_cart=3)
    queued = broker_queues(broker)
    assert sum(queued.values()) > 0  # the live events wait for a worker

    with temporary_subscription(name="late-analytics", pattern=CART_EVENTS) as late:
        out = replay("--subscription", "late-analytics")

    assert sorted(late.handler.event_ids) == sorted(envelope.id for envelope in envelopes)
    assert f"delivered {len(envelopes)}" in out
    assert broker_queues(broker) == queued


def test_from_the_archive_the_subscriptions_rule_gets_the_replay(
    require_postgres, provisioned, catalog
):
    envelopes = accept_events(catalog)
    consume_once()
    events = provisioned.client("events")
    archive = events.describe_archive(ArchiveName=f"{BUS_NAME}-archive")
    assert archive["EventCount"] == len(envelopes)  # provisioning's archive has them all

    with temporary_subscription(name="late-analytics", pattern=CART_EVENTS) as late:
        provision()  # its rule, queue and DLQ: a new subscription is deployed first
        before = handled()
        rule_arn = events.describe_rule(Name="late-analytics", EventBusName=BUS_NAME)["Arn"]

        planned = replay("--subscription", "late-analytics", "--from-archive", "--dry-run")
        assert "would start replay late-analytics-" in planned and rule_arn in planned
        assert events.list_replays()["Replays"] == []

        progress = StringIO()
        out = replay("--subscription", "late-analytics", "--from-archive", progress=progress)
        assert "100/100" in progress.getvalue() and "state=COMPLETED" in progress.getvalue()

        [listed] = events.list_replays()["Replays"]
        replayed = events.describe_replay(ReplayName=listed["ReplayName"])
        assert replayed["State"] == "COMPLETED"
        assert replayed["EventSourceArn"] == archive["ArchiveArn"]
        bus_arn = events.describe_event_bus(Name=BUS_NAME)["Arn"]
        assert replayed["Destination"] == {"Arn": bus_arn, "FilterArns": [rule_arn]}
        assert replayed["EventStartTime"] == archive["CreationTime"]
        assert replayed["EventEndTime"] > max(envelope.time for envelope in envelopes)
        assert f"Replay {listed['ReplayName']}: COMPLETED" in out
        assert "consume_events --subscription late-analytics" in out

        consume_once("late-analytics")
        assert sorted(late.handler.event_ids) == sorted(envelope.id for envelope in envelopes)

        # Again: the queue gets the events again, the consumer finds only duplicates.
        replay("--subscription", "late-analytics", "--from-archive", "--no-wait")
        assert len(events.list_replays()["Replays"]) == 2
        assert provisioned.queue_depth(f"{QUEUE_PREFIX}-late-analytics") == len(envelopes)
        consume_once("late-analytics")
        assert len(late.handler.calls) == len(envelopes)

        # moto also hands the replays to the other rules (EventBridge would not): their
        # consumers find only events they had handled.
        consume_once()
        assert handled() == {**before, "late-analytics": len(envelopes)}


def test_from_the_archive_without_an_archive_or_a_rule_is_a_clear_error(provisioned):
    from django.core.management import CommandError

    with (
        temporary_subscription(name="late-analytics", pattern=CART_EVENTS),
        pytest.raises(CommandError, match="no rule late-analytics on the bus"),
    ):
        replay("--subscription", "late-analytics", "--from-archive")
    provisioned.client("events").delete_archive(ArchiveName=f"{BUS_NAME}-archive")
    with pytest.raises(CommandError, match="has no archive shop-test-archive"):
        replay("--subscription", "cart-projection", "--from-archive")
