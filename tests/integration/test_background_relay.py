"""On PostgreSQL the busy relay holds row locks only, so commits go on meanwhile and the
events that piled up go out in one batch (SQLite would lock the whole database)."""

import pytest
from django.db import transaction

from eventbus.models import OutboxEvent
from eventbus.outbox import publish
from eventbus.relay import background_relay
from tests.eventbus.test_background_relay import gated_bus, removed  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_events_committed_while_the_relay_is_busy_go_out_together(require_postgres, gated_bus):  # noqa: F811
    with transaction.atomic():
        publish(removed(1))
    # The relay thread now waits at the gate with event 1; ten more commits pile up.
    for sequence in range(2, 12):
        with transaction.atomic():
            publish(removed(sequence))
    gated_bus.gate.set()
    assert background_relay.idle.wait(10)
    assert OutboxEvent.objects.filter(status=OutboxEvent.Status.PUBLISHED).count() == 11
    assert [size for _, size in gated_bus.calls] == [1, 10]
