"""The cart says "updating…" while an accepted event waits for the projection, and shows
the line once it is applied: gunicorn accepts the add with no Celery worker running, so
the event waits in Redis until the test starts one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.browser.conftest import ShopServer, server_env
from tests.integration.conftest import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def shop_without_worker(catalog, worker_env, start_worker, tmp_path) -> Iterator[ShopServer]:
    server = ShopServer(
        env=server_env(worker_env, media_root=settings.MEDIA_ROOT),
        log_path=tmp_path / "gunicorn.log",
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _pending_events() -> int:
    from cart.models import Cart

    return sum(cart.pending_events for cart in Cart.objects.all())


def test_cart_says_updating_until_the_held_back_event_is_applied(
    shop_without_worker, start_worker, open_page
):
    url = shop_without_worker.url
    with_js = open_page()
    without_js = open_page(java_script_enabled=False)

    # With JavaScript: the add is accepted (202) and the badge says it is on its way.
    with_js.goto(url + "/products/ethiopia-yirgacheffe/")
    with with_js.expect_response(lambda response: response.url.endswith("/api/cart/items/")) as add:
        with_js.get_by_role("button", name="Add to cart").click()
    assert add.value.status == 202
    expect(with_js.get_by_test_id("cart-status")).to_have_text("updating…")
    with_js.goto(url + "/cart/")
    notice = with_js.get_by_test_id("cart-updating")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("updating…")
    expect(notice.get_by_role("link", name="Reload the cart")).to_be_hidden()  # reloads itself
    expect(with_js.get_by_test_id("cart-status")).to_be_visible()
    expect(with_js.locator(".cart-line")).to_have_count(0)

    # Without JavaScript: the form posts; the page says so and offers a reload.
    without_js.goto(url + "/products/sencha-asamushi/")
    without_js.get_by_role("button", name="Add to cart").click()
    without_js.goto(url + "/cart/")
    notice_without_js = without_js.get_by_test_id("cart-updating")
    expect(notice_without_js).to_contain_text("Your cart is being updated")
    expect(without_js.get_by_test_id("cart-status")).to_have_text("updating…")
    reload = notice_without_js.get_by_role("link", name="Reload the cart")
    expect(reload).to_be_visible()

    # Still held back a moment later: nothing applies events without a worker.
    with_js.wait_for_timeout(1500)
    expect(with_js.locator(".cart-line")).to_have_count(0)
    assert _pending_events() == 2

    start_worker()

    # The page with JavaScript follows the projection and reloads itself with the line.
    line = with_js.locator(".cart-line[data-sku='COF-001']")
    expect(line).to_be_visible(timeout=20_000)
    expect(with_js.get_by_test_id("cart-updating")).to_be_hidden()
    expect(with_js.get_by_test_id("cart-status")).to_be_hidden()
    expect(with_js.get_by_test_id("cart-badge")).to_have_text("1")

    # The page without it shows the line once the shopper follows the reload link.
    wait_until(lambda: _pending_events() == 0, timeout=20)
    reload.click()
    expect(without_js.locator(".cart-line[data-sku='TEA-001']")).to_be_visible()
    expect(without_js.get_by_test_id("cart-updating")).to_be_hidden()
    expect(without_js.get_by_test_id("cart-badge")).to_have_text("1")

    # The stepper (JavaScript only) changes the quantity through the API, and the page
    # follows the projection again.
    with_js.get_by_role("button", name="One more Ethiopia Yirgacheffe").click()
    expect(line.locator(".line-total")).to_have_text("29.00 EUR")
    expect(line.get_by_role("spinbutton")).to_have_value("2")
    with_js.get_by_role("button", name="One fewer Ethiopia Yirgacheffe").click()
    expect(line.locator(".line-total")).to_have_text("14.50 EUR")
    expect(with_js.get_by_test_id("cart-badge")).to_have_text("1")
