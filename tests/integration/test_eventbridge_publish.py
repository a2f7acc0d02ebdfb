"""The relay publishing to EventBridge (moto's server over HTTP): batches of at most ten
within the request size, resends of failed entries only, dead letters for the rest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from eventbus.aws.backend import ENVELOPE_ID_KEY, entry_size, put_events_entry
from eventbus.aws.provisioning import provision
from eventbus.backend import get_backend
from eventbus.events import DomainEvent
from eventbus.models import DeadLetter, OutboxEvent
from eventbus.outbox import publish
from eventbus.relay import relay_outbox
from eventbus.testing import temporary_subscription
from tests.integration.moto_server import QUEUE_PREFIX

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SUBSCRIPTION = "parcel-tracker"


@dataclass(frozen=True, kw_only=True)
class ParcelScanned(DomainEvent):
    source = "tests.parcels"
    schema = {
        "type": "object",
        "properties": {"parcel": {"type": "integer"}, "note": {"type": "string"}},
        "required": ["parcel"],
    }

    parcel: int
    note: str = ""


class PutEventsRecorder:
    """Counts PutEvents calls with botocore's event hooks on the backend's own client, and
    can make one entry of the next call fail inside a 200 response.

    moto cannot fail a single entry, so the failure is injected: the before-call hook takes
    the chosen entry out of the request (moto never sees it) and the after-call hook puts an
    error result back at its position, as EventBridge answers when it throttles or refuses
    one entry of a call. Every other entry really goes to moto and is really delivered.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[list[dict[str, Any]]] = []
        self._fail_parcel: int | None = None
        self._fail_code = ""
        self._failures_left = 0
        self._failed_at: int | None = None
        client.meta.events.register("before-call.events.PutEvents", self._before_call)
        client.meta.events.register("after-call.events.PutEvents", self._after_call)

    def fail(self, *, parcel: int, code: str, times: int = 1) -> None:
        """Fail the entry of ``parcel`` with ``code`` in the next ``times`` calls it is in."""
        self._fail_parcel, self._fail_code, self._failures_left = parcel, code, times

    def parcels(self, call: list[dict[str, Any]]) -> list[int]:
        return [json.loads(entry["Detail"])["parcel"] for entry in call]

    def _before_call(self, params: dict[str, Any], **kwargs: Any) -> None:
        body = json.loads(params["body"])
        self.calls.append(list(body["Entries"]))
        parcels = self.parcels(body["Entries"])
        if self._failures_left and self._fail_parcel in parcels:
            self._failures_left -= 1
            self._failed_at = parcels.index(self._fail_parcel)
            del body["Entries"][self._failed_at]
            params["body"] = json.dumps(body).encode()

    def _after_call(self, parsed: dict[str, Any], **kwargs: Any) -> None:
        if self._failed_at is None:
            return
        parsed["Entries"].insert(
            self._failed_at, {"ErrorCode": self._fail_code, "ErrorMessage": "injected by test"}
        )
        parsed["FailedEntryCount"] = parsed.get("FailedEntryCount", 0) + 1
        self._failed_at = None

    def close(self) -> None:
        self.client.meta.events.unregister("before-call.events.PutEvents", self._before_call)
        self.client.meta.events.unregister("after-call.events.PutEvents", self._after_call)


@pytest.fixture
def bus_with_queue(aws):
    """The provisioned bus with one extra subscription that takes every ParcelScanned."""
    with temporary_subscription(name=SUBSCRIPTION, pattern={"source": ["tests.parcels"]}):
        provision()
        yield aws


@pytest.fixture
def put_events(aws):
    recorder = PutEventsRecorder(aws.client("events"))
    yield recorder
    recorder.close()


def accept(count: int, *, note: str = "") -> list[str]:
    """Record ``count`` events in the outbox in one transaction, as a service would."""
    from django.db import transaction

    with transaction.atomic():
        return [publish(ParcelScanned(parcel=number, note=note)).id for number in range(count)]


def delivered_ids(aws) -> list[str]:
    bodies = aws.queue_bodies(f"{QUEUE_PREFIX}-{SUBSCRIPTION}")
    return [body["detail"][ENVELOPE_ID_KEY] for body in bodies]


def test_25_events_go_out_in_3_put_events_calls(bus_with_queue, put_events):
    ids = accept(25)

    report = relay_outbox()

    assert report.published == 25
    assert [len(call) for call in put_events.calls] == [10, 10, 5]
    assert sorted(delivered_ids(bus_with_queue)) == sorted(ids)
    assert not OutboxEvent.objects.exclude(status=OutboxEvent.Status.PUBLISHED).exists()


def limit_request_bytes(settings, limit: int) -> PutEventsRecorder:
    """Set the request size limit; the backend and its client are rebuilt, so record anew."""
    settings.EVENT_BUS = {
        **settings.EVENT_BUS,
        "OPTIONS": {**settings.EVENT_BUS["OPTIONS"], "max_request_bytes": limit},
    }
    return PutEventsRecorder(aws_client("events"))


def aws_client(service: str) -> Any:
    from eventbus.aws import clients as aws_clients

    return aws_clients.client(service)


def test_batches_stay_within_the_request_size_limit(bus_with_queue, settings):
    ids = accept(12, note="x" * 300)
    one_entry = entry_size(
        put_events_entry(get_backend_envelope(ids[0]), bus_name=get_backend().bus_name)
    )
    limit = one_entry * 3 + one_entry // 2
    put_events = limit_request_bytes(settings, limit)

    assert relay_outbox().published == 12

    assert [len(call) for call in put_events.calls] == [3, 3, 3, 3]
    for call in put_events.calls:
        assert sum(entry_size(entry) for entry in call) <= limit


def get_backend_envelope(event_id: str):
    from eventbus.envelope import Envelope

    return Envelope.from_dict(OutboxEvent.objects.get(pk=event_id).envelope)


def test_one_throttled_entry_is_resent_alone(bus_with_queue, put_events):
    ids = accept(10)
    put_events.fail(parcel=4, code="ThrottlingException")

    report = relay_outbox()

    assert report.published == 10
    assert [put_events.parcels(call) for call in put_events.calls] == [list(range(10)), [4]]
    assert sorted(delivered_ids(bus_with_queue)) == sorted(ids)


def test_a_refused_entry_becomes_a_dead_letter_and_the_rest_are_published(
    bus_with_queue, put_events
):
    ids = accept(10)
    put_events.fail(parcel=7, code="AccessDeniedException")

    report = relay_outbox()

    assert (report.published, report.dead) == (9, 1)
    assert len(put_events.calls) == 1  # a refusal is never resent
    letter = DeadLetter.objects.get()
    assert letter.subscription == DeadLetter.PUBLISH
    assert letter.event_id == ids[7]
    assert "AccessDeniedException" in letter.error
    assert OutboxEvent.objects.get(pk=ids[7]).status == OutboxEvent.Status.FAILED
    assert sorted(delivered_ids(bus_with_queue)) == sorted(ids[:7] + ids[8:])


def test_an_entry_that_can_never_fit_is_a_dead_letter_not_a_loop(bus_with_queue, settings):
    put_events = limit_request_bytes(settings, 4096)
    [small] = accept(1)
    [huge] = accept(1, note="y" * 5000)

    report = relay_outbox()

    assert (report.published, report.dead) == (1, 1)
    letter = DeadLetter.objects.get()
    assert letter.event_id == huge
    assert "4096" in letter.error and "never" in letter.error
    assert [len(call) for call in put_events.calls] == [1]
    assert delivered_ids(bus_with_queue) == [small]


def test_a_throttled_entry_that_stays_throttled_waits_in_the_outbox(bus_with_queue, put_events):
    [event_id] = accept(1)
    backend = get_backend()
    put_events.fail(parcel=0, code="InternalFailure", times=backend.put_events_attempts)

    report = relay_outbox()

    assert (report.published, report.retrying, report.dead) == (0, 1, 0)
    assert len(put_events.calls) == backend.put_events_attempts
    row = OutboxEvent.objects.get(pk=event_id)
    assert row.status == OutboxEvent.Status.PENDING
    assert "InternalFailure" in row.last_error
    assert not DeadLetter.objects.exists()


def test_an_unreachable_bus_leaves_every_event_pending(aws, put_events):
    """Nothing provisioned: PutEvents fails as a whole, and no event is lost or dead."""
    ids = accept(15)

    report = relay_outbox()

    assert report.retrying == 15 and report.published == 0
    assert len(put_events.calls) == 1  # the second batch is not tried against a dead bus
    assert set(OutboxEvent.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        OutboxEvent.Status.PENDING
    }
    assert not DeadLetter.objects.exists()
