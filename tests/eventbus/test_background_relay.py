"""The default after-commit relay runs on a thread of its own and batches what piles up."""

import threading

import pytest
from django.db import transaction

from cart.events import CartItemRemoved
from eventbus.backends.memory import InMemoryBackend
from eventbus.models import OutboxEvent
from eventbus.outbox import publish
from eventbus.relay import background_relay

pytestmark = pytest.mark.django_db(transaction=True)


class GatedBackend(InMemoryBackend):
    """Holds every publish until the test opens the gate, and records the calls."""

    gate = threading.Event()
    calls: list[tuple[str, int]] = []

    def publish(self, envelopes):
        self.gate.wait(10)
        self.calls.append((threading.current_thread().name, len(envelopes)))
        return super().publish(envelopes)


@pytest.fixture
def gated_bus(settings):
    GatedBackend.gate.clear()
    GatedBackend.calls.clear()
    settings.EVENT_BUS = {
        **settings.EVENT_BUS,
        "BACKEND": "tests.eventbus.test_background_relay.GatedBackend",
        "RELAY_AFTER_COMMIT": "background",
    }
    yield GatedBackend
    GatedBackend.gate.set()
    assert background_relay.idle.wait(10)


def removed(sequence):
    return CartItemRemoved(
        cart_id="00000000-0000-4000-8000-000000000001", sequence=sequence, sku="COF-001"
    )


def test_commit_returns_before_the_bus_is_reached(gated_bus):
    with transaction.atomic():
        envelope = publish(removed(1))
    # The bus is blocked, yet the commit (and so the 202) is done.
    assert OutboxEvent.objects.get(pk=envelope.id).status == OutboxEvent.Status.PENDING
    gated_bus.gate.set()
    assert background_relay.idle.wait(10)
    assert OutboxEvent.objects.get(pk=envelope.id).status == OutboxEvent.Status.PUBLISHED
    assert gated_bus.calls == [("eventbus-relay", 1)]
