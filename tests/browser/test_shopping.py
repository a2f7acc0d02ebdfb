"""A shopper in headless Chromium against the shop served by gunicorn, events applied by a
real Celery worker: with JavaScript (fetch to the 202 API) and without (form posts)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def _badge(page):
    return page.get_by_test_id("cart-badge")


def _line(page, sku: str):
    return page.locator(f".cart-lines .cart-line[data-sku='{sku}']")


def _watch_broken_responses(page) -> list[str]:
    """Every 4xx/5xx answer and failed request the page sees (images, styles, API calls)."""
    broken: list[str] = []
    page.on(
        "response",
        lambda response: (
            broken.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )

    def failed(request) -> None:
        # Leaving a page cancels its pending loads (lazy images): not a broken resource.
        if request.failure != "net::ERR_ABORTED":
            broken.append(f"failed {request.url}: {request.failure}")

    page.on("requestfailed", failed)
    return broken


def _add_with_javascript(page, quantity: int) -> None:
    """Submit the product page's form; JavaScript must send it to the API (no navigation)."""
    page.get_by_label("Quantity").fill(str(quantity))
    url_before = page.url
    with page.expect_response(
        lambda response: (
            response.url.endswith("/api/cart/items/") and response.request.method == "POST"
        )
    ) as answer:
        page.get_by_role("button", name="Add to cart").click()
    assert answer.value.status == 202, answer.value.text()
    expect(page.locator("[data-feedback]")).to_have_text("Added ✓")
    assert page.url == url_before


def test_browse_add_change_remove_add_again_and_check_out(catalog, shop_server, open_page):
    from cart.models import Order

    page = open_page()
    broken = _watch_broken_responses(page)
    page.goto(shop_server.url + "/")
    expect(page.get_by_role("heading", name="All products")).to_be_visible()
    expect(_badge(page)).to_have_text("0")

    page.locator("li.product-card[data-sku='COF-001'] a").click()
    expect(page.get_by_role("heading", name="Ethiopia Yirgacheffe")).to_be_visible()
    _add_with_javascript(page, 2)
    expect(_badge(page)).to_have_text("2")  # once the worker has applied the event

    page.goto(shop_server.url + "/products/sencha-asamushi/")
    _add_with_javascript(page, 1)
    expect(_badge(page)).to_have_text("3")

    page.get_by_role("link", name=re.compile(r"^Cart \d")).click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(_line(page, "COF-001").get_by_role("spinbutton")).to_have_value("2")
    expect(_line(page, "TEA-001").get_by_role("spinbutton")).to_have_value("1")
    expect(page.get_by_test_id("cart-total")).to_have_text("38.80 EUR")

    # Change a quantity: PUT through the API, the page reloads once the event is applied.
    _line(page, "COF-001").get_by_role("spinbutton").fill("3")
    _line(page, "COF-001").get_by_role("button", name="Update").click()
    expect(_line(page, "COF-001").locator(".line-total")).to_have_text("43.50 EUR")
    expect(page.get_by_test_id("cart-total")).to_have_text("53.30 EUR")
    expect(_badge(page)).to_have_text("4")

    # Remove a line.
    _line(page, "TEA-001").get_by_role("button", name="Remove").click()
    expect(_line(page, "TEA-001")).to_have_count(0)
    expect(page.get_by_test_id("cart-total")).to_have_text("43.50 EUR")
    expect(_badge(page)).to_have_text("3")

    # Add it again from its product page.
    page.goto(shop_server.url + "/products/sencha-asamushi/")
    _add_with_javascript(page, 2)
    expect(_badge(page)).to_have_text("5")

    page.get_by_role("link", name=re.compile(r"^Cart \d")).click()
    expect(_line(page, "TEA-001").get_by_role("spinbutton")).to_have_value("2")
    expect(page.get_by_test_id("cart-total")).to_have_text("63.10 EUR")

    page.get_by_role("button", name="Check out").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    order_id = page.get_by_test_id("order-id").inner_text()
    expect(_badge(page)).to_have_text("0")

    # The worker turns CartCheckedOut into the order, with the lines at checkout.
    from tests.integration.conftest import wait_until

    order = wait_until(lambda: Order.objects.filter(pk=order_id).first())
    assert {(line.sku, line.quantity) for line in order.lines.all()} == {
        ("COF-001", 3),
        ("TEA-001", 2),
    }
    assert str(order.total) == "63.10"
    assert broken == []


def test_add_without_javascript_posts_the_form_and_redirects(catalog, shop_server, open_page):
    page = open_page(java_script_enabled=False)
    page.goto(shop_server.url + "/products/assam-breakfast/")
    page.get_by_label("Quantity").fill("2")
    with page.expect_navigation():
        page.get_by_role("button", name="Add to cart").click()

    # Post, redirect back to the product page, a message; no API call was made.
    assert page.url == shop_server.url + "/products/assam-breakfast/"
    expect(page.get_by_role("status").first).to_have_text("Added Assam Breakfast to your cart.")

    # The cart page shows the line once the worker has applied the event; without
    # JavaScript the shopper reloads.
    from tests.integration.conftest import wait_until

    def line_shown() -> bool:
        page.goto(shop_server.url + "/cart/")
        return _line(page, "TEA-002").count() == 1

    wait_until(line_shown, timeout=10, interval=0.2)
    expect(_line(page, "TEA-002").get_by_role("spinbutton")).to_have_value("2")
    expect(page.get_by_test_id("cart-total")).to_have_text("15.00 EUR")
    expect(_badge(page)).to_have_text("2")
