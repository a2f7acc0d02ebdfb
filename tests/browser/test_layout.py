"""Every page from a 360 px phone to a 1440 px desktop: no horizontal scrolling, touch
targets of 44 px, and an axe-core scan with no violations; screenshots of each page at
each width go to test-artifacts/layout/.

axe-core comes bundled in axe-playwright-python (the script is injected into the page,
nothing is downloaded). One gunicorn and one Celery worker serve the whole module.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.integration.conftest import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

WIDTHS = [360, 390, 768, 1280, 1440]
SCREENSHOTS = ARTIFACTS / "layout"
AXE = Axe()

# Controls a finger must hit: at least 44 x 44 CSS px (links inside running text excepted).
TOUCH_TARGETS = (
    "button, select, input:not([type=hidden]):not([type=checkbox]), a.button, a.chip,"
    " .nav-links a, .brand, .product-card a, .line-product"
)


def _check_page(page, *, width: int, name: str) -> None:
    """What every page must pass at every width; leaves a screenshot."""
    page.wait_for_load_state("load")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)

    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name} at {width}px scrolls sideways ({scroll_width}px)"
    # Nothing visible pokes out of the viewport either (content clipped, not scrolled).
    sticking_out = page.evaluate(
        """(width) => [...document.querySelectorAll("body *")].filter((element) => {
            const box = element.getBoundingClientRect();
            return box.width > 1 && box.height > 1 && box.right > width + 0.5
                && getComputedStyle(element).visibility !== "hidden";
        }).map((element) => element.outerHTML.slice(0, 120))""",
        width,
    )
    assert sticking_out == [], f"{name} at {width}px: {sticking_out}"

    small = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].filter((element) => {
            const box = element.getBoundingClientRect();
            return box.width > 0 && (box.width < 43.5 || box.height < 43.5);
        }).map((element) => {
            const box = element.getBoundingClientRect();
            const size = `${Math.round(box.width)}x${Math.round(box.height)}`;
            return `${size} ${element.outerHTML.slice(0, 80)}`;
        })""",
        TOUCH_TARGETS,
    )
    assert small == [], f"{name} at {width}px, touch targets under 44px: {small}"

    results = AXE.run(page, options={"resultTypes": ["violations"]})
    assert results.violations_count == 0, f"{name} at {width}px:\n{results.generate_report()}"


def _add_by_api(page, sku: str, quantity: int) -> None:
    status = page.evaluate(
        """async ([sku, quantity]) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const response = await fetch("/api/cart/items/", {
                method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                body: JSON.stringify({sku: sku, quantity: quantity}),
            });
            return response.status;
        }""",
        [sku, quantity],
    )
    assert status == 202


def _cart(page) -> dict:
    return page.evaluate("fetch('/api/cart/').then((response) => response.json())")


@pytest.mark.parametrize("width", WIDTHS)
def test_shopper_pages_fit_and_pass_axe(shared_shop_server, open_page, width, django_user_model):
    # Hashed as the server checks it (the tests' own settings hash with MD5).
    hasher = PBKDF2PasswordHasher()
    django_user_model.objects.create(
        username="a-shopper-with-a-long-name",
        password=hasher.encode("s3cret-pass-word", hasher.salt(), iterations=1000),
    )
    url = shared_shop_server.url
    page = open_page(width=width)

    page.goto(url + "/")
    expect(page.get_by_role("heading", name="All products")).to_be_visible()
    _check_page(page, width=width, name="catalog")

    page.get_by_role("searchbox", name="Search products").fill("choc")
    page.get_by_role("searchbox", name="Search products").press("Enter")
    expect(page.get_by_role("heading", name="Results for “choc”")).to_be_visible()
    expect(page.locator(".product-card")).to_have_count(3)
    _check_page(page, width=width, name="search")

    page.goto(url + "/?q=xylophone")
    expect(page.get_by_role("heading", name="No products match “xylophone”")).to_be_visible()
    expect(page.get_by_test_id("empty-result").get_by_role("link", name="Tea")).to_be_visible()
    _check_page(page, width=width, name="search-empty")

    page.goto(url + "/products/ethiopia-yirgacheffe/")
    expect(page.get_by_role("heading", name="Ethiopia Yirgacheffe")).to_be_visible()
    _check_page(page, width=width, name="product")

    _add_by_api(page, "COF-001", 2)
    _add_by_api(page, "TEA-001", 1)
    wait_until(lambda: _cart(page)["pending_events"] == 0, timeout=15, interval=0.1)
    page.goto(url + "/cart/")
    expect(page.locator(".cart-line")).to_have_count(2)
    expect(page.get_by_test_id("cart-total")).to_have_text("38.80 EUR")
    _check_page(page, width=width, name="cart")
    # A product name breaks between its words only: no line holds part of a word.
    broken = page.evaluate(
        """() => [...document.querySelectorAll('.line-name')].filter((name) => {
            const range = document.createRange();
            const text = name.firstChild;
            let top = null, offset = 0;
            for (const word of text.textContent.split(' ')) {
                range.setStart(text, offset); range.setEnd(text, offset + word.length);
                if (range.getClientRects().length > 1) return true;  // one word, two lines
                offset += word.length + 1;
            }
            return false;
        }).map((name) => name.textContent)"""
    )
    assert broken == [], f"names broken inside a word at {width}px: {broken}"
    # The discount code's field and its button share a row.
    field, apply = (
        page.get_by_role("textbox", name="Discount code").bounding_box(),
        page.locator(".discount-form").get_by_role("button", name="Apply").bounding_box(),
    )
    assert abs(field["y"] - apply["y"]) < field["height"], f"Apply wraps at {width}px"

    page.get_by_role("button", name="Check out").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    _check_page(page, width=width, name="checkout")

    page.goto(url + "/accounts/login/")
    _check_page(page, width=width, name="login")
    page.get_by_label("Username").fill("a-shopper-with-a-long-name")
    page.get_by_label("Password").fill("s3cret-pass-word")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    _check_page(page, width=width, name="catalog-signed-in")


@pytest.mark.parametrize("width", [360, 1280])
def test_other_pages_fit_and_pass_axe(shared_shop_server, open_page, width):
    from notifications.tokens import unsubscribe_token_make

    url = shared_shop_server.url
    page = open_page(width=width)
    pages = {
        "empty-cart": "/cart/",
        "catalog-page-2": "/?page=2&sort=-price",
        "category": "/?category=brewing-gear",
        "not-found": "/products/no-such-thing/",
        "unsubscribe": f"/notifications/unsubscribe/{unsubscribe_token_make(email='a@b.example')}/",
        "link-invalid": "/notifications/unsubscribe/not-a-token/",
        "event-catalog": "/api/events/",
    }
    for name, path in pages.items():
        page.goto(url + path)
        _check_page(page, width=width, name=name)
    page.goto(url + pages["unsubscribe"])
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    _check_page(page, width=width, name="unsubscribed")


def test_product_images_come_in_their_srcset_sizes(shared_shop_server, open_page):
    """Which size the browser picks: about 250 CSS px wide cards on a desktop, 2x on a
    phone; every image, the lazy ones once scrolled to, loads."""
    for width, scale, expected in [(1280, 1, "320w"), (390, 2, "480w")]:
        page = open_page(width=width, height=800, device_scale_factor=scale)
        page.goto(shared_shop_server.url + "/")
        cards = page.locator(".product-card img")
        expect(cards).to_have_count(12)
        assert [cards.nth(i).get_attribute("loading") for i in range(12)] == ["eager"] * 4 + [
            "lazy"
        ] * 8
        for index in (0, 11):
            cards.nth(index).scroll_into_view_if_needed()
            expect(cards.nth(index)).to_have_js_property("complete", True)
            assert cards.nth(index).evaluate("(image) => image.naturalWidth") > 0
            assert (
                cards.nth(index)
                .evaluate("(image) => image.currentSrc")
                .endswith(f"-{expected}.webp")
            )
