"""Bad input: tampered or expired tokens, hostile contact details. Always a 4xx, never a
500, never a header injection."""

import time
import uuid
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client

from cart.models import Cart
from eventbus.models import OutboxEvent
from notifications.models import EmailSuppression, Reminder
from notifications.tokens import recover_token_make, unsubscribe_token_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def reminder(shopper):
    shopper.contact("ann@example.com")
    shopper.add()
    return Reminder.objects.get()


def tampered(token: str) -> str:
    """The token with one character of its payload changed."""
    flipped = "A" if token[0] != "A" else "B"
    return flipped + token[1:]


def made_long_ago(make, monkeypatch, *, days: int = 15, **kwargs) -> str:
    real_time = time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - days * 24 * 3600)
    token = make(**kwargs)
    monkeypatch.setattr(signing.time, "time", real_time)
    return token


def assert_friendly_400(response, text: str) -> None:
    assert response.status_code == 400
    body = response.content.decode()
    assert text in body
    assert "This link does not work" in body
    assert 'class="site-header"' in body  # the shop's own layout, not a bare error


def test_tampered_recovery_token(reminder):
    token = recover_token_make(link_token=reminder.link_token)
    fresh = Client()

    response = fresh.get(f"/notifications/recover/{tampered(token)}/")

    assert_friendly_400(response, "This link is not valid.")
    assert fresh.get("/api/cart/").json()["cart_id"] is None
    assert Reminder.objects.get().clicked_at is None


def test_expired_recovery_token(reminder, monkeypatch, settings):
    settings.REMINDER_LINK_MAX_AGE = timedelta(days=14)
    token = made_long_ago(recover_token_make, monkeypatch, link_token=reminder.link_token)

    response = Client().get(f"/notifications/recover/{token}/")

    assert_friendly_400(response, "This link has expired.")
    assert Reminder.objects.get().clicked_at is None


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_unsubscribe_token(reminder, method):
    token = unsubscribe_token_make(email="ann@example.com")

    response = getattr(Client(), method)(f"/notifications/unsubscribe/{tampered(token)}/")

    assert_friendly_400(response, "This link is not valid.")
    assert not EmailSuppression.objects.exists()
    assert Reminder.objects.get().status == Reminder.Status.PENDING


def test_an_unsubscribe_link_60_days_old_still_works(reminder, monkeypatch, settings):
    """RFC 8058 senders keep one-click links working (CAN-SPAM: 30 days at least)."""
    settings.REMINDER_LINK_MAX_AGE = timedelta(days=14)
    token = made_long_ago(unsubscribe_token_make, monkeypatch, days=60, email="ann@example.com")

    response = Client().post(f"/notifications/unsubscribe/{token}/")

    assert response.status_code == 200
    assert EmailSuppression.objects.get().email == "ann@example.com"
    assert Reminder.objects.get().status == Reminder.Status.CANCELLED


def test_a_recovery_link_from_before_link_tokens_is_refused(reminder):
    """Links that named the reminder by its id (guessable in order) are not honoured."""
    token = signing.TimestampSigner(salt="notifications.recover-cart").sign_object(
        {"r": reminder.pk}
    )

    response = Client().get(f"/notifications/recover/{token}/")

    assert_friendly_400(response, "This link is not valid.")


def test_a_validly_signed_link_to_no_reminder_gives_no_cart(reminder):
    """Even with the key, a link names a random token, never something to count through."""
    token = recover_token_make(link_token=uuid.uuid4())
    fresh = Client()

    response = fresh.get(f"/notifications/recover/{token}/")

    assert response.status_code == 410
    assert "This cart no longer exists." in response.content.decode()
    assert fresh.post(f"/notifications/recover/{token}/").status_code == 410
    assert fresh.get("/api/cart/").json()["cart_id"] is None
    assert Reminder.objects.get().clicked_at is None


def test_a_recovery_token_is_no_unsubscribe_token(reminder):
    token = recover_token_make(link_token=reminder.link_token)

    response = Client().post(f"/notifications/unsubscribe/{token}/")

    assert_friendly_400(response, "This link is not valid.")


def test_signed_by_someone_else(reminder):
    forged = signing.TimestampSigner(key="not-our-secret", salt="notifications.unsubscribe")
    token = forged.sign_object({"e": "victim@example.com"})

    response = Client().post(f"/notifications/unsubscribe/{token}/")

    assert_friendly_400(response, "This link is not valid.")


@pytest.mark.parametrize(
    "token", ["x", "a:b:c", "." * 300, "%00", "eyJyIjoxfQ:1abc:zzz", "x" * 4000]
)
@pytest.mark.parametrize("kind", ["recover", "unsubscribe", "confirm"])
def test_garbage_tokens_are_client_errors(kind, token, db):
    response = Client().get(f"/notifications/{kind}/{token}/")

    assert 400 <= response.status_code < 500


def test_unsubscribe_rejects_other_methods(reminder):
    token = unsubscribe_token_make(email="ann@example.com")

    assert Client().put(f"/notifications/unsubscribe/{token}/").status_code == 405


# --- PUT /api/cart/contact/ ---------------------------------------------------------------

LONG_LOCAL = "a" * 64
TOO_LONG = f"{LONG_LOCAL}@{'b' * 63}.{'c' * 63}.{'d' * 63}.com"  # 64 + 1 + 196 = 261 chars


@pytest.mark.parametrize(
    "body",
    [
        {"email": "ann@example.com\nBcc: victim@example.com", "consent": True},
        {"email": "ann@example.com\r\nBcc: victim@example.com", "consent": True},
        {"email": "Ann <ann@example.com>", "consent": True},
        {"email": TOO_LONG, "consent": True},
        {"email": "ann@example.com", "consent": "yes"},
        {"email": "ann@example.com", "consent": "true"},
        {"email": "ann@example.com", "consent": 1},
        {"email": "ann@example.com", "consent": None},
        {"email": "ann@example.com", "consent": []},
        {"email": "ann@example.com"},
        {"email": ["ann@example.com"], "consent": True},
    ],
)
def test_contact_rejects_bad_input_with_400(api_client, product, body):
    assert len(TOO_LONG) > 254
    api_client.post("/api/cart/items/", {"sku": "COF-001"}, format="json")
    events_before = OutboxEvent.objects.count()

    response = api_client.put("/api/cart/contact/", body, format="json")

    assert response.status_code == 400, response.content
    assert OutboxEvent.objects.count() == events_before
    assert Cart.objects.get().email == ""


def test_surrounding_whitespace_is_trimmed_never_stored(api_client, product):
    response = api_client.put(
        "/api/cart/contact/", {"email": " ann@example.com\r\n", "consent": True}, format="json"
    )

    assert response.status_code == 202
    assert Cart.objects.get().email == "ann@example.com"


def test_contact_accepts_an_address_of_exactly_254_characters(api_client, product):
    address = f"{LONG_LOCAL}@{'b' * 63}.{'c' * 63}.{'d' * 57}.com"
    assert len(address) == 254

    response = api_client.put(
        "/api/cart/contact/", {"email": address, "consent": True}, format="json"
    )

    assert response.status_code == 202


def test_contact_that_is_not_json_is_a_4xx(api_client, product):
    response = api_client.generic(
        "PUT", "/api/cart/contact/", "email=a@b.c&consent=true", "application/x-www-form-urlencoded"
    )

    assert 400 <= response.status_code < 500
