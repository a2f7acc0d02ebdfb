"""Every admin action declares the permission it needs: staff who may only look see no
actions and cannot run one by posting it; staff with the permission can."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from cart.models import Cart
from eventbus.conversion import to_envelope
from eventbus.models import DeadLetter, OutboxEvent, ScheduledEvent
from eventbus.outbox import publish
from eventbus.testing import RecordingHandler, temporary_subscription
from notifications.models import EmailSuppression, Reminder
from shop.models import Product
from tests.eventbus.sample_events import SHIPPING, ParcelShipped

pytestmark = pytest.mark.django_db

VIEW_ALL = [
    "notifications.view_reminder",
    "notifications.view_sentemail",
    "notifications.view_emailsuppression",
    "eventbus.view_outboxevent",
    "eventbus.view_deadletter",
    "eventbus.view_scheduledevent",
    "eventbus.view_processedevent",
    "shop.view_product",
    "cart.view_cart",
    "cart.view_order",
]


@pytest.fixture
def staff_with(django_user_model):
    """``staff_with(*"app.codename")``: a logged-in staff client (not a superuser) that has
    exactly those permissions."""
    made = 0

    def make(*permissions: str) -> Client:
        nonlocal made
        made += 1
        user = django_user_model.objects.create_user(
            username=f"staff{made}", password="s3cret-pass-word", is_staff=True
        )
        for name in permissions:
            app_label, codename = name.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        client = Client()
        client.force_login(user)
        return client

    return make


def test_every_admin_action_declares_its_permissions():
    undeclared = []
    for model, model_admin in admin.site._registry.items():
        for name in [*(model_admin.actions or []), *dict(admin.site.actions)]:
            action = getattr(model_admin, name, None) if isinstance(name, str) else name
            action = action or admin.site.get_action(name)
            if not getattr(action, "allowed_permissions", ()):
                undeclared.append(f"{model._meta.label}: {name}")
    assert undeclared == []


@pytest.mark.parametrize(
    "url",
    [
        "/admin/notifications/reminder/",
        "/admin/notifications/emailsuppression/",
        "/admin/eventbus/outboxevent/",
        "/admin/eventbus/deadletter/",
        "/admin/shop/product/",
        "/admin/cart/cart/",
    ],
)
def test_view_only_staff_see_no_actions(staff_with, url, db):
    response = staff_with(*VIEW_ALL).get(url)

    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert 'name="action"' not in response.content.decode()


def post_action(client: Client, url: str, action: str, *pks) -> str:
    response = client.post(url, {"action": action, "_selected_action": list(pks)}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def pending_reminder(db):
    due = timezone.now() + timedelta(days=2)
    cart = Cart.objects.create(email="ann@example.com", consent=True, email_confirmed=True)
    reminder = Reminder.objects.create(
        cart=cart,
        email="ann@example.com",
        due_at=due.replace(microsecond=0),
        activity_sequence=0,
        activity_at=due - timedelta(hours=1),
        schedule_key=f"cart-reminder-{cart.pk}",
    )
    ScheduledEvent.objects.create(key=reminder.schedule_key, due_at=reminder.due_at, envelope={})
    return reminder


REMINDERS = "/admin/notifications/reminder/"


@pytest.mark.parametrize("action", ["cancel_reminders", "send_now", "reschedule"])
def test_reminder_actions_need_the_change_permission(staff_with, pending_reminder, action):
    before = Reminder.objects.values().get(pk=pending_reminder.pk)

    post_action(staff_with(*VIEW_ALL), REMINDERS, action, pending_reminder.pk)

    assert Reminder.objects.values().get(pk=pending_reminder.pk) == before
    assert not OutboxEvent.objects.exists()
    assert ScheduledEvent.objects.get().due_at == pending_reminder.due_at

    allowed = staff_with("notifications.view_reminder", "notifications.change_reminder")
    post_action(allowed, REMINDERS, action, pending_reminder.pk)

    after = Reminder.objects.get(pk=pending_reminder.pk)
    changed = {
        "cancel_reminders": after.status == Reminder.Status.CANCELLED,
        "send_now": after.due_at < pending_reminder.due_at
        and OutboxEvent.objects.filter(detail_type="CartReminderDue").exists(),
        "reschedule": after.due_at < pending_reminder.due_at,
    }
    assert changed[action]


def test_retry_now_needs_the_retry_permission(staff_with, bus):
    failed = publish(ParcelShipped(parcel_id="P1", weight_grams=10))
    OutboxEvent.objects.filter(pk=failed.id).update(status=OutboxEvent.Status.FAILED)
    url = "/admin/eventbus/outboxevent/"

    post_action(staff_with(*VIEW_ALL), url, "retry_now", failed.id)
    assert OutboxEvent.objects.get(pk=failed.id).status == OutboxEvent.Status.FAILED

    allowed = staff_with("eventbus.view_outboxevent", "eventbus.retry_outboxevent")
    assert "1 published" in post_action(allowed, url, "retry_now", failed.id)
    assert OutboxEvent.objects.get(pk=failed.id).status == OutboxEvent.Status.PUBLISHED


def test_replay_needs_the_replay_permission(staff_with):
    envelope = to_envelope(ParcelShipped(parcel_id="P1", weight_grams=10))
    letter = DeadLetter.objects.create(
        subscription="parcel-labels",
        event_id=envelope.id,
        envelope=envelope.to_dict(),
        error="RuntimeError: label printer jammed",
    )
    handler = RecordingHandler()
    url = "/admin/eventbus/deadletter/"
    with temporary_subscription(name="parcel-labels", pattern=SHIPPING, handler=handler):
        post_action(staff_with(*VIEW_ALL), url, "replay", letter.pk)
        letter.refresh_from_db()
        assert letter.replayed_at is None
        assert handler.calls == []

        allowed = staff_with("eventbus.view_deadletter", "eventbus.replay_deadletter")
        assert "Replayed 1 dead letter(s)." in post_action(allowed, url, "replay", letter.pk)
    letter.refresh_from_db()
    assert letter.replayed_at is not None


def test_making_image_sizes_needs_the_change_permission(staff_with, product):
    Product.objects.filter(pk=product.pk).update(image_renditions=[])
    url = "/admin/shop/product/"

    post_action(staff_with(*VIEW_ALL), url, "make_image_renditions", product.pk)
    assert Product.objects.get(pk=product.pk).image_renditions == []

    allowed = staff_with("shop.view_product", "shop.change_product")
    post_action(allowed, url, "make_image_renditions", product.pk)
    assert Product.objects.get(pk=product.pk).image_renditions != []


def test_deleting_needs_the_delete_permission(staff_with, db):
    address = EmailSuppression.objects.create(email="gone@example.com")
    url = "/admin/notifications/emailsuppression/"

    post_action(staff_with(*VIEW_ALL), url, "delete_selected", address.pk)

    assert EmailSuppression.objects.filter(pk=address.pk).exists()


FAILED_LOGINS = "/admin/axes/accessattempt/"


def test_cleaning_up_failed_logins_needs_the_delete_permission(staff_with):
    from axes.models import AccessAttempt

    # Logged in first: axes clears expired attempts itself at every successful login.
    viewer = staff_with("axes.view_accessattempt")
    allowed = staff_with("axes.view_accessattempt", "axes.delete_accessattempt")
    expired = AccessAttempt.objects.create(
        username="mallory", ip_address="203.0.113.9", user_agent="curl", failures_since_start=5
    )
    AccessAttempt.objects.filter(pk=expired.pk).update(
        attempt_time=timezone.now() - timedelta(days=1)
    )
    assert 'name="action"' not in viewer.get(FAILED_LOGINS).content.decode()

    post_action(viewer, FAILED_LOGINS, "cleanup_expired_attempts", expired.pk)
    assert AccessAttempt.objects.filter(pk=expired.pk).exists()

    post_action(allowed, FAILED_LOGINS, "cleanup_expired_attempts", expired.pk)
    assert not AccessAttempt.objects.filter(pk=expired.pk).exists()
