"""The bus's figures from the database: the scrape's gauges and the admin's "Event bus"
status page show the same pending count, lag, dead letters and hourly throughput."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from eventbus.models import DeadLetter, OutboxEvent
from eventbus.outbox import publish
from eventbus.status import bus_status_get
from eventbus.subscriptions import all_subscriptions
from tests.eventbus.sample_events import ParcelShipped
from tests.scrape import scrape_client

pytestmark = pytest.mark.django_db


def parcel(number: int) -> ParcelShipped:
    return ParcelShipped(parcel_id=f"P{number}", weight_grams=10)


def dead_letter(subscription: str, *, replayed: bool = False) -> DeadLetter:
    return DeadLetter.objects.create(
        subscription=subscription,
        event_id="e",
        error="boom",
        replayed_at=timezone.now() if replayed else None,
    )


def test_gauges_follow_the_outbox_and_the_dead_letters(client, deliver):
    empty = scrape_client(client)
    assert empty.value("eventbus_outbox_pending") == 0
    assert empty.value("eventbus_outbox_oldest_pending_age_seconds") == 0
    names = {item.name for item in all_subscriptions()}
    # Every subscription has its series from the start, at 0.
    assert {labels["subscription"] for labels in empty.labels_of("eventbus_dead_letters")} == (
        names | {DeadLetter.PUBLISH}
    )

    # Published in a test transaction, the rows wait for a relay (as while the bus is down).
    events = [publish(parcel(number)) for number in range(3)]
    OutboxEvent.objects.filter(pk=events[0].id).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    dead_letter("cart-projection")
    dead_letter("cart-projection")
    dead_letter("cart-projection", replayed=True)  # replayed: no longer waiting
    dead_letter(DeadLetter.PUBLISH)

    waiting = scrape_client(client)
    assert waiting.value("eventbus_outbox_pending") == 3
    assert 300 <= waiting.value("eventbus_outbox_oldest_pending_age_seconds") < 330
    assert waiting.value("eventbus_dead_letters", subscription="cart-projection") == 2
    assert waiting.value("eventbus_dead_letters", subscription=DeadLetter.PUBLISH) == 1
    assert waiting.value("eventbus_dead_letters", subscription="reminder-policy") == 0

    deliver()  # the relay publishes them
    relayed = scrape_client(client)
    assert relayed.value("eventbus_outbox_pending") == 0
    assert relayed.value("eventbus_outbox_oldest_pending_age_seconds") == 0


def test_throughput_counts_what_was_published_in_the_last_hour(deliver):
    for number in range(4):
        publish(parcel(number))
    deliver()
    now = timezone.now()
    ids = list(OutboxEvent.objects.values_list("pk", flat=True))
    # One of them went out long ago: outside the window.
    OutboxEvent.objects.filter(pk=ids[0]).update(published_at=now - timedelta(hours=2))
    OutboxEvent.objects.filter(pk=ids[1]).update(
        created_at=now - timedelta(seconds=40), published_at=now - timedelta(seconds=10)
    )

    status = bus_status_get(now=now)
    assert status.published_last_hour == 3
    assert status.published_last_hour_by_type == {"ParcelShipped": 3}
    assert status.published_per_minute == pytest.approx(3 / 60)
    assert status.longest_publish_delay == timedelta(seconds=30)
    assert status.pending == 0 and status.lag == timedelta()


def test_status_page_shows_the_figures_to_staff(admin_client, deliver):
    publish(parcel(1))
    deliver()
    publish(parcel(2))
    publish(parcel(3))
    OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).update(
        created_at=timezone.now() - timedelta(seconds=90)
    )
    dead_letter("reminder-policy")

    response = admin_client.get("/admin/eventbus/status/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<td data-figure="pending">2</td>' in page
    lag = float(page.split('data-figure="lag">')[1].split(" s")[0])
    assert 90 <= lag < 120
    assert "Published in the last 60 minutes" in page
    assert '<td data-figure="published-last-hour">1' in page
    assert "<td>ParcelShipped</td><td>1</td>" in page
    assert "Dead letters not replayed: 1" in page
    assert "subscription__exact=reminder-policy&amp;replayed=no" in page
    # The bus's admin pages link to it.
    assert (
        "/admin/eventbus/status/"
        in admin_client.get("/admin/eventbus/outboxevent/").content.decode()
    )
    assert "/admin/eventbus/status/" in admin_client.get("/admin/eventbus/").content.decode()


def test_status_page_is_for_staff_who_may_view_the_outbox(client, django_user_model):
    assert client.get("/admin/eventbus/status/").status_code == 302  # to the login
    staff = django_user_model.objects.create_user(
        username="clerk", password="pw-123456789", is_staff=True
    )
    client.force_login(staff)
    assert client.get("/admin/eventbus/status/").status_code == 403
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_outboxevent"))
    assert client.get("/admin/eventbus/status/").status_code == 200
