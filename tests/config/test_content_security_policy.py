"""Every page carries the Content-Security-Policy, and no page needs more than it allows:
no inline script or style, no style or event handler attributes (the browser tests load
the pages under it too, and fail on any violation the browser reports)."""

import uuid
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from cart.models import Cart, CartLine
from core.problems import PROBLEM_TYPES
from eventbus.models import DeadLetter
from notifications.models import Reminder
from notifications.tokens import confirm_token_make, recover_token_make, unsubscribe_token_make

pytestmark = pytest.mark.django_db

DIRECTIVES = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]


def named_routes(patterns=None, namespace=None) -> dict[str, str]:
    """Every named route of the site but the admin's (sampled below): name -> pattern."""
    routes = {}
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or namespace
            if inner != "admin":
                routes |= named_routes(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            routes[f"{namespace}:{pattern.name}" if namespace else pattern.name] = str(
                pattern.pattern
            )
    return routes


def a_reminder(catalog) -> Reminder:
    """A sent reminder of a guest cart with a line: its page shows the email's preview."""
    coffee = catalog.get(sku="COF-001")
    cart = Cart.objects.create(email="a@b.example", consent=True, email_confirmed=True)
    CartLine.objects.create(
        cart=cart, product=coffee, sku=coffee.sku, quantity=2, unit_price=coffee.price
    )
    now = timezone.now()
    return Reminder.objects.create(
        cart=cart,
        email=cart.email,
        status=Reminder.Status.SENT,
        due_at=now,
        sent_at=now,
        activity_sequence=1,
        activity_at=now - timedelta(hours=1),
        schedule_key=f"cart-reminder-{cart.pk}",
    )


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as directive -> sources (in any order)."""
    parsed = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


@pytest.fixture
def pages(catalog) -> dict[str, str]:
    """A URL for every route (and a few admin pages): what "every page" means here."""
    cart_id = "5b0f6c1e-8d2a-4f3b-9c7e-1a2b3c4d5e6f"
    recover = recover_token_make(link_token=uuid.uuid4())
    unsubscribe = unsubscribe_token_make(email="a@b.example")
    confirm = confirm_token_make(cart_id=cart_id, email="a@b.example")
    letter = DeadLetter.objects.create(
        subscription="x", event_id="e1", envelope={"detail": {}}, error="x", traceback="Tb"
    )
    reminder = a_reminder(catalog)
    return {
        "shop:product-list": "/",
        "shop:product-detail": "/products/ethiopia-yirgacheffe/",
        "cart:page": "/cart/",
        "cart:add": "/cart/add/",
        "cart:line-update": "/cart/lines/COF-001/",
        "cart:line-remove": "/cart/lines/COF-001/remove/",
        "cart:contact": "/cart/contact/",
        "cart:discount": "/cart/discount/",
        "cart:discount-remove": "/cart/discount/remove/",
        "cart:checkout": "/cart/checkout/",
        "notifications:recover": f"/notifications/recover/{recover}/",
        "notifications:unsubscribe": f"/notifications/unsubscribe/{unsubscribe}/",
        "notifications:confirm": f"/notifications/confirm/{confirm}/",
        "api-product-list": "/api/products/",
        "api-product-detail": "/api/products/COF-001/",
        "api-cart-detail": "/api/cart/",
        "api-cart-item-add": "/api/cart/items/",
        "api-cart-item": "/api/cart/items/COF-001/",
        "api-cart-checkout": "/api/cart/checkout/",
        "api-cart-contact": "/api/cart/contact/",
        "eventbus:catalog": "/api/events/",
        "eventbus:asyncapi": "/api/events/asyncapi.json",
        "api-schema": "/api/schema/",
        "api-docs": "/api/docs/",
        "healthz": "/healthz",
        "metrics": "/metrics",
        "problem-type": f"/api/problems/{next(iter(PROBLEM_TYPES))}/",
        "login": "/accounts/login/",
        "logout": "/accounts/logout/",
        "admin:login": "/admin/login/",
        "admin:index": "/admin/",
        "admin:changelist": "/admin/notifications/reminder/",
        "admin:change": f"/admin/shop/product/{catalog.get(sku='COF-001').pk}/change/",
        "admin:dead-letters": "/admin/eventbus/deadletter/",
        "admin:dead-letter": f"/admin/eventbus/deadletter/{letter.pk}/change/",
        "admin:eventbus-status": "/admin/eventbus/status/",
        # The recovery work's pages: the dashboard (its chart an inline SVG), a reminder
        # (the email's preview in a frame, the cart's timeline), the discount codes.
        "admin:recovery-dashboard": "/admin/recovery/",
        "admin:reminder": f"/admin/notifications/reminder/{reminder.pk}/change/",
        "admin:discount-codes": "/admin/cart/discountcode/",
        "not-found": "/no-such-page/",
    }


class _Inline(HTMLParser):
    """What a page has inline: scripts, style blocks, style and on* attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.attributes: list[str] = []
        self._open: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.attributes.append(f"<{tag} {name}={value!r}>")
        data_block = tag == "script" and names.get("type", "").endswith("json")
        if tag == "style" or (tag == "script" and "src" not in names and not data_block):
            self._open = (tag, [])

    def handle_data(self, data):
        if self._open is not None:
            self._open[1].append(data)

    def handle_endtag(self, tag):
        if self._open is not None and self._open[0] == tag:
            content = "".join(self._open[1])
            (self.styles if tag == "style" else self.scripts).append(content)
            self._open = None


def assert_runs_under_the_policy(url: str, body: str) -> None:
    inline = _Inline()
    inline.feed(body)
    assert [script for script in inline.scripts if script.strip()] == [], url
    assert inline.attributes == [], url
    assert inline.styles == [], url


def test_every_route_is_checked(pages):
    # Admin pages of our own (outside the admin site's URLs) are listed as "admin:<name>".
    checked = {name.removeprefix("admin:") for name in pages} | set(pages)
    assert set(named_routes()) <= checked


def test_every_page_carries_the_policy_and_needs_nothing_more(pages, admin_client):
    for name, url in pages.items():
        client = admin_client if name.startswith("admin:") else Client()
        response = client.get(url)
        policy = response.get("Content-Security-Policy", "")
        rules = directives(policy)
        where = f"{name} {url} ({response.status_code}): {policy}"
        assert rules.get("default-src") == ["'self'"], where
        assert rules.get("script-src") == ["'self'"], where
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, where
        assert rules.get("object-src") == ["'none'"], where
        assert rules.get("frame-ancestors") == ["'none'"], where
        if response.get("Content-Type", "").startswith("text/html"):
            assert_runs_under_the_policy(url, response.content.decode())


def test_the_email_preview_has_a_policy_of_its_own(catalog, admin_client, settings):
    """The one page with inline style: a reminder's email as mail clients get it (style
    attributes), in a frame of the admin's own pages, where no script ever runs."""
    settings.SITE_URL = "https://shop.example.com"
    settings.SHOP_LOGO_URL = "https://cdn.example.net/logo.png"
    reminder = a_reminder(catalog)
    page = admin_client.get(f"/admin/notifications/reminder/{reminder.pk}/change/")
    url = f"/admin/notifications/reminder/{reminder.pk}/email.html"
    assert f'<iframe src="{url}"' in page.content.decode()
    # The framing page: the site's policy, whose default-src 'self' lets it frame the URL.
    assert directives(page["Content-Security-Policy"])["default-src"] == ["'self'"]

    response = admin_client.get(url)

    rules = directives(response["Content-Security-Policy"])
    assert rules.pop("default-src") == ["'none'"] and rules.pop("script-src") == ["'none'"]
    assert rules.pop("style-src") == ["'unsafe-inline'"]  # the email's style attributes
    assert sorted(rules.pop("img-src")) == [
        "'self'",
        "https://cdn.example.net",
        "https://shop.example.com",
    ]
    assert rules == {
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "frame-ancestors": ["'self'"],  # the reminder's page, nobody else's
        "sandbox": ["allow-same-origin"],  # no script, form or popup even opened alone
    }
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    inline = _Inline()
    inline.feed(response.content.decode())
    assert [script for script in inline.scripts if script.strip()] == []
    assert inline.attributes and all(" style=" in found for found in inline.attributes)


def test_swagger_ui_starts_from_a_script_file(client):
    page = client.get("/api/docs/")
    script = client.get("/api/docs/?script=")

    assert 'src="/api/docs/?script="' in page.content.decode()
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
