"""Sending controls: frequency cap, quiet hours, minimum cart value, stock-aware emails and
the attribution window, each driven through the real policy, mailer and events."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from cart.models import Cart, Order
from eventbus.models import OutboxEvent
from notifications.controls import QuietHours, reminder_due_at
from notifications.models import Reminder
from tests.notifications.conftest import HOUR, Shopper, restore

pytestmark = pytest.mark.django_db


def abandon(shopper, clock, *, email="ann@example.com", sku="COF-001", quantity=1):
    """A cart left two hours ago (its reminder is due an hour ago)."""
    clock.set(datetime.now(UTC) - 2 * HOUR)
    shopper.contact(email)
    shopper.add(sku, quantity)
    clock.set(datetime.now(UTC))


@pytest.fixture
def second_shopper(catalog, deliver):
    from rest_framework.test import APIClient

    return Shopper(APIClient(), deliver)


def published(detail_type):
    return [
        row.envelope["detail"]
        for row in OutboxEvent.objects.filter(detail_type=detail_type).order_by("created_at")
    ]


# --- Frequency cap ------------------------------------------------------------------------------


def test_a_second_cart_of_the_same_address_within_the_cap_is_skipped(
    shopper, second_shopper, clock, fire_due, mailoutbox, settings
):
    settings.REMINDER_FREQUENCY_CAP = timedelta(hours=16)
    abandon(shopper, clock, email="ann@example.com")
    fire_due()
    assert len(mailoutbox) == 1

    abandon(second_shopper, clock, email="Ann@Example.com")  # the same address, another cart
    fire_due()

    assert len(mailoutbox) == 1
    capped = Reminder.objects.get(cart__email="Ann@Example.com")
    assert capped.status == Reminder.Status.SKIPPED
    assert capped.reason == "frequency cap: this address had a reminder less than 16h ago"
    [skipped] = published("CartReminderSkipped")
    assert skipped["reminder_id"] == capped.pk and skipped["reason"] == capped.reason


def test_without_a_cap_both_carts_get_their_email(
    shopper, second_shopper, clock, fire_due, mailoutbox, settings
):
    settings.REMINDER_FREQUENCY_CAP = None
    abandon(shopper, clock)
    fire_due()
    abandon(second_shopper, clock)
    fire_due()

    assert len(mailoutbox) == 2


def test_the_cap_lets_the_address_through_once_it_has_passed(
    shopper, second_shopper, clock, fire_due, mailoutbox, settings
):
    settings.REMINDER_FREQUENCY_CAP = timedelta(hours=16)
    abandon(shopper, clock)
    fire_due()
    Reminder.objects.filter(status="sent").update(sent_at=timezone.now() - timedelta(hours=17))

    abandon(second_shopper, clock)
    fire_due()

    assert len(mailoutbox) == 2


# --- Quiet hours --------------------------------------------------------------------------------


def test_quiet_hours_span_midnight_or_not():
    night, lunch = QuietHours(time(21), time(8)), QuietHours(time(12), time(14))
    at = lambda hour, minute=0: timezone.make_aware(datetime(2026, 3, 2, hour, minute))  # noqa: E731

    assert night.contains(at(23)) and night.contains(at(3)) and night.contains(at(21))
    assert not night.contains(at(8)) and not night.contains(at(20, 59))
    assert night.end_after(at(23)) == at(8) + timedelta(days=1)
    assert night.end_after(at(3)) == at(8)
    assert lunch.contains(at(13)) and not lunch.contains(at(14))


@pytest.fixture
def berlin_nights(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    settings.REMINDER_QUIET_HOURS = "21:00-08:00"
    timezone.activate("Europe/Berlin")
    yield
    timezone.deactivate()


def test_a_reminder_due_in_quiet_hours_waits_for_their_end(
    berlin_nights, shopper, clock, fire_due, mailoutbox
):
    # 20:30 in Berlin (winter: UTC+1): the reminder would be due at 21:30.
    clock.set(datetime(2026, 1, 15, 19, 30, tzinfo=UTC))
    shopper.contact()
    shopper.add()

    reminder = Reminder.objects.get()
    assert reminder.due_at == datetime(2026, 1, 16, 7, 0, tzinfo=UTC)  # 08:00 in Berlin
    fire_due(now=datetime(2026, 1, 15, 20, 30, 5, tzinfo=UTC))  # 21:30: held back
    assert mailoutbox == []
    assert Reminder.objects.get().status == Reminder.Status.PENDING
    [scheduled] = published("CartReminderScheduled")
    assert scheduled["due_at"] == "2026-01-16T07:00:00+00:00"


def test_a_reminder_due_outside_quiet_hours_keeps_its_time(berlin_nights, shopper, clock):
    clock.set(datetime(2026, 1, 15, 10, 0, tzinfo=UTC))  # 11:00 in Berlin, due at 12:00
    shopper.contact()
    shopper.add()

    assert Reminder.objects.get().due_at == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)


def test_reminder_due_at_without_quiet_hours_only_rounds(settings):
    settings.REMINDER_QUIET_HOURS = ""
    moment = datetime(2026, 1, 15, 22, 0, 0, 123456, tzinfo=UTC)
    assert reminder_due_at(moment) == moment.replace(microsecond=0)


def test_a_malformed_control_setting_fails_the_system_check(settings):
    settings.REMINDER_QUIET_HOURS = "late evening"
    with pytest.raises(SystemCheckError, match="REMINDER_QUIET_HOURS"):
        call_command("check")
    settings.REMINDER_QUIET_HOURS = ""
    settings.REMINDER_DISCOUNTS = "2:110%"
    with pytest.raises(SystemCheckError, match="REMINDER_DISCOUNTS"):
        call_command("check")


# --- Minimum cart value -------------------------------------------------------------------------


def test_a_cart_below_the_minimum_value_is_skipped(
    shopper, clock, fire_due, mailoutbox, settings, product
):
    settings.REMINDER_MIN_CART_VALUE = str(product.price * 2 + 1)
    abandon(shopper, clock, quantity=2)
    fire_due()

    assert mailoutbox == []
    reminder = Reminder.objects.get()
    assert reminder.status == Reminder.Status.SKIPPED
    assert reminder.reason == (f"below the minimum cart value ({product.price * 2 + 1:.2f} EUR)")


def test_a_cart_at_the_minimum_value_gets_its_email(
    shopper, clock, fire_due, mailoutbox, settings, product
):
    settings.REMINDER_MIN_CART_VALUE = str(product.price * 2)
    abandon(shopper, clock, quantity=2)
    fire_due()

    assert len(mailoutbox) == 1


# --- Stock-aware email --------------------------------------------------------------------------


def test_sold_out_and_withdrawn_lines_are_left_out_of_the_email_and_its_total(
    shopper, clock, fire_due, mailoutbox, catalog
):
    clock.set(datetime.now(UTC) - 2 * HOUR)
    shopper.contact()
    shopper.add("COF-001", 1)
    shopper.add("TEA-001", 2)
    shopper.add("COF-002", 1)
    clock.set(datetime.now(UTC))
    catalog.filter(sku="TEA-001").update(stock=0)
    catalog.filter(sku="COF-002").update(active=False)
    coffee = catalog.get(sku="COF-001")

    fire_due()

    [message] = mailoutbox
    html = message.alternatives[0][0]
    for part in (message.body, html):
        assert coffee.name in part
        assert catalog.get(sku="TEA-001").name not in part
        assert catalog.get(sku="COF-002").name not in part
    assert f"Total: {coffee.price:.2f} EUR" in message.body
    assert message.subject == "You left 1 item in your cart at Event Shop"


def test_a_cart_with_nothing_in_stock_is_skipped_with_the_reason(
    shopper, clock, fire_due, mailoutbox, catalog
):
    abandon(shopper, clock, sku="TEA-001")
    catalog.filter(sku="TEA-001").update(stock=0)

    fire_due()

    assert mailoutbox == []
    reminder = Reminder.objects.get()
    assert reminder.status == Reminder.Status.SKIPPED
    assert reminder.reason == "nothing in stock: every item is sold out or no longer sold"


# --- Attribution window -------------------------------------------------------------------------


@pytest.fixture
def reminded(shopper, clock, fire_due, mailoutbox):
    abandon(shopper, clock)
    fire_due()
    [message] = mailoutbox
    return message


def _checkout_at(shopper, clock, moment):
    clock.set(moment)
    return shopper.checkout()


def test_an_order_inside_the_window_after_the_email_is_recovered(shopper, clock, reminded):
    reminder = Reminder.objects.get()
    order_id = _checkout_at(shopper, clock, reminder.sent_at + timedelta(days=4, hours=23))

    reminder.refresh_from_db()
    assert str(reminder.recovered_order_id) == order_id
    [recovered] = published("OrderRecovered")
    order = Order.objects.get(pk=order_id)
    assert recovered["order_id"] == order_id
    assert recovered["touch"] == "sent"
    assert recovered["step"] == 1
    assert Decimal(recovered["total"]) == order.total


def test_an_order_outside_the_window_is_not_recovered(shopper, clock, reminded):
    reminder = Reminder.objects.get()
    _checkout_at(shopper, clock, reminder.sent_at + timedelta(days=5, minutes=1))

    reminder.refresh_from_db()
    assert reminder.recovered_at is None
    assert published("OrderRecovered") == []


def test_opening_the_link_starts_a_window_of_its_own(shopper, clock, reminded, settings):
    import re

    settings.REMINDER_ATTRIBUTION_WINDOW = timedelta(days=2)
    reminder = Reminder.objects.get()
    path = re.search(r"https://shop\.example\.com(/notifications/recover/[^/\s]+/)", reminded.body)
    # Opening the link shows the cart; restoring it (the page's POST) opens the window.
    assert restore(shopper.client, path.group(1)).status_code == 302
    reminder.refresh_from_db()
    [opened] = published("RecoveryLinkOpened")
    assert opened["reminder_id"] == reminder.pk

    # Three days after the email (outside its window), one after the link was opened.
    Reminder.objects.filter(pk=reminder.pk).update(sent_at=reminder.clicked_at - timedelta(days=2))
    _checkout_at(shopper, clock, reminder.clicked_at + timedelta(days=1))

    [recovered] = published("OrderRecovered")
    assert recovered["touch"] == "link-opened"


def test_an_order_of_another_cart_of_the_same_address_counts(
    shopper, second_shopper, clock, reminded, settings
):
    settings.REMINDER_FREQUENCY_CAP = None
    reminder = Reminder.objects.get()
    clock.set(reminder.sent_at + timedelta(hours=1))
    second_shopper.contact("ann@example.com")
    second_shopper.add("TEA-001")
    order_id = second_shopper.checkout()

    reminder.refresh_from_db()
    assert str(reminder.recovered_order_id) == order_id
    assert Cart.objects.get(pk=published("OrderRecovered")[0]["cart_id"]) != reminder.cart
