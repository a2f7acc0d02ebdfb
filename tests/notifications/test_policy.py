"""The reminder policy: one pending reminder per abandoned cart, pushed out by each change."""

from datetime import UTC, datetime, timedelta

import pytest

from eventbus.delivery import dispatch
from eventbus.models import ScheduledEvent
from notifications.models import EmailSuppression, Reminder
from tests.notifications.conftest import HOUR

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def pending():
    return list(Reminder.objects.filter(status=Reminder.Status.PENDING))


def test_add_with_email_and_consent_schedules_one_reminder(shopper, clock, bus):
    clock.set(START)
    shopper.contact("ann@example.com", consent=True)
    clock.set(START + timedelta(minutes=5))
    added = shopper.add("COF-001")

    [reminder] = pending()
    assert str(reminder.cart_id) == added["cart_id"]
    assert reminder.email == "ann@example.com"
    assert reminder.step == 1
    assert reminder.due_at == START + timedelta(minutes=5) + HOUR
    assert reminder.activity_sequence == 3  # the address, its confirmation, the add
    [scheduled] = ScheduledEvent.objects.all()
    assert scheduled.key == reminder.schedule_key == f"cart-reminder-{added['cart_id']}"
    assert scheduled.due_at == reminder.due_at
    assert scheduled.envelope["detail-type"] == "CartReminderDue"
    assert scheduled.envelope["source"] == "shop.notifications"
    detail = scheduled.envelope["detail"]
    assert detail["reminder_id"] == reminder.pk
    assert detail["cart_id"] == added["cart_id"]
    assert detail["step"] == 1
    assert detail["activity_sequence"] == 3
    # Traceable to the request that added the item.
    [add_event] = bus.of_type("ItemAddedToCart")
    assert detail["correlation_id"] == add_event.correlation_id is not None


def test_later_add_pushes_the_one_reminder_out(shopper, clock):
    clock.set(START)
    shopper.contact()
    shopper.add("COF-001")
    [first] = pending()

    clock.set(START + timedelta(minutes=40))
    shopper.add("TEA-001", 2)

    [again] = pending()
    assert again.pk == first.pk
    assert again.due_at == START + timedelta(minutes=40) + HOUR > first.due_at
    [scheduled] = ScheduledEvent.objects.all()
    assert scheduled.due_at == again.due_at
    assert scheduled.envelope["detail"]["activity_sequence"] == 4


def test_quantity_change_pushes_it_out_too(shopper, clock):
    clock.set(START)
    shopper.contact()
    shopper.add("COF-001")
    clock.set(START + timedelta(minutes=15))
    response = shopper.client.put("/api/cart/items/COF-001/", {"quantity": 3}, format="json")
    assert response.status_code == 202
    shopper.deliver()

    [reminder] = pending()
    assert reminder.due_at == START + timedelta(minutes=15) + HOUR


def test_checkout_cancels_the_reminder_and_its_schedule(shopper):
    shopper.contact()
    shopper.add()
    shopper.checkout()

    assert pending() == []
    [reminder] = Reminder.objects.all()
    assert reminder.status == Reminder.Status.CANCELLED
    assert reminder.reason == "checked out"
    assert not ScheduledEvent.objects.exists()


def test_emptying_the_cart_cancels_it(shopper):
    shopper.contact()
    shopper.add("COF-001")
    shopper.add("TEA-001")
    shopper.remove("COF-001")
    assert len(pending()) == 1  # one line left: still abandoned

    shopper.remove("TEA-001")

    assert pending() == []
    assert Reminder.objects.get().reason == "cart is empty"
    assert not ScheduledEvent.objects.exists()


def test_adding_again_after_emptying_schedules_a_new_reminder(shopper):
    shopper.contact()
    shopper.add("COF-001")
    shopper.remove("COF-001")
    shopper.add("TEA-001")

    assert len(pending()) == 1
    assert Reminder.objects.count() == 2
    assert ScheduledEvent.objects.count() == 1


def test_no_consent_no_reminder(shopper):
    shopper.contact("ann@example.com", consent=False)
    shopper.add()
    shopper.add("TEA-001")

    assert not Reminder.objects.exists()
    assert not ScheduledEvent.objects.exists()


def test_no_email_no_reminder(shopper):
    shopper.add()

    assert not Reminder.objects.exists()
    assert not ScheduledEvent.objects.exists()


def test_consent_given_later_schedules_it(shopper, clock):
    clock.set(START)
    shopper.add()
    shopper.contact("ann@example.com", consent=False)
    assert not Reminder.objects.exists()

    clock.set(START + timedelta(minutes=20))
    shopper.contact("ann@example.com", consent=True)

    [reminder] = pending()
    assert reminder.email == "ann@example.com"
    assert reminder.due_at == START + timedelta(minutes=20) + HOUR
    assert ScheduledEvent.objects.get().key == reminder.schedule_key


def test_contact_on_an_empty_cart_schedules_nothing(shopper):
    shopper.contact()

    assert not Reminder.objects.exists()


def test_consent_withdrawn_cancels_it(shopper):
    shopper.contact("ann@example.com", consent=True)
    shopper.add()
    shopper.contact("ann@example.com", consent=False)

    assert pending() == []
    assert Reminder.objects.get().reason == "no consent"
    assert not ScheduledEvent.objects.exists()


def test_changed_address_moves_to_the_reminder(shopper):
    shopper.contact("old@example.com")
    shopper.add()
    shopper.contact("new@example.com")

    [reminder] = pending()
    assert reminder.email == "new@example.com"


def test_unsubscribed_address_gets_no_reminder(shopper):
    EmailSuppression.objects.create(email="ann@example.com")
    shopper.contact("Ann@Example.com")
    shopper.add()

    assert not Reminder.objects.exists()


def test_event_older_than_the_reminder_is_ignored(shopper, clock, bus):
    clock.set(START)
    shopper.contact()
    shopper.add("COF-001")
    clock.set(START + timedelta(minutes=30))
    shopper.add("TEA-001")
    [reminder] = pending()

    # The first add arrives again, late and as a new message (a reordering bus).
    first_add = bus.of_type("ItemAddedToCart")[0]
    clock.set(START + timedelta(minutes=45))
    late = first_add.with_new_identity()
    assert dispatch("reminder-policy", late) is True

    reminder.refresh_from_db()
    assert reminder.due_at == START + timedelta(minutes=30) + HOUR
    assert reminder.activity_sequence == 4


def test_late_add_after_checkout_does_not_revive_the_reminder(shopper, bus):
    shopper.contact()
    shopper.add("COF-001")
    shopper.checkout()

    late = bus.of_type("ItemAddedToCart")[0].with_new_identity()
    dispatch("reminder-policy", late)

    assert pending() == []
    assert not ScheduledEvent.objects.exists()


def test_series_schedules_the_next_step_when_one_is_sent(shopper, clock, fire_due, settings):
    settings.REMINDER_SERIES = [HOUR, timedelta(hours=24)]
    clock.set(datetime.now(UTC) - timedelta(hours=2))
    shopper.contact()
    shopper.add()

    assert fire_due() == 1

    first, second = Reminder.objects.order_by("step")
    assert first.status == Reminder.Status.SENT
    assert second.status == Reminder.Status.PENDING
    assert second.step == 2
    assert second.due_at == (first.sent_at + timedelta(hours=23)).replace(microsecond=0)
    [scheduled] = ScheduledEvent.objects.all()
    assert scheduled.key == second.schedule_key
    assert scheduled.envelope["detail"]["step"] == 2
    assert scheduled.envelope["detail"]["reminder_id"] == second.pk


def test_last_step_of_the_series_schedules_nothing(shopper, clock, fire_due):
    clock.set(datetime.now(UTC) - timedelta(hours=2))
    shopper.contact()
    shopper.add()

    fire_due()

    assert Reminder.objects.get().status == Reminder.Status.SENT
    assert not ScheduledEvent.objects.exists()


def test_login_takes_the_lines_not_the_guest_consent(shopper, user, clock, fire_due, mailoutbox):
    """The guest's consent was given for the guest's address, not for the account's: the
    account's cart gets the lines, and a reminder only once the account holder consents."""
    clock.set(datetime.now(UTC) - timedelta(hours=3))
    shopper.contact("guest@example.com")
    shopper.add()
    shopper.client.force_login(user)  # the login receiver merges the guest cart
    shopper.deliver()

    fire_due()

    guest_reminder = Reminder.objects.get(cart__user__isnull=True)
    assert guest_reminder.status == Reminder.Status.SKIPPED
    assert guest_reminder.reason == "cart merged into a user's cart"
    assert not Reminder.objects.filter(cart__user=user).exists()
    assert mailoutbox == []
    assert shopper.cart()["item_count"] == 1

    clock.set(datetime.now(UTC) - timedelta(hours=2))
    shopper.contact(consent=True)  # as the account: its own address, no confirmation
    fire_due()

    user_reminder = Reminder.objects.get(cart__user=user)
    assert user_reminder.status == Reminder.Status.SENT
    assert [message.to for message in mailoutbox] == [["alice@example.com"]]
