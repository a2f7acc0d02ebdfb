"""Test-only event type and subscriptions that a real Celery worker runs.

The worker imports this module through ``EVENTBUS_EXTRA_HANDLER_MODULES`` (see
eventbus/apps.py); the test process imports it too, because the Celery backend routes
events where they are published. Handlers write one row per run into the
``bus_probe_effect`` table, in the handler's transaction (what "effect" means for
exactly-once), and count their attempts in Redis (which a rollback does not undo).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from django.db import connection, transaction

from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.outbox import publish
from eventbus.subscriptions import subscribe

PLAIN_SUBSCRIPTIONS = ("probe-a", "probe-b", "probe-c")
EFFECTS_TABLE = "bus_probe_effect"
BROKEN_KEY = "bus_probe:broken"  # while set, probe-flaky raises
SLOW_STARTS_KEY = "bus_probe:slow:starts"
SLOW_PID_KEY = "bus_probe:slow:pid"
FLAKY_ATTEMPTS_KEY = "bus_probe:flaky:attempts"


@dataclass(frozen=True, kw_only=True)
class ProbeHappened(DomainEvent):
    source = "test.probe"
    schema = {
        "type": "object",
        "properties": {
            "number": {"type": "integer"},
            "mode": {"enum": ["plain", "slow", "flaky"]},
        },
        "required": ["number", "mode"],
    }

    number: int
    mode: str = "plain"


@cache
def probe_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def record_effect(subscription: str, envelope: Envelope) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {EFFECTS_TABLE} (subscription, event_id) VALUES (%s, %s)",
            [subscription, envelope.id],
        )


def _register_plain(name: str) -> None:
    def handle(event: ProbeHappened, envelope: Envelope) -> None:
        record_effect(name, envelope)

    handle.__qualname__ = f"handle_{name.replace('-', '_')}"
    subscribe(name=name, pattern={"source": ["test.probe"], "detail": {"mode": ["plain"]}})(handle)


for _name in PLAIN_SUBSCRIPTIONS:
    _register_plain(_name)


@subscribe(name="probe-slow", pattern={"source": ["test.probe"], "detail": {"mode": ["slow"]}})
def handle_slow(event: ProbeHappened, envelope: Envelope) -> None:
    """Writes its effect, then on its first run hangs (until the test kills the process)."""
    starts = probe_redis().incr(SLOW_STARTS_KEY)
    probe_redis().set(SLOW_PID_KEY, os.getpid())
    record_effect("probe-slow", envelope)
    if starts == 1:
        time.sleep(60)


@subscribe(name="probe-flaky", pattern={"source": ["test.probe"], "detail": {"mode": ["flaky"]}})
def handle_flaky(event: ProbeHappened, envelope: Envelope) -> None:
    """Fails while the BROKEN_KEY is set; notes the time of every attempt."""
    probe_redis().rpush(FLAKY_ATTEMPTS_KEY, repr(time.time()))
    if probe_redis().exists(BROKEN_KEY):
        raise RuntimeError("probe dependency is down")
    record_effect("probe-flaky", envelope)


def create_effects_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {EFFECTS_TABLE} "
            "(id bigserial PRIMARY KEY, subscription text NOT NULL, event_id text NOT NULL)"
        )
        cursor.execute(f"TRUNCATE {EFFECTS_TABLE}")


def drop_effects_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {EFFECTS_TABLE}")


def effects() -> list[tuple[str, str]]:
    """Every (subscription, event id) a handler committed, duplicates included."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT subscription, event_id FROM {EFFECTS_TABLE}")
        return [tuple(row) for row in cursor.fetchall()]


def reset_probe_state() -> None:
    """An empty effects table, no probe keys in Redis, nothing queued for the worker."""
    create_effects_table()
    probe_redis.cache_clear()
    keys = probe_redis().keys("bus_probe:*")
    if keys:
        probe_redis().delete(*keys)
    probe_redis().delete("celery")


def publish_probes(count: int, *, mode: str = "plain") -> list[str]:
    """Publish ``count`` probe events in one committed transaction; their ids."""
    with transaction.atomic():
        return [publish(ProbeHappened(number=number, mode=mode)).id for number in range(count)]


def settled_effects(expected: int, *, timeout: float) -> list[tuple[str, str]]:
    """Wait for ``expected`` effects, then a little longer so a duplicate would show too."""
    from tests.integration.conftest import wait_until

    wait_until(lambda: len(effects()) >= expected, timeout=timeout, interval=0.2)
    time.sleep(0.5)
    return effects()
