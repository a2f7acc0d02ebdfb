"""The bus end to end: this process publishes through the outbox and the Celery backend on
Redis; a real Celery worker on PostgreSQL runs the probe handlers (tests/integration/bus_probe.py).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings

from config.celery_app import app
from eventbus.models import OutboxEvent, ProcessedEvent
from tests.integration import bus_probe
from tests.integration.bus_probe import (
    PLAIN_SUBSCRIPTIONS,
    effects,
    probe_redis,
    publish_probes,
    reset_probe_state,
    settled_effects,
)
from tests.integration.conftest import CeleryWorker, database_url, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PROBE_WORKER = {
    "EVENTBUS_EXTRA_HANDLER_MODULES": "tests.integration.bus_probe",
    "CONN_MAX_AGE": "60",  # one connection per worker process, not one per task
}


@pytest.fixture(scope="module")
def shared_worker(django_db_setup, tmp_path_factory) -> Iterator[CeleryWorker]:
    """One probe worker for the tests of this module that need no special settings:
    starting a worker costs seconds. Each test waits for its own effects to settle."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL")
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL pointing at Redis")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "EVENT_BUS_BACKEND": "celery",
        **PROBE_WORKER,
    }
    worker = CeleryWorker(
        env=env, beat=False, log_path=tmp_path_factory.mktemp("bus-worker") / "worker.log"
    )
    yield worker
    worker.stop()


@pytest.fixture
def probe(celery_bus, require_postgres, require_redis) -> None:
    reset_probe_state()


def test_500_events_over_3_subscriptions_run_each_handler_once_per_event(probe, shared_worker):
    ids = publish_probes(500)

    rows = settled_effects(1500, timeout=120)
    assert len(rows) == 1500
    assert max(Counter(rows).values()) == 1
    assert set(rows) == {(name, event_id) for name in PLAIN_SUBSCRIPTIONS for event_id in ids}
    assert ProcessedEvent.objects.count() == 1500
    assert not OutboxEvent.objects.exclude(status=OutboxEvent.Status.PUBLISHED).exists()


def _sessions_opened_on_this_database() -> int:
    """PostgreSQL's count of connections ever made to the test database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_a_worker_keeps_its_database_connection_from_task_to_task(probe, shared_worker):
    # Celery's Django fixup closes every connection around every task unless told
    # otherwise; a new PostgreSQL connection per delivery cost more than the delivery.
    # One event per transaction, so each delivery is a task of its own (not one batch).
    before = _sessions_opened_on_this_database()
    for _ in range(30):
        publish_probes(1)
    assert len(settled_effects(90, timeout=60)) == 90

    opened = _sessions_opened_on_this_database() - before
    assert opened <= 4, f"{opened} connections for 90 tasks on 2 worker processes"


def _closed_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def _forget_broker_connections() -> None:
    """Make the next publish look up its pool again, for whatever broker URL is current.

    kombu keeps pools per URL in a global registry; they stay open for when the URL is
    restored, so nothing is closed here.
    """
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def publisher_broker_unreachable(monkeypatch) -> Iterator[None]:
    """Point this process (the publisher) at a loopback port nobody listens on.

    The machine's Redis keeps running for everyone else, and for the worker.
    """
    dead_url = f"redis://127.0.0.1:{_closed_port()}/0"
    with monkeypatch.context() as patch:
        # Celery reads CELERY_BROKER_URL from the environment before its own setting.
        patch.setenv("CELERY_BROKER_URL", dead_url)
        patch.setitem(app.conf, "broker_url", dead_url)
        _forget_broker_connections()
        try:
            yield
        finally:
            _forget_broker_connections()


def test_events_published_during_a_broker_outage_wait_then_arrive_exactly_once(
    probe, shared_worker, settings, monkeypatch
):
    # Failed publishes become due again within half a second.
    settings.EVENT_BUS = {**settings.EVENT_BUS, "RETRY_BASE_SECONDS": 0.5}
    with publisher_broker_unreachable(monkeypatch):
        # Four requests, each accepting five events: every commit succeeds.
        ids = [event_id for _ in range(4) for event_id in publish_probes(5)]
        rows = list(OutboxEvent.objects.filter(pk__in=ids))
        assert len(rows) == 20
        assert {row.status for row in rows} == {OutboxEvent.Status.PENDING}
        assert {row.attempts for row in rows} == {1}
        assert all("Connection refused" in row.last_error for row in rows)
        assert probe_redis().llen("celery") == 0  # nothing reached the broker
        time.sleep(0.5)
        assert effects() == []

    # The broker is back: the periodic sweep (here: relay_events --once) publishes them.
    from django.core.management import call_command

    def swept() -> bool:
        call_command("relay_events", "--once")
        return not OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).exists()

    wait_until(swept, timeout=20, interval=0.5)
    rows = settled_effects(60, timeout=30)
    assert len(rows) == 60
    assert set(rows) == {(name, event_id) for name in PLAIN_SUBSCRIPTIONS for event_id in ids}


def test_the_same_envelope_delivered_twice_has_its_effect_once(probe, shared_worker):
    worker = shared_worker
    (event_id,) = publish_probes(1)
    envelope = OutboxEvent.objects.get(pk=event_id).envelope
    wait_until(lambda: len(effects()) == 3, timeout=20)

    from eventbus.tasks import deliver

    deliver.apply_async(args=("probe-a", envelope))  # the broker delivered it again
    wait_until(lambda: f"probe-a: ProbeHappened {event_id} already processed" in worker.log())
    assert Counter(effects()) == {(name, event_id): 1 for name in PLAIN_SUBSCRIPTIONS}


def test_a_worker_killed_mid_task_gets_the_task_again_and_the_effect_happens_once(
    probe, shared_worker
):
    worker = shared_worker
    (event_id,) = publish_probes(1, mode="slow")
    redis = probe_redis()
    # The first run has written its effect (uncommitted) and now hangs in the handler.
    wait_until(lambda: redis.get(bus_probe.SLOW_STARTS_KEY) == b"1", timeout=20)
    child = int(redis.get(bus_probe.SLOW_PID_KEY))
    assert child in worker.child_pids()
    os.kill(child, signal.SIGKILL)

    # acks_late + reject_on_worker_lost: the parent requeues the task at once, a fresh
    # child runs it again (not after Redis's one-hour visibility timeout).
    wait_until(lambda: redis.get(bus_probe.SLOW_STARTS_KEY) == b"2", timeout=30)
    rows = settled_effects(1, timeout=20)
    assert rows == [("probe-slow", event_id)]
    assert ProcessedEvent.objects.filter(subscription="probe-slow").count() == 1
    assert redis.get(bus_probe.SLOW_STARTS_KEY) == b"2"
    assert f"pid:{child} exited with 'signal 9 (SIGKILL)'" in worker.log()
