"""The cart page and the header badge: lines as cards with a stepper, and "updating…"
while accepted events are not applied yet (with a reload link for pages without JS)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def _notice(html: str) -> str:
    return re.search(r'<p class="notice" id="cart-updating"[^>]*>', html).group(0)


def _badge_status(html: str) -> str:
    return re.search(r'<span class="cart-status"[^>]*>', html).group(0)


def test_page_and_badge_say_updating_until_the_event_is_applied(client, product, deliver):
    client.post("/cart/add/", {"sku": product.sku, "quantity": 2})

    html = client.get("/cart/").content.decode()
    assert "hidden" not in _notice(html)
    assert "updating…" in html and "Your cart is being updated" in html
    assert '<a href="/cart/" data-reload>Reload the cart</a>' in html
    assert 'data-pending="1"' in html
    assert "hidden" not in _badge_status(client.get("/").content.decode())  # every page

    deliver()
    html = client.get("/cart/").content.decode()
    assert "hidden" in _notice(html)
    assert "hidden" in _badge_status(html)
    assert 'data-pending="0"' in html
    assert f'class="cart-line" data-sku="{product.sku}"' in html


def test_a_fresh_visitor_sees_no_updating(client, catalog):
    html = client.get("/cart/").content.decode()
    assert "hidden" in _notice(html)
    assert "hidden" in _badge_status(html)


def test_lines_are_cards_with_a_labelled_stepper_and_remove(client, catalog, deliver):
    client.post("/cart/add/", {"sku": "COF-001", "quantity": 2})
    client.post("/cart/add/", {"sku": "TEA-001", "quantity": 1})
    deliver()
    html = client.get("/cart/").content.decode()
    assert html.count('<li class="cart-line"') == 2
    line = html.split('data-sku="COF-001"', 1)[1].split("</li>", 1)[0]
    assert 'for="quantity-COF-001"' in line and 'id="quantity-COF-001"' in line
    assert 'data-step="-1"' in line and 'data-step="1"' in line
    assert 'Remove<span class="visually-hidden"> Ethiopia Yirgacheffe</span>' in line
    assert '<span class="line-total">29.00 EUR</span>' in line
    assert 'data-testid="cart-total">38.80 EUR<' in html
