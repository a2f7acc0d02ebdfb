"""Every page carries the Content-Security-Policy, and no page needs more than it allows:
no inline script or style, no style or event handler attributes (the browser tests load
the pages under it too, and fail on any violation the browser reports)."""

import uuid
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from core.problems import PROBLEM_TYPES
from eventbus.models import DeadLetter
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
    return {
        "shop:product-list": "/",
        "shop:product-detail": "/products/ethiopia-yirgacheffe/",
        "cart:page": "/cart/",
        "cart:add": "/cart/add/",
        "cart:line-update": "/cart/lines/COF-001/",
        "cart:line-remove": "/cart/lines/COF-001/remove/",
        "cart:contact": "/cart/contact/",
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
        assert "default-src 'self'" in policy, f"{name} {url} ({response.status_code})"
        assert "script-src 'self';" in policy
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
        assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
        if response.get("Content-Type", "").startswith("text/html"):
            assert_runs_under_the_policy(url, response.content.decode())


def test_swagger_ui_starts_from_a_script_file(client):
    page = client.get("/api/docs/")
    script = client.get("/api/docs/?script=")

    assert 'src="/api/docs/?script="' in page.content.decode()
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
