"""Discounts per series step: a unique, single-use, expiring code per reminder email, put
on the cart by the recovery link, recorded on the order, refused when used or expired."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from cart.discounts import discount_amount, discount_code_issue
from cart.models import Cart, DiscountCode, Order
from eventbus.models import OutboxEvent
from notifications.models import Reminder
from notifications.recovery_figures import recovery_figures
from tests.notifications.conftest import HOUR, Shopper, restore
from tests.notifications.test_admin import staff  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

SITE = "https://shop.example.com"


@pytest.fixture(autouse=True)
def discounts(settings):
    # Step 2 falls due 10 s after step 1 is sent: within the mailer's early-firing slack.
    settings.REMINDER_SERIES = [HOUR, HOUR + timedelta(seconds=10)]
    settings.REMINDER_DISCOUNTS = "2:10%"
    settings.REMINDER_DISCOUNT_VALID_FOR = timedelta(days=3)
    settings.REMINDER_FREQUENCY_CAP = None


def recover_path(message) -> str:
    return re.search(rf"{re.escape(SITE)}(/notifications/recover/[^/\s\"<>]+/)", message.body)[1]


@pytest.fixture
def second_email(shopper, clock, fire_due, mailoutbox, product):
    """Step 1 (no discount) and step 2 (10% off) of a cart with two of COF-001."""
    clock.set(datetime.now(UTC) - 3 * HOUR)
    shopper.contact("ann@example.com")
    shopper.add(product.sku, 2)
    clock.set(datetime.now(UTC))
    fire_due()
    fire_due(now=datetime.now(UTC) + timedelta(minutes=1))
    assert len(mailoutbox) == 2
    return mailoutbox


def test_only_the_discounted_step_carries_a_code_of_its_own(second_email):
    first, second = second_email
    reminder = Reminder.objects.get(step=2)
    code = reminder.discount_code
    assert code is not None and code.percent == Decimal("10.00")
    assert code.reference == f"reminder-{reminder.pk}" and code.email == "ann@example.com"
    assert code.expires_at - timezone.now() > timedelta(days=2, hours=23)
    assert Reminder.objects.get(step=1).discount_code is None
    assert code.code not in first.body and "discount" not in first.body.lower()
    assert code.code in second.body and code.code in second.alternatives[0][0]
    assert second.subject.startswith("10% off: ")


def test_a_code_works_once_and_the_order_records_it(second_email, deliver, product, clock):
    code = Reminder.objects.get(step=2).discount_code
    browser = Client()
    response = restore(browser, recover_path(second_email[1]), follow=True)
    assert f"Your discount code {code.code} (10% off) is applied to your cart." in (
        response.content.decode()
    )
    page = browser.get("/cart/").content.decode()
    subtotal = product.price * 2
    expected = subtotal - discount_amount(subtotal=subtotal, percent=Decimal("10"))
    assert f"{expected} EUR" in page

    clock.advance(timedelta(minutes=5))  # the order comes after the email
    response = browser.post("/api/cart/checkout/", content_type="application/json")
    assert response.status_code == 202
    deliver()

    order = Order.objects.get(pk=response.json()["order_id"])
    assert order.discount_code == code.code
    assert order.discount_amount == Decimal("2.90")  # 10% of 29.00
    assert order.total == Decimal("26.10")
    code.refresh_from_db()
    assert code.used_at is not None and str(code.used_by_order_id) == str(order.pk)
    checked_out = OutboxEvent.objects.get(detail_type="CartCheckedOut").envelope["detail"]
    assert checked_out["discount_code"] == code.code
    assert checked_out["discount_percent"] == "10.00"
    recovered = OutboxEvent.objects.get(detail_type="OrderRecovered").envelope["detail"]
    assert recovered["discount_code"] == code.code and recovered["total"] == "26.10"

    # The second time, on another cart: refused, saying why.
    other = Shopper(Client(), deliver)
    other.client.post("/cart/add/", {"sku": product.sku, "quantity": 1})
    deliver()
    response = other.client.post("/cart/discount/", {"code": code.code.lower()}, follow=True)
    assert f"The discount code {code.code} has already been used." in response.content.decode()
    assert 'data-testid="cart-discount"' not in other.client.get("/cart/").content.decode()


def test_a_signed_in_shopper_restoring_a_foreign_link_gets_the_lines_and_the_code(
    second_email, deliver, product, clock, user
):
    """The lines and the email's code go to the account's cart, never the guest's address
    or consent; the account's order counts as recovered by the reminder whose link it
    restored (its cart and address are not the reminder's)."""
    reminder = Reminder.objects.get(step=2)
    code = reminder.discount_code
    browser = Client()
    browser.force_login(user)

    response = restore(browser, recover_path(second_email[1]), follow=True)
    deliver()

    body = response.content.decode()
    assert "The saved items are in your cart." in body
    assert f"Your discount code {code.code} (10% off) is applied to your cart." in body
    account_cart = Cart.objects.get(user=user, status=Cart.Status.OPEN)
    assert {line.sku: line.quantity for line in account_cart.lines.all()} == {product.sku: 2}
    assert account_cart.email == "" and account_cart.consent is False
    code.refresh_from_db()
    assert code.applied_to_id == account_cart.pk
    assert not Reminder.objects.filter(cart=account_cart).exists()

    clock.advance(timedelta(minutes=5))
    response = browser.post("/api/cart/checkout/", content_type="application/json")
    assert response.status_code == 202
    deliver()

    order = Order.objects.get(pk=response.json()["order_id"])
    assert order.email == "alice@example.com" and order.discount_code == code.code
    reminder.refresh_from_db()
    assert str(reminder.recovered_order_id) == str(order.pk)
    recovered = OutboxEvent.objects.get(detail_type="OrderRecovered").envelope["detail"]
    assert recovered["touch"] == "link-opened" and recovered["total"] == f"{order.total:.2f}"
    figures = recovery_figures(days=7, now=timezone.now() + HOUR)  # the shop clock moved on
    assert figures.links_opened == 1 and figures.orders_recovered == 1
    assert figures.orders_with_discount == 1


def test_restoring_a_link_whose_code_expired_says_so(second_email, deliver):
    code = Reminder.objects.get(step=2).discount_code
    DiscountCode.objects.filter(pk=code.pk).update(expires_at=timezone.now() - HOUR)

    response = restore(Client(), recover_path(second_email[1]), follow=True)

    body = response.content.decode()
    assert "Your cart is as you left it." in body  # the cart itself is restored
    assert f"The discount code {code.code} expired on" in body and "is applied" not in body
    assert DiscountCode.objects.get(pk=code.pk).applied_to is None


def test_an_expired_code_is_refused(catalog, deliver, product):
    code = discount_code_issue(reference="test-expired", percent=Decimal("15"), valid_for=HOUR)
    DiscountCode.objects.filter(pk=code.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    browser = Client()
    browser.post("/cart/add/", {"sku": product.sku, "quantity": 1})
    deliver()

    response = browser.post("/cart/discount/", {"code": code.code}, follow=True)

    assert f"The discount code {code.code} expired on" in response.content.decode()
    assert DiscountCode.objects.get(pk=code.pk).applied_to is None


def test_a_code_that_expires_after_it_was_applied_refuses_the_checkout(catalog, deliver, product):
    code = discount_code_issue(reference="test-late", percent=Decimal("15"), valid_for=HOUR)
    browser = Client()
    browser.post("/cart/add/", {"sku": product.sku, "quantity": 1})
    deliver()
    browser.post("/cart/discount/", {"code": code.code})
    DiscountCode.objects.filter(pk=code.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    response = browser.post("/api/cart/checkout/", content_type="application/json")

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert (
        not Order.objects.exists()
        and not OutboxEvent.objects.filter(detail_type="CartCheckedOut").exists()
    )
    # Taking the code off lets the order through, at the full price.
    browser.post("/cart/discount/remove/")
    assert browser.post("/api/cart/checkout/", content_type="application/json").status_code == 202
    deliver()
    assert Order.objects.get().total == product.price


def test_an_unknown_code_is_refused(catalog, deliver, product):
    browser = Client()
    browser.post("/cart/add/", {"sku": product.sku, "quantity": 1})
    deliver()
    response = browser.post("/cart/discount/", {"code": "NOPE"}, follow=True)
    assert "There is no discount code like that." in response.content.decode()


def test_issuing_twice_for_one_reminder_gives_the_same_code(db):
    first = discount_code_issue(reference="reminder-1", percent=Decimal("10"), valid_for=HOUR)
    again = discount_code_issue(reference="reminder-1", percent=Decimal("10"), valid_for=HOUR)
    other = discount_code_issue(reference="reminder-2", percent=Decimal("10"), valid_for=HOUR)
    assert first.code == again.code != other.code
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", first.code)


def test_the_admin_lists_codes_and_their_use(second_email, deliver, staff):  # noqa: F811
    code = Reminder.objects.get(step=2).discount_code
    browser = Client()
    restore(browser, recover_path(second_email[1]))
    order_id = browser.post("/api/cart/checkout/", content_type="application/json").json()[
        "order_id"
    ]
    deliver()
    unused = discount_code_issue(reference="spare", percent=Decimal("5"), valid_for=HOUR)

    page = staff.get("/admin/cart/discountcode/").content.decode()

    assert code.code in page and unused.code in page
    assert "used" in page and "not used yet" in page
    assert f'title="{order_id}"' in page  # the order, shortened, in full on hover
    used = staff.get("/admin/cart/discountcode/?state=used").content.decode()
    assert code.code in used and unused.code not in used
    assert code.code in staff.get(f"/admin/cart/order/{order_id}/change/").content.decode()
