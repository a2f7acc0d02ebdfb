"""Two workers handle the same due reminder at the same moment on PostgreSQL: one email."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.utils import timezone

from eventbus.conversion import to_envelope
from eventbus.delivery import dispatch
from notifications.events import CartReminderDue
from notifications.models import Reminder, SentEmail
from tests.conftest import MEMORY_BUS
from tests.notifications.conftest import confirm_link_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MAILER = "abandoned-cart-mailer"


class SlowEmailBackend(BaseEmailBackend):
    """Takes its time, so the second worker arrives while the first is still sending."""

    sent: list = []

    def send_messages(self, email_messages):
        time.sleep(0.5)
        SlowEmailBackend.sent.extend(email_messages)
        return len(email_messages)


@pytest.fixture
def memory_bus(settings):
    """Events stay in this process (requested before ``deliver``, which needs it)."""
    settings.EVENT_BUS = MEMORY_BUS


@pytest.fixture
def due_reminder(memory_bus, require_postgres, settings, catalog, api_client, deliver):
    settings.EMAIL_BACKEND = f"{__name__}.SlowEmailBackend"
    SlowEmailBackend.sent = []
    api_client.put(
        "/api/cart/contact/", {"email": "ann@example.com", "consent": True}, format="json"
    )
    deliver()
    [confirmation] = SlowEmailBackend.sent
    confirm_link_in(confirmation.body)
    SlowEmailBackend.sent = []
    api_client.post("/api/cart/items/", {"sku": "COF-001"}, format="json")
    deliver()
    Reminder.objects.update(due_at=timezone.now() - timedelta(minutes=1))
    return Reminder.objects.get()


@pytest.mark.parametrize("same_message", [True, False], ids=["same-message", "two-firings"])
def test_two_workers_at_once_send_one_email(due_reminder, same_message):
    first = to_envelope(
        CartReminderDue(
            reminder_id=due_reminder.pk,
            cart_id=str(due_reminder.cart_id),
            step=1,
            activity_sequence=due_reminder.activity_sequence,
        )
    )
    envelopes = [first, first if same_message else first.with_new_identity()]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(envelope):
        try:
            start.wait()
            dispatch(MAILER, envelope)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(envelope,)) for envelope in envelopes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(SlowEmailBackend.sent) == 1
    assert SentEmail.objects.count() == 1
    due_reminder.refresh_from_db()
    assert due_reminder.status == Reminder.Status.SENT
    assert due_reminder.send_attempts == 1
