"""Fixtures for reminder tests: a shop clock for event times, a shopper driving the cart
API, and firing the schedules that fell due."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client

import eventbus.envelope
from eventbus.scheduling import publish_due_scheduled_events

HOUR = timedelta(hours=1)


class _ShopClock(datetime):
    """Stands in for ``datetime`` inside eventbus.envelope: events get the time we set."""

    current: datetime | None = None

    @classmethod
    def now(cls, tz=None):
        return cls.current if cls.current is not None else datetime.now(tz)


@pytest.fixture
def clock(monkeypatch):
    """Set the time that new events carry: ``clock.set(moment)`` or ``clock.advance(delta)``."""

    class Clock:
        def set(self, moment: datetime) -> datetime:
            _ShopClock.current = moment.astimezone(UTC).replace(microsecond=0)
            return _ShopClock.current

        def advance(self, delta: timedelta) -> datetime:
            return self.set((_ShopClock.current or datetime.now(UTC)) + delta)

    monkeypatch.setattr(eventbus.envelope, "datetime", _ShopClock)
    yield Clock()
    _ShopClock.current = None


@pytest.fixture(autouse=True)
def reminder_settings(settings):
    settings.REMINDER_DELAY = HOUR
    settings.REMINDER_SERIES = [HOUR]
    settings.SITE_URL = "https://shop.example.com"
    return settings


class Shopper:
    """A guest using the cart API (its own session)."""

    def __init__(self, client, deliver) -> None:
        self.client = client
        self.deliver = deliver

    def add(self, sku: str = "COF-001", quantity: int = 1) -> dict:
        response = self.client.post(
            "/api/cart/items/", {"sku": sku, "quantity": quantity}, format="json"
        )
        assert response.status_code == 202, response.content
        self.deliver()
        return response.json()

    def remove(self, sku: str) -> None:
        assert self.client.delete(f"/api/cart/items/{sku}/").status_code == 202
        self.deliver()

    def contact(
        self, email: str = "shopper@example.com", consent: bool = True, confirm: bool = True
    ) -> None:
        """Give the cart an address; with ``confirm``, follow the confirmation email's link
        as its owner would (in another browser) and take that email out of the outbox."""
        response = self.client.put(
            "/api/cart/contact/", {"email": email, "consent": consent}, format="json"
        )
        assert response.status_code == 202, response.content
        self.deliver()
        if confirm and consent:
            confirm_address(email)
            self.deliver()

    def cart(self) -> dict:
        return self.client.get("/api/cart/").json()

    def checkout(self) -> str:
        response = self.client.post("/api/cart/checkout/", format="json")
        assert response.status_code == 202, response.content
        self.deliver()
        return response.json()["order_id"]


def confirmation_link(email: str) -> str | None:
    """The path of the newest confirmation link in the outbox for ``email``, if any."""
    for message in reversed(mail.outbox):
        if message.to == [email] and "/notifications/confirm/" in message.body:
            return re.search(r"https?://[^/\s]+(/notifications/confirm/[^/\s]+/)", message.body)[1]
    return None


def confirm_link_in(text: str) -> None:
    """Follow the confirmation link in an email's ``text`` as its reader does: open it in
    a browser of its own (GET), then press the page's button (POST)."""
    path = re.search(r"https?://[^/\s]+(/notifications/confirm/[^/\s]+/)", text)[1]
    inbox = Client(enforce_csrf_checks=True)
    page = inbox.get(path)
    assert page.status_code == 200, page.content
    done = inbox.post(path, {"csrfmiddlewaretoken": page.context["csrf_token"]})
    assert done.status_code == 200, done.content


def confirm_address(email: str) -> None:
    """Confirm ``email`` from the newest confirmation email in the outbox, and drop the
    confirmation emails from the outbox."""
    for message in reversed(mail.outbox):
        if message.to == [email] and "/notifications/confirm/" in message.body:
            confirm_link_in(message.body)
            break
    else:
        return  # confirmed before (this browser), or unsubscribed: no email was sent
    mail.outbox[:] = [m for m in mail.outbox if "/notifications/confirm/" not in m.body]


def restore(client, path: str, **extra):
    """Follow a recovery link as a person does: open it (the GET only shows the saved cart)
    and press its page's "Restore my cart" button (the POST restores it, once)."""
    page = client.get(path)
    assert page.status_code == 200, page.content
    return client.post(path, {"csrfmiddlewaretoken": page.context["csrf_token"]}, **extra)


@pytest.fixture
def shopper(catalog, deliver):
    from rest_framework.test import APIClient

    return Shopper(APIClient(), deliver)


@pytest.fixture
def fire_due(deliver):
    """Publish the schedules due at ``now`` (default: now) and deliver them; set the
    ``clock`` back before the cart events to have their reminders due already."""

    def fire(now: datetime | None = None) -> int:
        fired = publish_due_scheduled_events(now=now or datetime.now(UTC))
        deliver()
        return fired

    return fire
