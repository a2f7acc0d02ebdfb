from datetime import timedelta

import pytest
from django.http import HttpRequest
from django.utils import timezone

from eventbus.conversion import to_envelope
from eventbus.models import DeadLetter, OutboxEvent, ProcessedEvent
from eventbus.outbox import publish
from eventbus.scheduling import schedule
from eventbus.testing import RecordingHandler, temporary_subscription
from tests.eventbus.sample_events import SHIPPING, ParcelShipped

pytestmark = pytest.mark.django_db


def parcel(number: int = 1, **extra) -> ParcelShipped:
    return ParcelShipped(parcel_id=f"P{number}", weight_grams=10, **extra)


def test_the_bus_admin_pages_are_for_staff_only(client, django_user_model):
    django_user_model.objects.create_user(username="shopper", password="pw-123456789")
    client.login(request=HttpRequest(), username="shopper", password="pw-123456789")
    for model in ("outboxevent", "deadletter", "scheduledevent", "processedevent"):
        response = client.get(f"/admin/eventbus/{model}/")
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_outbox_changelist_filters_and_searches(admin_client):
    waiting = publish(parcel(1, correlation_id="req-waiting"))
    failing = publish(parcel(2))
    OutboxEvent.objects.filter(pk=failing.id).update(attempts=2, last_error="bus is down")
    page = admin_client.get("/admin/eventbus/outboxevent/").content.decode()
    assert waiting.id in page and failing.id in page and "bus is down" in page

    failing_only = admin_client.get("/admin/eventbus/outboxevent/?state=failing")
    assert failing.id in failing_only.content.decode()
    assert waiting.id not in failing_only.content.decode()

    found = admin_client.get("/admin/eventbus/outboxevent/?q=req-waiting").content.decode()
    assert waiting.id in found and failing.id not in found
    found = admin_client.get(f"/admin/eventbus/outboxevent/?q={failing.id}").content.decode()
    assert failing.id in found and waiting.id not in found

    detail = admin_client.get(f"/admin/eventbus/outboxevent/{failing.id}/change/")
    assert detail.status_code == 200
    assert "&quot;parcel_id&quot;: &quot;P2&quot;" in detail.content.decode()
    assert admin_client.get("/admin/eventbus/outboxevent/add/").status_code == 403


def test_outbox_retry_now_publishes_pending_and_failed_rows(admin_client, bus):
    pending = publish(parcel(1))
    failed = publish(parcel(2))
    OutboxEvent.objects.filter(pk=pending.id).update(
        attempts=3, next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    OutboxEvent.objects.filter(pk=failed.id).update(status=OutboxEvent.Status.FAILED)
    response = admin_client.post(
        "/admin/eventbus/outboxevent/",
        {"action": "retry_now", "_selected_action": [pending.id, failed.id]},
        follow=True,
    )
    assert "2 published" in response.content.decode()
    assert sorted(item.id for item in bus.published) == sorted([pending.id, failed.id])
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"published"}


def test_dead_letters_are_listed_shown_and_replayed(admin_client):
    envelope = to_envelope(parcel(1))
    handler = RecordingHandler(fail_with=RuntimeError("label printer jammed"))
    with temporary_subscription(name="parcel-labels", pattern=SHIPPING, handler=handler):
        from eventbus.tasks import deliver

        deliver.apply(args=("parcel-labels", envelope.to_dict()))
        letter = DeadLetter.objects.get()

        page = admin_client.get("/admin/eventbus/deadletter/").content.decode()
        assert "parcel-labels" in page
        assert "ParcelShipped" in page
        assert "RuntimeError: label printer jammed" in page
        not_replayed = admin_client.get("/admin/eventbus/deadletter/?replayed=no")
        assert "parcel-labels" in not_replayed.content.decode()

        detail = admin_client.get(f"/admin/eventbus/deadletter/{letter.pk}/change/")
        text = detail.content.decode()
        assert "Traceback (most recent call last)" in text
        assert "<pre" in text
        assert "&quot;detail-type&quot;: &quot;ParcelShipped&quot;" in text

        handler.fail_with = None
        response = admin_client.post(
            "/admin/eventbus/deadletter/",
            {"action": "replay", "_selected_action": [letter.pk]},
            follow=True,
        )
        assert "Replayed 1 dead letter(s)." in response.content.decode()
    assert ProcessedEvent.objects.filter(subscription="parcel-labels").count() == 1
    letter.refresh_from_db()
    assert letter.replayed_at is not None
    replayed = admin_client.get("/admin/eventbus/deadletter/?replayed=yes").content.decode()
    assert "parcel-labels" in replayed


def test_dead_letter_replay_failure_is_reported(admin_client):
    letter = DeadLetter.objects.create(
        subscription="vanished", event_id="e1", envelope=to_envelope(parcel()).to_dict(), error="x"
    )
    response = admin_client.post(
        "/admin/eventbus/deadletter/",
        {"action": "replay", "_selected_action": [letter.pk]},
        follow=True,
    )
    assert "Could not replay #" in response.content.decode()
    assert "vanished" in response.content.decode()


def test_scheduled_events_filter_due_and_future(admin_client):
    schedule(parcel(1), at=timezone.now() - timedelta(minutes=1), key="overdue-key")
    schedule(parcel(2), at=timezone.now() + timedelta(days=1), key="tomorrow-key")
    page = admin_client.get("/admin/eventbus/scheduledevent/").content.decode()
    assert "overdue-key" in page and "tomorrow-key" in page and "ParcelShipped" in page
    due = admin_client.get("/admin/eventbus/scheduledevent/?due=due").content.decode()
    assert "overdue-key" in due and "tomorrow-key" not in due
    future = admin_client.get("/admin/eventbus/scheduledevent/?due=future").content.decode()
    assert "tomorrow-key" in future and "overdue-key" not in future


def test_processed_events_are_searchable(admin_client):
    ProcessedEvent.objects.create(subscription="parcel-labels", event_id="evt-123")
    ProcessedEvent.objects.create(subscription="parcel-labels", event_id="evt-456")
    page = admin_client.get("/admin/eventbus/processedevent/?q=evt-123").content.decode()
    assert "evt-123" in page and "evt-456" not in page
