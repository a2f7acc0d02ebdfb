"""The recovery link of a reminder email: it shows the saved cart and asks; restoring is a
CSRF-protected POST that works once, rotates the session key, cuts the previous session
off the cart, and never hands a guest's address or consent to anyone else."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from cart.models import Cart
from notifications.models import Reminder
from tests.notifications.conftest import HOUR, restore

pytestmark = pytest.mark.django_db

SITE = "https://shop.example.com"


def recover_path(message) -> str:
    match = re.search(rf"{re.escape(SITE)}(/notifications/recover/[^/\s\"<>]+/)", message.body)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def emailed(shopper, clock, fire_due, mailoutbox):
    """Ann's guest cart (two lines), its reminder sent; returns the recovery link's path."""
    clock.set(datetime.now(UTC) - timedelta(hours=2))
    shopper.contact("ann@example.com")
    shopper.add("COF-001", 2)
    shopper.add("TEA-001", 1)
    clock.set(datetime.now(UTC))
    fire_due()
    [message] = mailoutbox
    return recover_path(message)


def guest_cart() -> Cart:
    return Cart.objects.get(user__isnull=True)


def test_following_the_link_shows_the_saved_cart_and_changes_nothing(emailed, shopper):
    cart = guest_cart()
    fresh = Client()

    page = fresh.get(emailed)

    assert page.status_code == 200
    body = page.content.decode()
    for line in cart.lines.select_related("product"):
        assert line.product.name in body
    total = sum(line.line_total for line in cart.lines.all())
    assert f"{total} EUR" in body
    assert "ann@example.com" not in body  # no contact details
    assert 'method="post"' in body and "Restore my cart" in body
    # A GET (a mail system's link scanner, say) grants nothing and uses nothing up.
    assert fresh.get("/api/cart/").json()["cart_id"] is None
    assert shopper.cart()["cart_id"] == str(cart.pk)
    assert Reminder.objects.get(status=Reminder.Status.SENT).clicked_at is None


def test_restoring_needs_the_csrf_token(emailed, shopper):
    fresh = Client(enforce_csrf_checks=True)
    fresh.get(emailed)

    response = fresh.post(emailed)

    assert response.status_code == 403
    assert fresh.get("/api/cart/").json()["cart_id"] is None
    assert shopper.cart()["cart_id"] == str(guest_cart().pk)


def test_restoring_rotates_the_session_and_cuts_the_previous_one_off(emailed, shopper, deliver):
    cart = guest_cart()
    fresh = Client(enforce_csrf_checks=True)
    fresh.get("/api/cart/")
    fresh.post(  # the other browser had a session (and a cart) of its own before
        "/api/cart/items/",
        {"sku": "MUG-001", "quantity": 1},
        content_type="application/json",
        headers={"X-CSRFToken": fresh.cookies["csrftoken"].value},
    )
    session_before = fresh.cookies["sessionid"].value

    response = restore(fresh, emailed)

    assert response.status_code == 302 and response["Location"] == "/cart/"
    session_after = fresh.cookies["sessionid"].value
    assert session_after != session_before
    assert not Session.objects.filter(session_key=session_before).exists()
    mine = fresh.get("/api/cart/").json()
    assert mine["cart_id"] == str(cart.pk)
    assert {line["sku"] for line in mine["lines"]} == {"COF-001", "TEA-001"}
    # The address and consent stay with the browser that gave them.
    assert mine["email"] == "" and mine["consent"] is False
    # The session that had the cart reaches it no more, and its next add is a new cart.
    assert shopper.cart()["cart_id"] is None
    assert shopper.add("SNK-001")["cart_id"] != str(cart.pk)
    assert {line.sku for line in Cart.objects.get(pk=cart.pk).lines.all()} == {
        "COF-001",
        "TEA-001",
    }


def test_the_link_works_once(emailed):
    cart = guest_cart()
    first = Client()
    assert restore(first, emailed).status_code == 302

    second = Client()
    page = second.get(emailed)
    replay = second.post(emailed)

    for response in (page, replay):
        assert response.status_code == 410
        body = response.content.decode()
        assert "used already" in body
        assert 'href="/accounts/login/?next=%2Fcart%2F"' in body  # sign in ...
        assert 'href="/"' in body  # ... or the catalog
        assert "Ethiopia Yirgacheffe" not in body  # nothing of the cart
    assert second.get("/api/cart/").json()["cart_id"] is None
    assert first.get("/api/cart/").json()["cart_id"] == str(cart.pk)


def test_a_newer_reminder_retires_the_older_link(shopper, clock, fire_due, mailoutbox, settings):
    settings.REMINDER_SERIES = [HOUR, HOUR]  # step 2 falls due as soon as step 1 is sent
    settings.REMINDER_FREQUENCY_CAP = None  # which the cap (16 h by default) would skip
    clock.set(datetime.now(UTC) - timedelta(hours=2))
    shopper.contact("ann@example.com")
    shopper.add("COF-001")
    clock.set(datetime.now(UTC))
    fire_due()
    [first] = mailoutbox
    assert Client().get(recover_path(first)).status_code == 200  # step 2 not sent yet

    fire_due()
    second = mailoutbox[1]

    response = Client().get(recover_path(first))
    assert response.status_code == 410
    assert "only its link works" in response.content.decode()
    assert Client().post(recover_path(first)).status_code == 410
    assert restore(Client(), recover_path(second)).status_code == 302


def test_a_signed_in_user_following_a_foreign_link(emailed, shopper, user, deliver):
    """The lines join the account's cart on an explicit restore only, and nothing of the
    guest's contact comes with them: no address, no consent, no reminder."""
    guest = guest_cart()
    browser = Client()
    browser.force_login(user)

    page = browser.get(emailed)

    assert page.status_code == 200
    assert "added to your account" in page.content.decode()
    assert not Cart.objects.filter(user=user).exists()  # the GET merged nothing
    assert Cart.objects.get(pk=guest.pk).status == Cart.Status.OPEN

    response = browser.post(emailed, {"csrfmiddlewaretoken": page.context["csrf_token"]})
    deliver()

    assert response.status_code == 302
    account_cart = Cart.objects.get(user=user, status=Cart.Status.OPEN)
    assert {line.sku: line.quantity for line in account_cart.lines.all()} == {
        "COF-001": 2,
        "TEA-001": 1,
    }
    assert account_cart.email == "" and account_cart.consent is False
    assert not Reminder.objects.filter(cart=account_cart).exists()
    assert browser.get("/api/cart/").json()["consent"] is False
    assert Cart.objects.get(pk=guest.pk).status == Cart.Status.MERGED


def test_the_cut_off_session_does_not_get_the_cart_back_by_signing_in(emailed, shopper, user):
    cart = guest_cart()
    restore(Client(), emailed)

    shopper.client.force_login(user)  # the login receiver would merge the session's cart

    assert not Cart.objects.filter(user=user).exists()
    restored = Cart.objects.get(pk=cart.pk)
    assert restored.status == Cart.Status.OPEN and restored.user_id is None


def test_the_owner_restoring_in_their_own_browser_keeps_their_address(emailed, shopper):
    cart = guest_cart()

    assert restore(shopper.client, emailed).status_code == 302

    mine = shopper.cart()
    assert mine["cart_id"] == str(cart.pk)
    assert mine["email"] == "ann@example.com" and mine["consent"] is True


def test_an_accounts_cart_link_asks_to_sign_in(shopper, user, clock, fire_due, mailoutbox):
    clock.set(datetime.now(UTC) - timedelta(hours=2))
    shopper.client.force_login(user)
    shopper.contact(consent=True)
    shopper.add("COF-001")
    clock.set(datetime.now(UTC))
    fire_due()
    path = recover_path(mailoutbox[0])

    stranger = Client()
    response = stranger.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert "Ethiopia Yirgacheffe" not in stranger.get(response["Location"]).content.decode()
    assert restore(shopper.client, path).status_code == 302  # the account itself may
