"""The pages the shopper's tests do not visit, in Chromium under the Content-Security-Policy
(``open_page`` fails a test on anything the policy blocks): Swagger UI, the admin with its
actions, and a recovery link's page and restore."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.utils import timezone
from playwright.sync_api import expect

from cart.models import Cart, CartLine
from eventbus.models import DeadLetter
from notifications.emails import recover_url
from notifications.models import Reminder

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "s3cret-pass-word"


def test_swagger_ui_works(shared_shop_server, open_page):
    page = open_page(width=1280)
    response = page.goto(shared_shop_server.url + "/api/docs/")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Event Shop API")
    expect(page.locator(".opblock-summary-path", has_text="/api/cart/items/").first).to_be_visible()
    page.locator(".opblock-summary-path", has_text="/api/cart/").first.click()
    expect(page.get_by_role("button", name="Try it out").first).to_be_visible()


def test_the_admin_works_with_its_actions(shared_shop_server, open_page, django_user_model):
    hasher = PBKDF2PasswordHasher()  # hashed as the server checks it
    django_user_model.objects.create(
        username="ops",
        is_staff=True,
        is_superuser=True,
        password=hasher.encode(PASSWORD, hasher.salt(), iterations=1000),
    )
    letter = DeadLetter.objects.create(
        subscription="parcel-labels",
        event_id="e1",
        envelope={"detail-type": "ParcelShipped", "detail": {"parcel_id": "P" * 300}},
        error="RuntimeError: label printer jammed",
        traceback="Traceback (most recent call last):\n  RuntimeError",
    )
    page = open_page(width=1280)
    page.goto(shared_shop_server.url + "/admin/")
    page.get_by_label("Username").fill("ops")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()

    page.goto(shared_shop_server.url + "/admin/eventbus/deadletter/")
    page.locator("input.action-select").first.check()  # the admin's JavaScript counts it
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")
    page.select_option("select[name=action]", "replay")
    page.get_by_role("button", name="Go").first.click()
    expect(page.locator(".messagelist")).to_contain_text("Could not replay")

    page.goto(shared_shop_server.url + f"/admin/eventbus/deadletter/{letter.pk}/change/")
    envelope = page.locator("pre.wrapped").last
    expect(envelope).to_contain_text("ParcelShipped")
    # The stylesheet (not a style attribute) wraps the long line.
    assert envelope.evaluate("(element) => getComputedStyle(element).whiteSpace") == "pre-wrap"


def test_a_recovery_link_shows_the_cart_and_restores_it(shared_shop_server, open_page, catalog):
    product = catalog.get(sku="COF-001")
    cart = Cart.objects.create(
        email="ann@example.com", consent=True, email_confirmed=True, accepted_sequence=1
    )
    Cart.objects.filter(pk=cart.pk).update(applied_sequence=1)
    CartLine.objects.create(
        cart=cart,
        product=product,
        sku=product.sku,
        quantity=2,
        unit_price=product.price,
        currency=product.currency,
    )
    reminder = Reminder.objects.create(
        cart=cart,
        email="ann@example.com",
        status=Reminder.Status.SENT,
        due_at=timezone.now() - timedelta(minutes=1),
        sent_at=timezone.now(),
        activity_sequence=1,
        activity_at=timezone.now() - timedelta(hours=1),
        schedule_key=f"cart-reminder-{cart.pk}",
    )
    link = recover_url(reminder=reminder).split("://", 1)[1].split("/", 1)[1]

    page = open_page(width=390)
    page.goto(f"{shared_shop_server.url}/{link}")
    expect(page.get_by_role("heading", name="Your saved cart")).to_be_visible()
    expect(page.get_by_test_id("saved-total")).to_have_text(f"{product.price * 2} EUR")
    assert "ann@example.com" not in page.content()
    page.get_by_role("button", name="Restore my cart").click()

    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    expect(page.locator(".cart-line")).to_have_count(1)
    expect(page.get_by_text("Welcome back!")).to_be_visible()

    page.goto(f"{shared_shop_server.url}/{link}")  # once only
    expect(page.get_by_role("heading", name="This link gives no cart now")).to_be_visible()
    expect(page.get_by_role("link", name="sign in")).to_be_visible()
