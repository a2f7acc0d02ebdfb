"""Relay throughput to EventBridge (a local moto server), against a raw boto3 ``put_events``
loop over the same batches, and PutEvents calls per event under load.

Throughput: each round fills the outbox with N events and times the relay until it is
empty (claim rows, build entries, PutEvents in batches of ten, mark rows published); the
baseline sends the very same entries, ten per call, with boto3 alone on the same client.
Rounds alternate; the best of each counts.

Calls per event under load: producer threads commit one event per transaction, as web
requests do, while a sweeping relay loop runs alongside (``relay_events``), once with the
after-commit relay off (the sweeping relay publishes everything) and once with it on (each
transaction's event goes out right after its commit, in a call of its own); PutEvents
calls are counted with botocore's event hooks.

The bus has the project's rules, none of which matches the bench events: moto delivers
to SQS inside the PutEvents call (EventBridge does it after answering), so leaving the
queues out keeps each call as quick as moto allows, the case where the relay's own
overhead weighs most. Accepted entries are counted from the responses.

Needs PostgreSQL (a scratch database) and moto[server]; moto is started here, on loopback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench._django import setup

EVENTS = int(os.environ.get("BENCH_EVENTBRIDGE_EVENTS", "1000"))
ROUNDS = int(os.environ.get("BENCH_EVENTBRIDGE_ROUNDS", "5"))
PRODUCERS = int(os.environ.get("BENCH_EVENTBRIDGE_PRODUCERS", "8"))
EVENTS_PER_PRODUCER = int(os.environ.get("BENCH_EVENTBRIDGE_EVENTS_PER_PRODUCER", "150"))
THROUGHPUT_GOAL = 0.8
CALLS_PER_EVENT_GOAL = 0.11


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_moto() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
            return process, endpoint
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto_server did not start")


def main() -> None:
    moto, endpoint = _start_moto()
    try:
        setup(
            database="bench_eventbridge",
            env={
                "EVENT_BUS_BACKEND": "eventbridge",
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": "eu-west-1",
                "EVENT_BUS_NAME": "bench",
                "EVENT_QUEUE_PREFIX": "bench",
                "SCHEDULE_GROUP": "bench",
                "CONN_MAX_AGE": "60",
            },
        )
        _run()
    finally:
        moto.terminate()
        moto.wait(timeout=10)


def _run() -> None:
    from django.conf import settings

    from eventbus.aws.backend import eventbridge_backend
    from eventbus.aws.provisioning import provision

    bench_event = _declare_event()
    provision()
    # The backend's own client: the counter sees the relay's calls and the raw ones alike.
    counter = _PutEventsCounter(eventbridge_backend().client("events"))
    entries = _entries(bench_event)
    _raw_round(entries, counter)  # warm up the connection pool and moto
    relay_seconds = raw_seconds = float("inf")
    relay_calls = 0
    for number in range(1, ROUNDS + 1):
        relay_seconds = min(relay_seconds, _relay_round(bench_event, counter))
        relay_calls = counter.calls
        raw_seconds = min(raw_seconds, _raw_round(entries, counter))
        print(f"round {number}/{ROUNDS} done", flush=True)
    loads = {
        after_commit: _load_round(bench_event, counter, relay_after_commit=after_commit)
        for after_commit in (False, True)
    }

    relay_rate, raw_rate = EVENTS / relay_seconds, EVENTS / raw_seconds
    ratio = relay_rate / raw_rate
    print(
        f"events per round: {EVENTS}, relay batch size: {settings.EVENT_BUS['RELAY_BATCH_SIZE']}, "
        f"best of {ROUNDS} rounds, moto_server on loopback, no rule matches (no SQS work)"
    )
    print(f"relay_outbox -> EventBridge (moto): {relay_rate:8.0f} events/s")
    print(f"raw boto3 put_events, same batches: {raw_rate:8.0f} events/s")
    print(
        f"ratio relay/raw: {ratio:.2f} (goal >= {THROUGHPUT_GOAL}: "
        f"{'met' if ratio >= THROUGHPUT_GOAL else 'NOT met'})"
    )
    print(f"PutEvents calls per event, draining a backlog: {relay_calls / EVENTS:.3f}")
    for after_commit, (published, calls, seconds) in loads.items():
        per_event = calls / published
        who = (
            "after-commit relay per transaction + sweeping relay"
            if after_commit
            else "sweeping relay only (relay_events; after-commit relay off)"
        )
        verdict = "met" if per_event <= CALLS_PER_EVENT_GOAL else "NOT met"
        print(
            f"under load, {who}: {PRODUCERS} threads x {EVENTS_PER_PRODUCER} one-event "
            f"transactions, {published} events in {seconds:.2f}s, {calls} PutEvents calls: "
            f"{per_event:.3f} calls/event (goal <= {CALLS_PER_EVENT_GOAL}: {verdict})"
        )


class _PutEventsCounter:
    """Counts a client's PutEvents calls and accepted entries with botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.calls = self.accepted = 0
        self._lock = threading.Lock()
        client.meta.events.register("before-call.events.PutEvents", self._count_call)
        client.meta.events.register("after-call.events.PutEvents", self._count_accepted)

    def _count_call(self, **kwargs: Any) -> None:
        with self._lock:
            self.calls += 1

    def _count_accepted(self, parsed: dict[str, Any], **kwargs: Any) -> None:
        accepted = sum(1 for entry in parsed.get("Entries", []) if "EventId" in entry)
        with self._lock:
            self.accepted += accepted

    def reset(self) -> None:
        with self._lock:
            self.calls = self.accepted = 0


def _declare_event() -> type:
    from bench._events import BenchPinged

    return BenchPinged


def _envelopes(bench_event: type) -> list[Any]:
    from eventbus.conversion import to_envelope

    return [to_envelope(bench_event(n=number)) for number in range(EVENTS)]


def _entries(bench_event: type) -> list[dict[str, Any]]:
    from eventbus.aws.backend import put_events_entry
    from eventbus.backend import get_backend

    bus_name = get_backend().bus_name
    return [put_events_entry(envelope, bus_name=bus_name) for envelope in _envelopes(bench_event)]


def _fill_outbox(bench_event: type) -> None:
    from eventbus.models import OutboxEvent
    from eventbus.outbox import store_envelopes

    OutboxEvent.objects.all().delete()
    store_envelopes(_envelopes(bench_event))


def _relay_round(bench_event: type, counter: _PutEventsCounter) -> float:
    """Seconds for the relay to publish a full outbox (the filling is not timed)."""
    from eventbus.relay import relay_outbox

    _fill_outbox(bench_event)
    counter.reset()
    started = time.perf_counter()
    while relay_outbox().published:
        pass
    elapsed = time.perf_counter() - started
    if counter.accepted != EVENTS:
        raise SystemExit(f"EventBridge accepted {counter.accepted} events, expected {EVENTS}")
    return elapsed


def _raw_round(entries: list[dict[str, Any]], counter: _PutEventsCounter) -> float:
    """Seconds for boto3 alone to send ``entries`` ten per call on the same client."""
    from eventbus.aws.backend import eventbridge_backend

    events = eventbridge_backend().client("events")
    started = time.perf_counter()
    for start in range(0, len(entries), 10):
        response = events.put_events(Entries=entries[start : start + 10])
        if response.get("FailedEntryCount"):
            raise SystemExit(f"raw put_events failed: {response['Entries']}")
    return time.perf_counter() - started


def _load_round(
    bench_event: type, counter: _PutEventsCounter, *, relay_after_commit: bool
) -> tuple[int, int, float]:
    """(events published, PutEvents calls, seconds) with concurrent one-event commits and a
    sweeping relay; without ``relay_after_commit`` only the sweeping relay publishes."""
    from django.db import connection, transaction

    from eventbus import outbox
    from eventbus.models import OutboxEvent

    OutboxEvent.objects.all().delete()
    counter.reset()
    producers_done = threading.Event()
    relay_committed = outbox._relay_committed
    if not relay_after_commit:
        outbox._relay_committed = lambda: None

    def produce(offset: int) -> None:
        try:
            for number in range(EVENTS_PER_PRODUCER):
                with transaction.atomic():
                    outbox.publish(bench_event(n=offset + number))
        finally:
            connection.close()

    def sweep() -> None:
        try:
            while not producers_done.is_set():
                if not outbox.sweep_outbox().published:
                    time.sleep(0.005)
            outbox.sweep_outbox()
        finally:
            connection.close()

    try:
        started = time.perf_counter()
        sweeper = threading.Thread(target=sweep)
        sweeper.start()
        producers = [
            threading.Thread(target=produce, args=(index * EVENTS_PER_PRODUCER,))
            for index in range(PRODUCERS)
        ]
        for thread in producers:
            thread.start()
        for thread in producers:
            thread.join()
        producers_done.set()
        sweeper.join()
        elapsed = time.perf_counter() - started
    finally:
        outbox._relay_committed = relay_committed
    published = OutboxEvent.objects.filter(status=OutboxEvent.Status.PUBLISHED).count()
    expected = PRODUCERS * EVENTS_PER_PRODUCER
    if published != expected or counter.accepted != expected:
        raise SystemExit(f"under load: {published} published, expected {expected}")
    return published, counter.calls, elapsed
