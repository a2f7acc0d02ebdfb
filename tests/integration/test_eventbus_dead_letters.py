"""A handler that keeps failing, on a real Celery worker: growing retry delays, a dead
letter that staff see in the admin, and a replay that delivers it once."""

from __future__ import annotations

import itertools

import pytest
from django.http import HttpRequest

from core.request_id import request_id_context
from eventbus.models import DeadLetter
from tests.integration import bus_probe
from tests.integration.bus_probe import (
    probe_redis,
    publish_probes,
    reset_probe_state,
    settled_effects,
)
from tests.integration.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Attempt n waits a jittered delay from [ceiling/2, ceiling], ceiling = base * 2**(n-1).
FLAKY_WORKER = {
    "EVENTBUS_EXTRA_HANDLER_MODULES": "tests.integration.bus_probe",
    "EVENT_RETRY_BASE_SECONDS": "0.25",
    "EVENT_RETRY_MAX_SECONDS": "30",
    "EVENT_MAX_ATTEMPTS": "5",
}


def test_a_failing_handler_backs_off_becomes_a_dead_letter_and_replays_once(
    celery_bus, start_worker, django_user_model, client
):
    worker = start_worker(env=FLAKY_WORKER)
    reset_probe_state()
    redis = probe_redis()
    redis.set(bus_probe.BROKEN_KEY, 1)
    with request_id_context("req-flaky-1"):
        (event_id,) = publish_probes(1, mode="flaky")

    letter = wait_until(
        lambda: DeadLetter.objects.filter(subscription="probe-flaky").first(), timeout=30
    )
    assert letter.event_id == event_id
    assert letter.attempts == 5
    assert letter.error == "RuntimeError: probe dependency is down"
    attempts = [float(value) for value in redis.lrange(bus_probe.FLAKY_ATTEMPTS_KEY, 0, -1)]
    assert len(attempts) == 5
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    for number, gap in enumerate(gaps, start=1):
        ceiling = 0.25 * 2 ** (number - 1)
        assert ceiling / 2 - 0.05 <= gap <= ceiling + 1.0, (number, gaps)
    assert gaps[-1] > 3 * gaps[0], gaps
    # The worker's lines about this delivery name the request that caused it.
    lines = [line for line in worker.log().splitlines() if "probe-flaky" in line]
    assert any("probe-flaky failed (attempt 1), retrying in" in line for line in lines)
    assert any("dead letter" in line for line in lines)
    assert all("[req-flaky-1]" in line for line in lines), lines

    # Staff see it in the admin.
    django_user_model.objects.create_superuser(
        username="ops", email="ops@example.com", password="ops-pass-123456"
    )
    assert client.login(request=HttpRequest(), username="ops", password="ops-pass-123456")
    page = client.get("/admin/eventbus/deadletter/").content.decode()
    assert "probe-flaky" in page and "RuntimeError: probe dependency is down" in page

    # The fault is fixed; the replay action delivers it once.
    redis.delete(bus_probe.BROKEN_KEY)
    response = client.post(
        "/admin/eventbus/deadletter/",
        {"action": "replay", "_selected_action": [letter.pk]},
        follow=True,
    )
    assert "Replayed 1 dead letter(s)." in response.content.decode()
    assert settled_effects(1, timeout=20) == [("probe-flaky", event_id)]
    assert redis.llen(bus_probe.FLAKY_ATTEMPTS_KEY) == 6  # five failures, one success
    letter.refresh_from_db()
    assert letter.replayed_at is not None
    assert DeadLetter.objects.count() == 1
