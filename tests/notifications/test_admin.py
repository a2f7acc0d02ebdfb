"""The reminder admin: staff only; pending first; filters, search, actions and counts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cart.models import Cart
from eventbus.models import OutboxEvent, ScheduledEvent
from notifications.models import Reminder, SentEmail
from tests.notifications.conftest import HOUR

pytestmark = pytest.mark.django_db

URL = "/admin/notifications/reminder/"


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user(
        username="ops", password="s3cret-pass-word", is_staff=True, is_superuser=True
    )
    client = Client()
    client.force_login(user)
    return client


def make_reminder(email: str, due_at: datetime, status=Reminder.Status.PENDING, **extra):
    cart = Cart.objects.create(email=email, consent=True)
    return Reminder.objects.create(
        cart=cart,
        email=email,
        due_at=due_at,
        status=status,
        activity_sequence=0,
        activity_at=due_at - HOUR,
        schedule_key=f"cart-reminder-{cart.pk}",
        **extra,
    )


@pytest.fixture
def reminders(db):
    now = timezone.now()
    return {
        "overdue": make_reminder("late@example.com", now - timedelta(minutes=5)),
        "later": make_reminder("soon@example.com", now + timedelta(days=2)),
        "sent": make_reminder(
            "done@example.com",
            now - timedelta(days=1),
            Reminder.Status.SENT,
            recovered_at=now,
        ),
        "cancelled": make_reminder("gone@example.com", now - timedelta(days=3), "cancelled"),
    }


def listed(response) -> list[str]:
    return [reminder.email for reminder in response.context["cl"].result_list]


def test_non_staff_are_sent_to_the_login_page(user, reminders):
    shopper = Client()
    shopper.force_login(user)  # a customer account, not staff

    for client in (shopper, Client()):
        response = client.get(URL)
        assert response.status_code == 302
        assert response["Location"].startswith(f"/admin/login/?next={URL}")


def test_staff_see_pending_first_then_by_due_time(staff, reminders):
    response = staff.get(URL)

    assert response.status_code == 200
    assert listed(response) == [
        "late@example.com",
        "soon@example.com",
        "gone@example.com",
        "done@example.com",
    ]
    body = response.content.decode()
    assert reminders["overdue"].schedule_key in body
    assert "0.00 EUR" in body  # cart total column


def test_counts_of_sent_and_recovered(staff, reminders):
    body = staff.get(URL).content.decode()

    assert 'Sent: <strong data-testid="sent-count">1</strong>' in body
    assert 'Recovered: <strong data-testid="recovered-count">1</strong>' in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("overdue=yes", ["late@example.com"]),
        ("status__exact=sent", ["done@example.com"]),
        ("status__exact=pending", ["late@example.com", "soon@example.com"]),
        ("q=soon", ["soon@example.com"]),
    ],
)
def test_filters_and_search(staff, reminders, query, expected):
    assert listed(staff.get(f"{URL}?{query}")) == expected


def test_due_today_filter(staff, reminders):
    today = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    make_reminder("noon@example.com", today)

    emails = listed(staff.get(f"{URL}?due=today"))

    assert "noon@example.com" in emails
    assert "soon@example.com" not in emails  # in two days
    assert "gone@example.com" not in emails  # three days ago


def run_action(client, action: str, *reminders):
    return client.post(
        URL,
        {"action": action, "_selected_action": [reminder.pk for reminder in reminders]},
        follow=True,
    )


def test_cancel_action(staff, reminders):
    ScheduledEvent.objects.create(
        key=reminders["later"].schedule_key, due_at=reminders["later"].due_at, envelope={}
    )

    response = run_action(staff, "cancel_reminders", reminders["later"], reminders["sent"])

    assert "Cancelled 1 of 2 reminders" in response.content.decode()
    reminders["later"].refresh_from_db()
    assert reminders["later"].status == Reminder.Status.CANCELLED
    assert reminders["later"].reason == "cancelled by ops"
    assert not ScheduledEvent.objects.exists()
    reminders["sent"].refresh_from_db()
    assert reminders["sent"].status == Reminder.Status.SENT


def test_reschedule_action(staff, reminders):
    before = timezone.now()

    run_action(staff, "reschedule", reminders["overdue"])

    reminders["overdue"].refresh_from_db()
    assert before + HOUR - timedelta(seconds=1) <= reminders["overdue"].due_at
    assert reminders["overdue"].due_at <= timezone.now() + HOUR
    scheduled = ScheduledEvent.objects.get(key=reminders["overdue"].schedule_key)
    assert scheduled.due_at == reminders["overdue"].due_at


def test_send_now_action_sends_the_email(staff, shopper, clock, deliver, mailoutbox):
    clock.set(datetime.now(UTC))
    shopper.contact("ann@example.com")
    shopper.add("COF-001")
    reminder = Reminder.objects.get()
    assert reminder.due_at > timezone.now()  # not due for an hour

    run_action(staff, "send_now", reminder)
    assert OutboxEvent.objects.filter(detail_type="CartReminderDue").count() == 1
    deliver()

    [message] = mailoutbox
    assert message.to == ["ann@example.com"]
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.SENT
    assert not ScheduledEvent.objects.exists()  # the hourly schedule was dropped
    sent_log = staff.get("/admin/notifications/sentemail/").content.decode()
    assert SentEmail.objects.get().message_id.strip("<>") in sent_log


def test_change_page_shows_the_cart_lines(staff, shopper):
    shopper.contact("ann@example.com")
    shopper.add("COF-001", 2)
    reminder = Reminder.objects.get()

    body = staff.get(f"{URL}{reminder.pk}/change/").content.decode()

    assert "<td>COF-001</td>" in body
    assert "<td>2</td>" in body
    assert "29.00 EUR" in staff.get(URL).content.decode()  # 2 x 14.50 in the total column
