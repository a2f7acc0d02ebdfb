"""Double opt-in of a guest's reminder address: one confirmation email, no reminder until
its link is followed, limits per address and per client, and a browser that keeps what it
confirmed."""

from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from rest_framework.test import APIClient

from cart.models import Cart
from eventbus.models import ScheduledEvent
from notifications.models import EmailSuppression, Reminder
from tests.notifications.conftest import Shopper, confirmation_link

pytestmark = pytest.mark.django_db

ADDRESS = "ann@example.com"


def put_contact(client, email: str = ADDRESS, consent: bool = True, **extra):
    return client.put(
        "/api/cart/contact/", {"email": email, "consent": consent}, format="json", **extra
    )


def confirmations(mailoutbox, email: str = ADDRESS) -> list:
    return [m for m in mailoutbox if m.to == [email] and "/notifications/confirm/" in m.body]


def pending() -> list[Reminder]:
    return list(Reminder.objects.filter(status=Reminder.Status.PENDING))


def confirm(path: str, client: Client | None = None):
    inbox = client or Client(enforce_csrf_checks=True)
    page = inbox.get(path)
    assert page.status_code == 200
    return inbox.post(path, {"csrfmiddlewaretoken": page.context["csrf_token"]})


def test_an_unconfirmed_address_gets_one_email_and_no_reminder(shopper, mailoutbox):
    shopper.add("COF-001")
    shopper.contact(ADDRESS, confirm=False)
    shopper.add("TEA-001")

    [message] = mailoutbox
    assert message.to == [ADDRESS]
    assert message.subject == "Confirm your email for cart reminders"
    assert confirmation_link(ADDRESS) in message.alternatives[0][0]  # the HTML part too
    assert pending() == []
    assert not ScheduledEvent.objects.exists()
    cart = shopper.cart()
    assert cart["email"] == ADDRESS and cart["consent"] is True
    assert cart["email_confirmed"] is False


def test_following_the_link_confirms_and_schedules_the_reminder(shopper, mailoutbox, deliver):
    shopper.add("COF-001")
    shopper.contact(ADDRESS, confirm=False)
    path = confirmation_link(ADDRESS)

    page = Client().get(path)  # what a mail system's link scanner does
    assert page.status_code == 200
    assert ADDRESS in page.content.decode()
    assert Cart.objects.get().email_confirmed is False
    assert pending() == []

    done = confirm(path)
    deliver()

    assert done.status_code == 200
    assert "Your email is confirmed" in done.content.decode()
    [reminder] = pending()
    assert reminder.email == ADDRESS
    assert shopper.cart()["email_confirmed"] is True
    assert len(mailoutbox) == 1  # the confirmation was the only email


def test_a_confirmation_link_for_an_address_replaced_since_confirms_nothing(shopper, deliver):
    shopper.add("COF-001")
    shopper.contact("old@example.com", confirm=False)
    old_link = confirmation_link("old@example.com")
    shopper.contact("new@example.com", confirm=False)

    response = confirm(old_link)
    deliver()

    assert response.status_code == 400
    assert "no longer uses this address" in response.content.decode()
    assert Cart.objects.get().email_confirmed is False
    assert pending() == []


def test_an_expired_confirmation_link_confirms_nothing(shopper, settings, monkeypatch):
    shopper.add("COF-001")
    shopper.contact(ADDRESS, confirm=False)
    path = confirmation_link(ADDRESS)
    settings.CART_CONFIRMATION_LINK_MAX_AGE = timedelta(days=3)
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() + 4 * 24 * 3600)

    response = Client().post(path)

    assert response.status_code == 400
    assert "This link has expired." in response.content.decode()
    assert Cart.objects.get().email_confirmed is False


def test_confirmation_emails_are_limited_per_address(catalog, deliver, mailoutbox, settings):
    settings.CART_CONFIRMATION_RATE_PER_ADDRESS = "3/day"
    answers = [
        # Cookieless: every request is a new cart, from a new client address.
        put_contact(APIClient(), REMOTE_ADDR=f"198.51.100.{number}").status_code
        for number in range(1, 6)
    ]
    deliver()

    assert answers == [202, 202, 202, 429, 429]
    assert len(confirmations(mailoutbox)) == 3
    refused = put_contact(APIClient(), REMOTE_ADDR="198.51.100.9")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "confirmation emails" in refused.json()["detail"]
    assert Cart.objects.count() == 3  # a refused request leaves no cart behind


def test_confirmation_emails_are_limited_per_client(catalog, deliver, mailoutbox, settings):
    settings.CART_CONFIRMATION_RATE_PER_CLIENT = "2/hour"
    answers = [
        put_contact(APIClient(), f"person{number}@example.com").status_code for number in range(4)
    ]
    deliver()

    assert answers == [202, 202, 429, 429]
    assert len(mailoutbox) == 2
    # Another client is not held back by this one.
    assert put_contact(APIClient(), REMOTE_ADDR="198.51.100.7").status_code == 202


def test_without_consent_no_email_is_sent_and_no_limit_is_spent(
    catalog, deliver, mailoutbox, settings
):
    settings.CART_CONFIRMATION_RATE_PER_CLIENT = "1/hour"
    client = APIClient()

    assert put_contact(client, consent=False).status_code == 202
    assert put_contact(client, "other@example.com", consent=False).status_code == 202
    deliver()

    assert mailoutbox == []
    assert put_contact(client).status_code == 202


def test_a_confirmed_address_stays_confirmed_for_the_browsers_next_cart(shopper, mailoutbox):
    shopper.add("COF-001")
    shopper.contact(ADDRESS)  # confirmed from the mail client, another browser
    shopper.checkout()
    mailoutbox.clear()

    shopper.add("TEA-001")  # a new cart
    shopper.contact(ADDRESS, confirm=False)

    assert mailoutbox == []  # no second confirmation
    assert shopper.cart()["email_confirmed"] is True
    [reminder] = pending()
    assert reminder.email == ADDRESS

    # Another browser typing the same address has to confirm it itself.
    stranger = Shopper(APIClient(), shopper.deliver)
    stranger.add("MUG-001")
    stranger.contact(ADDRESS, confirm=False)
    assert len(confirmations(mailoutbox)) == 1
    assert stranger.cart()["email_confirmed"] is False


def test_changing_to_an_unconfirmed_address_holds_the_reminder_back(shopper, mailoutbox):
    shopper.add("COF-001")
    shopper.contact(ADDRESS)
    assert len(pending()) == 1

    shopper.contact("new@example.com", confirm=False)

    assert pending() == []
    assert Reminder.objects.get().reason == "address not confirmed"
    assert not ScheduledEvent.objects.exists()
    assert len(confirmations(mailoutbox, "new@example.com")) == 1


def test_an_unsubscribed_address_gets_no_confirmation_email(shopper, mailoutbox):
    EmailSuppression.objects.create(email=ADDRESS)
    shopper.add("COF-001")

    shopper.contact("Ann@Example.com", confirm=False)

    assert mailoutbox == []


def test_the_cart_page_form_asks_for_confirmation_too(client, catalog, deliver, mailoutbox):
    client.post("/cart/add/", {"sku": "COF-001", "quantity": 1})

    response = client.post("/cart/contact/", {"email": ADDRESS, "consent": "on"}, follow=True)
    deliver()

    assert "We sent a link to ann@example.com" in response.content.decode()
    assert len(confirmations(mailoutbox)) == 1
    assert pending() == []


def test_the_cart_page_form_shows_the_limit_as_a_message(client, catalog, settings):
    settings.CART_CONFIRMATION_RATE_PER_ADDRESS = "1/day"
    client.post("/cart/contact/", {"email": ADDRESS, "consent": "on"})

    response = client.post("/cart/contact/", {"email": ADDRESS, "consent": "on"}, follow=True)

    assert response.status_code == 200
    assert "We sent enough confirmation emails for now" in response.content.decode()


def test_an_account_needs_no_confirmation(shopper, user, mailoutbox):
    shopper.client.force_login(user)
    shopper.add("COF-001")

    shopper.contact(consent=True, confirm=False)

    assert confirmations(mailoutbox, "alice@example.com") == []
    [reminder] = pending()
    assert reminder.email == "alice@example.com"
