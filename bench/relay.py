"""Relay throughput to Celery on Redis, against raw kombu publishes of the same messages.

Each round writes N outbox rows, then times the relay (claim a batch of rows, match the one
subscription, enqueue one ``eventbus.deliver_batch`` task with the batch's events, mark the
rows published). The baseline publishes the very task messages the relay produces, with
kombu alone, on the same connection. Uses a scratch PostgreSQL database and a scratch Redis
db (flushed).

The verdict uses the median over rounds of (raw time / relay time), each relay round
followed at once by its raw round: on a shared machine the load changes from second to
second, and a short raw round is more likely than a long relay round to hit a quiet
moment, which skews a comparison of separate best rounds.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench._django import setup

EVENTS = int(os.environ.get("BENCH_RELAY_EVENTS", "1000"))
ROUNDS = int(os.environ.get("BENCH_RELAY_ROUNDS", "9"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
GOAL = 0.5


@dataclass
class Message:
    body: Any
    headers: dict[str, Any]
    properties: dict[str, Any]


def main() -> None:
    setup(
        database="bench_relay",
        env={"CELERY_BROKER_URL": REDIS_URL, "EVENT_BUS_BACKEND": "celery"},
    )
    import redis

    scratch = redis.Redis.from_url(REDIS_URL)
    scratch.flushdb()
    try:
        _run(scratch)
    finally:
        scratch.flushdb()


def _run(scratch: Any) -> None:
    from django.conf import settings

    from config.celery_app import app
    from eventbus.testing import temporary_subscription

    bench_event = _declare_event()
    batch = settings.EVENT_BUS["RELAY_BATCH_SIZE"]
    queue = app.conf.task_default_queue

    with temporary_subscription(
        name="bench-relay", pattern={"source": ["bench"], "detail": {"n": [{"exists": True}]}}
    ):
        messages = _capture_messages(bench_event)
        _raw_round(messages, scratch, queue)  # warm up connections and the queue declaration
        # Each relay round is followed at once by a raw round, so that the two of a pair see
        # the same machine load (other processes come and go on a shared machine).
        pairs = [
            (_relay_round(bench_event, scratch, queue), _raw_round(messages, scratch, queue))
            for _ in range(ROUNDS)
        ]

    relay_median = statistics.median(relay for relay, _ in pairs)
    raw_median = statistics.median(raw for _, raw in pairs)
    paired_ratio = statistics.median(raw / relay for relay, raw in pairs)
    best_ratio = min(raw for _, raw in pairs) / min(relay for relay, _ in pairs)
    print(f"events per round: {EVENTS}, relay batch size: {batch}, {ROUNDS} rounds")
    print(
        f"relay_outbox -> Celery (Redis): {EVENTS / relay_median:6.0f} events/s "
        f"({relay_median / EVENTS * 1e6:.0f} us/event, median round)"
    )
    print(
        f"raw kombu publish (baseline):   {EVENTS / raw_median:6.0f} events/s "
        f"({len(messages)} messages of up to {batch} events, median round)"
    )
    verdict = "met" if paired_ratio >= GOAL else "NOT met"
    print(
        f"ratio relay/raw: {paired_ratio:.2f}, median of paired rounds (goal >= {GOAL}: {verdict})"
    )
    print(f"ratio of the best rounds, for reference: {best_ratio:.2f}")


def _declare_event() -> type:
    from bench._events import BenchPinged

    return BenchPinged


def _fill_outbox(bench_event: type) -> None:
    from django.db import connection

    from eventbus.conversion import to_envelope
    from eventbus.models import OutboxEvent
    from eventbus.outbox import store_envelopes

    # TRUNCATE, not DELETE: every round starts from an empty table without dead rows.
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {OutboxEvent._meta.db_table}")
    store_envelopes([to_envelope(bench_event(n=number)) for number in range(EVENTS)])


def _relay_round(bench_event: type, scratch: Any, queue: str) -> float:
    """Seconds for the relay to publish a full outbox (the filling is not timed)."""
    from eventbus.relay import relay_outbox

    scratch.delete(queue)
    _fill_outbox(bench_event)
    # Let PostgreSQL write out the bulk insert first: on two cores its background work
    # would otherwise be charged to the relay.
    time.sleep(0.5)
    started = time.perf_counter()
    while relay_outbox().published:
        pass
    elapsed = time.perf_counter() - started
    delivered = scratch.llen(queue)
    if delivered != _messages_expected():
        raise SystemExit(f"relay enqueued {delivered} tasks, expected {_messages_expected()}")
    return elapsed


def _messages_expected() -> int:
    from django.conf import settings

    batch = settings.EVENT_BUS["RELAY_BATCH_SIZE"]
    return -(-EVENTS // batch)  # one task per relayed batch


def _capture_messages(bench_event: type) -> list[Message]:
    """The task messages the relay sends, built by Celery exactly as the relay builds them:
    one per relayed batch, holding the batch's events."""
    from django.conf import settings

    from config.celery_app import app
    from eventbus.conversion import to_envelope

    batch = settings.EVENT_BUS["RELAY_BATCH_SIZE"]
    bodies = [to_envelope(bench_event(n=number)).to_dict() for number in range(EVENTS)]
    messages = []
    for start in range(0, EVENTS, batch):
        task_message = app.amqp.create_task_message(
            uuid.uuid4().hex,
            "eventbus.deliver_batch",
            ("bench-relay", bodies[start : start + batch]),
            {},
        )
        messages.append(Message(task_message.body, task_message.headers, task_message.properties))
    return messages


def _raw_round(messages: list[Message], scratch: Any, queue: str) -> float:
    """Seconds for kombu alone to publish ``messages`` on the pooled Celery connection."""
    from config.celery_app import app

    scratch.delete(queue)
    with app.producer_or_acquire() as producer:
        app.amqp.queues[queue].bind(producer.channel).declare()
    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for message in messages:
            # What Celery does for a direct queue: the anonymous exchange, persistent messages.
            producer.publish(
                message.body,
                exchange="",
                routing_key=queue,
                serializer="json",
                delivery_mode=2,
                headers=message.headers,
                **message.properties,
            )
    elapsed = time.perf_counter() - started
    if scratch.llen(queue) != len(messages):
        raise SystemExit("raw publish lost messages")
    return elapsed
