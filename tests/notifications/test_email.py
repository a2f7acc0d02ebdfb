"""The reminder email: lines and total in both parts, the recovery link, unsubscribe."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.test import Client

from cart.models import Cart
from eventbus.models import ScheduledEvent
from notifications.models import EmailSuppression, Reminder
from tests.notifications.conftest import restore

pytestmark = pytest.mark.django_db

SITE = "https://shop.example.com"


@pytest.fixture
def sent(shopper, clock, fire_due, mailoutbox):
    """The email of a cart with two lines; returns (message, shopper)."""
    clock.set(datetime.now(UTC) - timedelta(hours=2))
    shopper.contact("ann@example.com")
    shopper.add("COF-001", 2)
    shopper.add("TEA-001", 3)
    clock.set(datetime.now(UTC))
    fire_due()
    [message] = mailoutbox
    return message


def html_part(message) -> str:
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return content


def link(text: str, kind: str) -> str:
    match = re.search(rf"{re.escape(SITE)}(/notifications/{kind}/[^/\s\"<>]+/)", text)
    assert match, f"no {kind} link in {text!r}"
    return match.group(1)


class _Rows(HTMLParser):
    """The item rows of the HTML part: their cell texts and image sources."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self.in_row = False
        self.in_cell = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "tr":
            self.in_row = attributes.get("class") == "item"
            if self.in_row:
                self.rows.append({"cells": [], "images": []})
        elif tag == "td" and self.in_row:
            self.rows[-1]["cells"].append("")
            self.in_cell = True
        elif tag == "img" and self.in_cell:
            self.rows[-1]["images"].append(attributes["src"])

    def handle_endtag(self, tag):
        if tag == "td":
            self.in_cell = False

    def handle_data(self, data):
        if self.in_cell:
            self.rows[-1]["cells"][-1] += " ".join(data.split())


def test_both_parts_list_every_line_and_the_total(sent):
    cart = Cart.objects.get()
    lines = list(cart.lines.select_related("product").order_by("id"))
    assert len(lines) == 2
    total = sum((line.line_total for line in lines), Decimal("0.00"))

    text = sent.body
    for line in lines:
        assert (
            f"- {line.product.name} ({line.sku}): {line.quantity} x {line.unit_price} EUR "
            f"= {line.line_total} EUR" in text
        )
    assert f"Total: {total} EUR" in text

    parser = _Rows()
    parser.feed(html_part(sent))
    assert len(parser.rows) == 2
    for row, line in zip(parser.rows, lines, strict=True):
        assert row["cells"][1:] == [
            f"{line.product.name}Quantity {line.quantity} · {line.unit_price} EUR each",
            f"{line.line_total} EUR",
        ]
        # Absolute, so it shows in a mail client.
        assert row["images"] == [f"{SITE}{line.product.image.url}"]
    assert re.search(rf'<td class="total" style="[^"]*">{total} EUR</td>', html_part(sent))
    assert sent.subject == "You left 5 items in your cart at Event Shop"


def test_headers_offer_one_click_unsubscribe(sent):
    unsubscribe = link(sent.body, "unsubscribe")
    assert sent.extra_headers["List-Unsubscribe"] == (
        f"<{SITE}{unsubscribe}>, <mailto:shop@example.com?subject=unsubscribe>"
    )
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    wire = sent.message()
    assert wire["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert wire["List-Unsubscribe"].startswith(f"<{SITE}/notifications/unsubscribe/")
    assert wire.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in wire.get_payload()] == ["text/plain", "text/html"]
    assert link(html_part(sent), "unsubscribe") == unsubscribe


def test_recovery_link_restores_the_cart_in_a_fresh_browser(sent, shopper, deliver):
    cart = Cart.objects.get()
    fresh = Client(enforce_csrf_checks=True)  # another device: no session, no cookies

    response = restore(fresh, link(sent.body, "recover"))

    assert response.status_code == 302
    assert response["Location"] == "/cart/"
    page = fresh.get("/cart/")
    assert page.status_code == 200
    for line in cart.lines.select_related("product"):
        assert line.product.name in page.content.decode()
    assert fresh.get("/api/cart/").json()["cart_id"] == str(cart.pk)
    assert Reminder.objects.get().clicked_at is not None
    assert link(html_part(sent), "recover") == link(sent.body, "recover")


def test_order_after_the_recovery_link_is_marked_recovered(sent, deliver, clock):
    fresh = Client()
    restore(fresh, link(sent.body, "recover"))
    clock.advance(timedelta(minutes=5))  # the order comes after the email

    response = fresh.post("/api/cart/checkout/", content_type="application/json")
    assert response.status_code == 202
    deliver()

    reminder = Reminder.objects.get()
    assert reminder.recovered_at is not None
    assert str(reminder.recovered_order_id) == response.json()["order_id"]


def test_order_without_following_the_link_is_not_recovered(sent, shopper):
    shopper.checkout()

    assert Reminder.objects.get().recovered_at is None


def test_recovery_link_of_a_checked_out_cart_says_so(sent, shopper):
    shopper.checkout()
    fresh = Client()

    response = fresh.get(link(sent.body, "recover"))

    assert response.status_code == 410
    assert "already been checked out" in response.content.decode()
    assert fresh.get("/api/cart/").json()["cart_id"] is None


def test_unsubscribing_stops_further_reminders(sent, shopper, clock):
    clock.set(datetime.now(UTC))
    shopper.add("COF-002")  # active again: a new reminder is pending
    assert Reminder.objects.filter(status=Reminder.Status.PENDING).count() == 1
    path = link(sent.body, "unsubscribe")
    browser = Client(enforce_csrf_checks=True)

    confirm = browser.get(path)
    assert confirm.status_code == 200
    assert "ann@example.com" in confirm.content.decode()
    assert 'method="post"' in confirm.content.decode()
    assert not EmailSuppression.objects.exists()  # a GET (link scanners) changes nothing

    done = browser.post(path)

    assert done.status_code == 200
    assert "You are unsubscribed" in done.content.decode()
    assert EmailSuppression.objects.get().email == "ann@example.com"
    assert not Reminder.objects.filter(status=Reminder.Status.PENDING).exists()
    assert Reminder.objects.filter(reason="unsubscribed").count() == 1
    assert not ScheduledEvent.objects.exists()

    shopper.add("TEA-001")
    assert not Reminder.objects.filter(status=Reminder.Status.PENDING).exists()


def test_one_click_post_from_a_mail_client_needs_no_csrf_token(sent):
    mail_client = Client(enforce_csrf_checks=True)

    response = mail_client.post(link(sent.body, "unsubscribe"), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert EmailSuppression.objects.get().source == "one-click"


def test_unsubscribing_twice_is_fine(sent):
    path = link(sent.body, "unsubscribe")
    assert Client().post(path).status_code == 200
    assert Client().post(path).status_code == 200
    assert EmailSuppression.objects.count() == 1
