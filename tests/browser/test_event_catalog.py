"""The event catalog page in headless Chromium, served by gunicorn like the shop."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from eventbus.catalog import catalog_path

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

SUBSCRIPTIONS = [
    "abandoned-cart-mailer",
    "cart-projection",
    "contact-confirmation-mailer",
    "recovery-attribution",
    "recovery-dashboard",
    "reminder-policy",
]


def shop_event_types() -> list[tuple[str, str]]:
    """(detail-type, source) of the shop's own types, from the committed catalog: the server
    registers only those (this process has the tests' own types too)."""
    document = json.loads(catalog_path().read_text())
    routes = [item["x-eventbridge"] for item in document["components"]["messages"].values()]
    return sorted({(item["detail-type"], item["source"]) for item in routes})


def test_the_catalog_page_shows_types_versions_and_subscriptions(shop_server, open_page):
    page = open_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    broken: list[str] = []
    page.on("response", lambda r: broken.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    page.goto(shop_server.url + "/")
    page.get_by_role("link", name="Events", exact=True).click()
    expect(page.get_by_role("heading", name="Event Shop events", level=1)).to_be_visible()

    types = shop_event_types()
    assert len(types) == 12  # 6 cart, 6 reminder and recovery types
    expect(page.locator("section[data-event-type]")).to_have_count(len(types))
    for detail_type, source in types:
        section = page.locator(f"section[data-event-type='{detail_type}']")
        expect(section.get_by_role("heading", name=detail_type, exact=True)).to_be_visible()
        expect(section.locator("dd").first).to_have_text(source)

    sent = page.locator("section[data-event-type='CartReminderSent']")
    expect(sent.locator(".catalog-version")).to_have_count(2)
    expect(sent.get_by_role("heading", name="CartReminderSent v2 latest")).to_be_visible()
    v2_row = sent.locator("[data-version='2'] tr[data-field='channel_message_id']")
    expect(v2_row.locator("td").nth(2)).to_have_text("required")
    expect(v2_row.locator("td").nth(3)).to_contain_text("Message-ID")
    expect(sent.locator("[data-version='1'] tr[data-field='message_id']")).to_be_visible()
    expect(sent.get_by_test_id("publishers")).to_have_text("shop.notifications (notifications app)")

    added = page.locator("section[data-event-type='ItemAddedToCart']")
    expect(added.get_by_test_id("consumers")).to_contain_text("cart-projection (reads v1)")
    expect(added.get_by_test_id("consumers")).to_contain_text("reminder-policy (reads v1)")
    example = added.locator("details")
    example.locator("summary").click()
    expect(example.locator("pre")).to_contain_text('"detail-type": "ItemAddedToCart"')

    rows = page.locator("table.catalog-subscriptions tbody tr")
    expect(rows).to_have_count(len(SUBSCRIPTIONS))
    for name in SUBSCRIPTIONS:
        expect(page.locator(f"tr[data-subscription='{name}']")).to_be_visible()
    mailer = page.locator("tr[data-subscription='abandoned-cart-mailer']")
    expect(mailer).to_contain_text('"detail-type": ["CartReminderDue"]')
    mailer.get_by_role("link", name="CartReminderDue").click()
    expect(page).to_have_url(shop_server.url + "/api/events/#event-CartReminderDue")

    # The shop's stylesheet and the catalog's own, nothing from elsewhere, nothing broken.
    assert broken == []
    origins = {urlsplit(url).netloc for url in requested}
    assert origins == {urlsplit(shop_server.url).netloc}, requested
    assert any(url.endswith("/static/eventbus/catalog.css") for url in requested)
    card = page.locator(".catalog-event").first
    radius = card.evaluate("element => getComputedStyle(element).borderRadius")
    assert radius != "0px"  # the catalog stylesheet applied

    answer = page.request.get(shop_server.url + "/api/events/asyncapi.json")
    assert answer.ok and answer.json()["asyncapi"] == "3.0.0"
