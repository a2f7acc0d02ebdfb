"""One trace from the 202 to the projection and to the reminder email, on both backends,
recorded with the SDK's in-memory exporter: the API request's span, the relay's span and
the consumers' spans, parent-linked. On the Celery backend the consumers run in a real
Celery worker on Redis (in this process, so the exporter sees its spans); on the
EventBridge backend they are ``consume_events`` polling SQS queues on moto's server. The
reminder falls due through the schedule (beat's task; EventBridge Scheduler) and its
email continues the trace of the add that scheduled it."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from opentelemetry.trace import SpanKind

from cart.models import Cart
from eventbus.aws.dev_scheduler import fire_due_schedules
from eventbus.scheduling import publish_due_scheduled_events
from notifications.models import Reminder
from tests.integration.conftest import wait_until
from tests.integration.moto_server import SCHEDULE_GROUP
from tests.notifications.conftest import confirm_link_in
from tests.tracing import child_of, traceparent_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Short: the mailer refuses a reminder fired before its time (a moved schedule's old firing).
DELAY = timedelta(seconds=2)
EMAIL = "ada@example.com"


@pytest.fixture
def reminders(settings):
    settings.REMINDER_DELAY = DELAY
    settings.REMINDER_SERIES = [DELAY]
    settings.SITE_URL = "https://shop.example.com"


@pytest.fixture
def celery_worker(celery_bus):
    """A real Celery worker on the test's Redis, in a thread of this process."""
    import redis
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings

    from config.celery_app import app

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    # Celery's logging set-up exports CELERY_LOG_LEVEL and friends: the processes that later
    # tests start (the Procfile's worker reads it) must not inherit them.
    environment = dict(os.environ)
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
        ) as worker:
            yield worker
    finally:
        os.environ.clear()
        os.environ.update(environment)


def reminder_emails() -> list:
    return [message for message in mail.outbox if "/notifications/recover/" in message.body]


def confirm_from_the_email() -> None:
    [confirmation] = wait_until(
        lambda: [m for m in mail.outbox if "/notifications/confirm/" in m.body], timeout=15
    )
    confirm_link_in(confirmation.body)
    mail.outbox.clear()


def add(api_client) -> dict:
    response = api_client.post("/api/cart/items/", {"sku": "COF-001", "quantity": 2}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def rescheduled_by(cart_sequence: int) -> Reminder:
    return wait_until(
        lambda: Reminder.objects.filter(
            status=Reminder.Status.PENDING, activity_sequence=cart_sequence
        ).first(),
        timeout=15,
    )


def until_due(reminder: Reminder) -> datetime:
    """Wait for the reminder's due time; returns a moment just after it."""
    wait_until(lambda: timezone.now() > reminder.due_at, timeout=10)
    return reminder.due_at + timedelta(seconds=1)


def test_one_trace_from_the_202_through_the_relay_and_a_celery_worker_to_the_email(
    spans, catalog, api_client, reminders, celery_worker
):
    # A guest with a confirmed address (those requests are traces of their own).
    contact = api_client.put("/api/cart/contact/", {"email": EMAIL, "consent": True}, format="json")
    assert contact.status_code == 202
    confirm_from_the_email()
    wait_until(lambda: Cart.objects.filter(email_confirmed=True).exists(), timeout=10)

    accepted = add(api_client)

    request = spans.server_span("api/cart/items/")
    assert request.kind is SpanKind.SERVER
    trace_id = request.context.trace_id
    projection = spans.wait_for("eventbus.deliver cart-projection", trace_id=trace_id)
    # The relay that carried this add runs under the request; a later relay in the same
    # trace (the policy's CartReminderScheduled, published by the worker) is not it.
    [relay] = [
        span
        for span in spans.in_trace(trace_id)
        if span.name == "eventbus.relay" and child_of(span, request)
    ]
    assert relay.attributes["eventbus.backend"] == "CeleryBackend"
    assert child_of(projection, request)
    assert projection.kind is SpanKind.CONSUMER
    assert projection.attributes["messaging.message.id"] == accepted["event_id"]
    assert spans.thread_of(projection) != spans.thread_of(request)  # the worker's thread
    assert spans.thread_of(projection) == spans.thread_of(
        spans.wait_for("eventbus.deliver reminder-policy", trace_id=trace_id)
    )

    # The policy moved the reminder for this add; the schedule keeps the policy's context.
    policy = spans.wait_for("eventbus.handle reminder-policy", trace_id=trace_id)
    sequence = Cart.objects.get(pk=accepted["cart_id"]).accepted_sequence
    reminder = rescheduled_by(sequence)

    # It falls due: beat's task publishes it, the worker's mailer sends the email.
    assert publish_due_scheduled_events(now=until_due(reminder)) == 1
    [email] = wait_until(reminder_emails, timeout=15)
    assert email.to == [EMAIL]
    mailer = spans.wait_for("eventbus.deliver abandoned-cart-mailer", trace_id=trace_id)
    assert child_of(mailer, policy)
    send = spans.wait_for("eventbus.handle abandoned-cart-mailer", trace_id=trace_id)
    assert child_of(send, mailer)
    [fired] = [
        span
        for span in spans.in_trace(trace_id)
        if span.name == "eventbus.relay"
        and span.attributes.get("eventbus.detail_type") == "CartReminderDue"
    ]
    assert child_of(fired, policy)
    # The email's own event (CartReminderSent) goes on in the same trace.
    assert any(
        child_of(span, send) and span.attributes.get("eventbus.detail_type") == "CartReminderSent"
        for span in spans.in_trace(trace_id)
        if span.name == "eventbus.relay"
    ), spans.summary()


def consume_until(spans, name: str, *, trace_id: int, rounds: int = 6):
    """Run ``consume_events --once`` until a span ``name`` of the trace has ended."""
    for _ in range(rounds):
        call_command("consume_events", "--once", "--wait-seconds", "1")
        found = [span for span in spans.in_trace(trace_id) if span.name == name]
        if found:
            return found[0]
    raise AssertionError(f"no {name!r} span in the trace: {spans.summary()}")


def test_one_trace_from_the_202_through_eventbridge_and_sqs_to_the_email(
    spans, catalog, api_client, reminders, provisioned
):
    contact = api_client.put("/api/cart/contact/", {"email": EMAIL, "consent": True}, format="json")
    assert contact.status_code == 202
    call_command("consume_events", "--once", "--wait-seconds", "1")
    confirm_from_the_email()
    call_command("consume_events", "--once", "--wait-seconds", "1")

    accepted = add(api_client)

    request = spans.server_span("api/cart/items/")
    trace_id = request.context.trace_id
    # The relay that carried this add runs under the request; a later relay in the same
    # trace (the policy's CartReminderScheduled, published by the worker) is not it.
    [relay] = [
        span
        for span in spans.in_trace(trace_id)
        if span.name == "eventbus.relay" and child_of(span, request)
    ]
    assert relay.attributes["eventbus.backend"] == "EventBridgeBackend"
    projection = consume_until(spans, "eventbus.deliver cart-projection", trace_id=trace_id)
    assert child_of(projection, request)
    assert projection.attributes["messaging.message.id"] == accepted["event_id"]
    assert spans.thread_of(projection) == "consume-cart-projection"  # an SQS queue's poller

    # The Scheduler schedule's input is the detail: it carries the policy's context.
    policy = consume_until(spans, "eventbus.handle reminder-policy", trace_id=trace_id)
    sequence = Cart.objects.get(pk=accepted["cart_id"]).accepted_sequence
    reminder = rescheduled_by(sequence)
    scheduler = provisioned.client("scheduler")
    schedule = scheduler.get_schedule(Name=reminder.schedule_key, GroupName=SCHEDULE_GROUP)
    assert json.loads(schedule["Target"]["Input"])["traceparent"] == traceparent_of(policy)

    assert fire_due_schedules(now=until_due(reminder)) == 1
    mailer = consume_until(spans, "eventbus.deliver abandoned-cart-mailer", trace_id=trace_id)
    assert child_of(mailer, policy)
    assert spans.thread_of(mailer) == "consume-abandoned-cart-mailer"
    [email] = reminder_emails()
    assert email.to == [EMAIL]
    send = spans.one("eventbus.handle abandoned-cart-mailer", trace_id=trace_id)
    assert child_of(send, mailer)
