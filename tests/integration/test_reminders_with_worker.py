"""End to end: a real Celery worker with beat on Redis and PostgreSQL sends the address's
confirmation, then, once it is confirmed, the reminder to a real SMTP server on loopback,
exactly once."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest

from cart.models import Cart
from eventbus.backend import get_backend
from eventbus.envelope import Envelope
from eventbus.models import OutboxEvent, ProcessedEvent
from notifications.models import Reminder, SentEmail
from tests.integration.conftest import wait_until
from tests.notifications.conftest import confirm_link_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MAILER = "abandoned-cart-mailer"


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # the name aiosmtpd calls
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def test_abandoned_cart_gets_exactly_one_email(
    catalog, api_client, celery_bus, start_worker, smtp_server
):
    port, inbox = smtp_server
    worker = start_worker(
        beat=True,
        env={
            "REMINDER_DELAY": "5s",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
        },
    )
    contact = api_client.put(
        "/api/cart/contact/", {"email": "ann@example.com", "consent": True}, format="json"
    )
    assert contact.status_code == 202
    # Double opt-in: the worker sends the confirmation; its link confirms the address.
    [confirmation] = wait_until(lambda: inbox.messages, timeout=30)
    assert confirmation["To"] == "ann@example.com"
    confirm_link_in(confirmation.get_body(("plain",)).get_content())
    wait_until(lambda: Cart.objects.filter(email_confirmed=True).exists(), timeout=5)
    inbox.messages.clear()
    added = api_client.post("/api/cart/items/", {"sku": "TEA-001", "quantity": 2}, format="json")
    assert added.status_code == 202

    # Due 4-5 s after the add (schedules are to the second): seen pending well before that.
    reminder = wait_until(
        lambda: Reminder.objects.filter(status=Reminder.Status.PENDING).first(), timeout=4
    )
    assert str(reminder.cart_id) == added.json()["cart_id"]
    assert inbox.messages == []  # pending: not due for another few seconds

    # Generous timeouts: the machine may be busy; a pass is usually ~6 s after the add.
    wait_until(lambda: inbox.messages, timeout=30)
    reminder = wait_until(
        lambda: Reminder.objects.filter(pk=reminder.pk, status=Reminder.Status.SENT).first(),
        timeout=30,
    )
    [message] = inbox.messages
    assert message["To"] == "ann@example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "TEA-001" in message.get_body(("plain",)).get_content()
    assert message["Message-ID"] == SentEmail.objects.get().message_id

    # The same CartReminderDue again: once as the very same message (a redelivery), once
    # as a new occurrence (a schedule that fires twice).
    due = Envelope.from_dict(OutboxEvent.objects.get(detail_type="CartReminderDue").envelope)
    get_backend().redeliver(MAILER, due)
    again = due.with_new_identity()
    get_backend().redeliver(MAILER, again)

    wait_until(
        lambda: f"{MAILER}: CartReminderDue {due.id} already processed" in worker.log(),
        timeout=30,
    )
    wait_until(
        lambda: ProcessedEvent.objects.filter(subscription=MAILER, event_id=again.id).exists(),
        timeout=30,
    )
    assert len(inbox.messages) == 1, worker.log()
    assert SentEmail.objects.count() == 1
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.SENT
    assert reminder.send_attempts == 1
