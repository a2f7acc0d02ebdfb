"""Reminder metrics: emails sent and failed, reminders by status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eventbus.failures import max_attempts
from notifications.models import Reminder
from tests.notifications.test_mailer import MAILER, _fire_without_delivering, smtp_down  # noqa: F401
from tests.scrape import scrape_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def abandoned(shopper, clock):
    clock.set(datetime.now(UTC) - timedelta(hours=2))
    shopper.contact("ann@example.com")
    shopper.add("COF-001", 2)
    return Reminder.objects.get(status=Reminder.Status.PENDING)


def test_a_sent_reminder_moves_the_sent_counter_and_the_status_gauges(
    client, abandoned, fire_due, mailoutbox
):
    before = scrape_client(client)
    assert before.value("notifications_reminders", status="pending") == 1
    assert {labels["status"] for labels in before.labels_of("notifications_reminders")} == set(
        Reminder.Status.values
    )

    assert fire_due() == 1
    assert len(mailoutbox) == 1

    after = scrape_client(client)
    assert (
        after.value("notifications_emails_sent_total")
        - before.value("notifications_emails_sent_total")
        == 1
    )
    assert after.value("notifications_emails_failed_total") == before.value(
        "notifications_emails_failed_total"
    )
    assert after.value("notifications_reminders", status="pending") == 0
    assert after.value("notifications_reminders", status="sent") == 1


def test_each_failed_send_moves_the_failed_counter(client, abandoned, smtp_down, bus):  # noqa: F811
    from eventbus.tasks import deliver as deliver_task

    [due] = _fire_without_delivering()
    before = scrape_client(client)

    deliver_task.apply(args=(MAILER, due.to_dict()))  # every attempt fails

    after = scrape_client(client)
    assert (
        after.value("notifications_emails_failed_total")
        - before.value("notifications_emails_failed_total")
        == max_attempts()
    )
    assert after.value("notifications_emails_sent_total") == before.value(
        "notifications_emails_sent_total"
    )
    assert after.value("notifications_reminders", status="failed") == 1
