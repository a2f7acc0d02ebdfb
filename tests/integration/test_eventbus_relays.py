"""Relays on PostgreSQL: two at once never publish an event twice; the relay_events loop
publishes and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import ClassVar

import pytest
from django.db import connection

from eventbus.backend import EventBusBackend, PublishResult
from eventbus.conversion import to_envelope
from eventbus.envelope import Envelope
from eventbus.models import OutboxEvent
from eventbus.outbox import store_envelopes
from eventbus.relay import sweep_outbox
from tests.eventbus.sample_events import ParcelShipped
from tests.integration.conftest import ROOT, database_url, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


class RecordingBackend(EventBusBackend):
    """Counts publishes per relay thread; each batch takes as long as a broker round trip
    would, so that the two relays overlap."""

    published: ClassVar[list[tuple[str, str]]] = []
    inside = 0
    most_inside_at_once = 0
    lock = threading.Lock()

    def publish(self, envelopes: Sequence[Envelope]) -> list[PublishResult]:
        cls = type(self)
        with cls.lock:
            cls.inside += 1
            cls.most_inside_at_once = max(cls.most_inside_at_once, cls.inside)
        time.sleep(0.02)
        with cls.lock:
            cls.inside -= 1
            relay = threading.current_thread().name
            cls.published.extend((relay, envelope.id) for envelope in envelopes)
        return [PublishResult.success() for _ in envelopes]


def fill_outbox(count: int) -> list[str]:
    """Committed pending rows, as if the after-commit relay had failed for all of them."""
    envelopes = [
        to_envelope(ParcelShipped(parcel_id=f"P{number}", weight_grams=10))
        for number in range(count)
    ]
    store_envelopes(envelopes)
    return [envelope.id for envelope in envelopes]


def test_two_relays_running_at_once_publish_each_event_exactly_once(require_postgres, settings):
    settings.EVENT_BUS = {
        **settings.EVENT_BUS,
        "BACKEND": f"{__name__}.RecordingBackend",
        "RELAY_BATCH_SIZE": 20,
    }
    RecordingBackend.published = []
    RecordingBackend.most_inside_at_once = 0
    ids = fill_outbox(320)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def relay() -> None:
        try:
            start.wait()
            while OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).exists():
                sweep_outbox()
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=relay, name=f"relay-{number}") for number in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []

    published_ids = [event_id for _, event_id in RecordingBackend.published]
    assert len(published_ids) == 320
    assert Counter(published_ids).most_common(1)[0][1] == 1
    assert set(published_ids) == set(ids)
    # Both relays did part of the work, at the same time.
    assert {relay for relay, _ in RecordingBackend.published} == {"relay-1", "relay-2"}
    assert RecordingBackend.most_inside_at_once == 2
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"published"}


def test_relay_events_loop_publishes_and_stops_on_sigterm(require_postgres):
    (event_id,) = fill_outbox(1)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "EVENT_BUS_BACKEND": "memory",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "relay_events", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(
            lambda: OutboxEvent.objects.get(pk=event_id).status == OutboxEvent.Status.PUBLISHED,
            timeout=30,
        )
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "relaying every 0.2s" in output
    assert "outbox: 1 published" in output
    assert output.rstrip().endswith("relay stopped")


def _listening_relays() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query = 'LISTEN eventbus_outbox'"
        )
        return cursor.fetchone()[0]


def test_relay_events_wakes_on_a_committed_outbox_row_long_before_its_interval(
    require_postgres, tmp_path
):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "EVENT_BUS_BACKEND": "memory",
        "LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "relay.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "relay_events", "--interval", "600"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: _listening_relays() == 1, timeout=30)  # its first pass is done
        started = time.monotonic()
        (event_id,) = fill_outbox(1)
        wait_until(
            lambda: OutboxEvent.objects.get(pk=event_id).status == OutboxEvent.Status.PUBLISHED,
            timeout=10,
        )
        assert time.monotonic() - started < 10  # not the 600 s interval: the commit woke it
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    output = log.read_text()
    assert "woken by outbox commits" in output
    assert "outbox: 1 published, 0 retrying, 0 dead" in output  # what the woken sweep did
    assert process.returncode == 0, output
