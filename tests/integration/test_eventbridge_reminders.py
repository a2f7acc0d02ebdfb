"""Abandoned-cart reminders on the EventBridge backend (moto's server over HTTP): the policy
keeps one Scheduler schedule per cart, checkout deletes it, and firing it (the dev firer,
since moto never fires schedules) delivers CartReminderDue through the bus to the mailer."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from django.core import mail
from django.core.management import call_command

from eventbus.aws.dev_scheduler import fire_due_schedules
from notifications.models import Reminder
from tests.integration.moto_server import BUS_NAME, QUEUE_PREFIX, SCHEDULE_GROUP
from tests.notifications.conftest import confirm_link_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DELAY = timedelta(seconds=2)


@pytest.fixture
def reminders_on_aws(require_postgres, provisioned, settings, catalog):
    settings.REMINDER_DELAY = DELAY
    settings.REMINDER_SERIES = [DELAY]
    settings.SITE_URL = "https://shop.example.com"
    return provisioned


def consume_once() -> None:
    call_command("consume_events", "--once", "--wait-seconds", "1")


def shopper_with_email(api_client) -> None:
    """Give the cart an address and confirm it from the confirmation email (the consumer
    of ``contact-confirmation-mailer`` on SQS sends it)."""
    response = api_client.put(
        "/api/cart/contact/", {"email": "ada@example.com", "consent": True}, format="json"
    )
    assert response.status_code in (200, 202), response.content
    consume_once()
    [confirmation] = [m for m in mail.outbox if "/notifications/confirm/" in m.body]
    confirm_link_in(confirmation.body)
    mail.outbox.remove(confirmation)


def add(api_client, sku: str) -> dict:
    response = api_client.post("/api/cart/items/", {"sku": sku, "quantity": 1}, format="json")
    assert response.status_code == 202
    return response.json()


def schedules(stack) -> list[dict]:
    scheduler = stack.client("scheduler")
    names = [
        item["Name"] for item in scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
    ]
    return [scheduler.get_schedule(Name=name, GroupName=SCHEDULE_GROUP) for name in names]


def test_a_reminder_is_one_schedule_that_moves_and_fires_one_email(reminders_on_aws, api_client):
    add(api_client, "TEA-001")
    shopper_with_email(api_client)
    consume_once()

    reminder = Reminder.objects.get(status=Reminder.Status.PENDING)
    [item] = schedules(reminders_on_aws)
    assert item["Name"] == reminder.schedule_key
    assert item["ScheduleExpression"] == f"at({reminder.due_at:%Y-%m-%dT%H:%M:%S})"
    assert reminder.due_at.microsecond == 0  # so the expression is exact, not rounded
    bus_arn = reminders_on_aws.client("events").describe_event_bus(Name=BUS_NAME)["Arn"]
    assert item["Target"]["Arn"] == bus_arn
    assert item["Target"]["EventBridgeParameters"] == {
        "DetailType": "CartReminderDue",
        "Source": "shop.notifications",
    }
    first_input = json.loads(item["Target"]["Input"])
    assert first_input["reminder_id"] == reminder.pk
    assert first_input["activity_sequence"] == reminder.activity_sequence
    assert item["ActionAfterCompletion"] == "DELETE"

    add(api_client, "COF-001")
    consume_once()

    reminder.refresh_from_db()
    [moved] = schedules(reminders_on_aws)
    assert moved["Name"] == item["Name"]
    assert moved["ScheduleExpression"] == f"at({reminder.due_at:%Y-%m-%dT%H:%M:%S})"
    assert json.loads(moved["Target"]["Input"])["activity_sequence"] == (reminder.activity_sequence)
    assert reminder.activity_sequence > first_input["activity_sequence"]
    assert mail.outbox == []

    assert fire_due_schedules(now=reminder.due_at + timedelta(seconds=1)) == 1
    mailer_queue = f"{QUEUE_PREFIX}-abandoned-cart-mailer"
    [due] = reminders_on_aws.queue_bodies(mailer_queue)
    assert due["detail-type"] == "CartReminderDue"
    consume_once()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.SENT
    assert schedules(reminders_on_aws) == []  # deleted after completion
    assert fire_due_schedules(now=reminder.due_at + timedelta(minutes=1)) == 0
    consume_once()
    assert len(mail.outbox) == 1


def test_checkout_deletes_the_schedule(reminders_on_aws, api_client):
    add(api_client, "TEA-001")
    shopper_with_email(api_client)
    consume_once()
    [item] = schedules(reminders_on_aws)

    response = api_client.post("/api/cart/checkout/", {}, format="json")
    assert response.status_code == 202, response.content
    consume_once()

    assert schedules(reminders_on_aws) == []
    with pytest.raises(ClientError):
        reminders_on_aws.client("scheduler").get_schedule(
            Name=item["Name"], GroupName=SCHEDULE_GROUP
        )
    assert Reminder.objects.get().status == Reminder.Status.CANCELLED
