"""``GET /metrics``: refused off the allowed networks without the token, and the HTTP request
counters a scrape shows."""

from __future__ import annotations

import pytest
from django.db import DatabaseError

from core import metrics
from tests.scrape import scrape_client

pytestmark = pytest.mark.django_db

PUBLIC_ADDRESS = "203.0.113.7"  # TEST-NET-3: no allowed network contains it
TOKEN = "s3cret-scrape-token"


@pytest.fixture
def token_only(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return settings


def test_without_the_token_metrics_is_refused(client, token_only):
    refused = client.get("/metrics")
    assert refused.status_code == 403
    assert b"eventbus_" not in refused.content and b"http_requests" not in refused.content
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 403

    allowed = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert allowed.status_code == 200
    assert b"# TYPE http_requests_total counter" in allowed.content


def test_an_allowed_network_needs_no_token_and_others_are_refused(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "::1/128"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR=PUBLIC_ADDRESS).status_code == 403
    # No token configured: no Authorization header opens it.
    assert (
        client.get("/metrics", REMOTE_ADDR=PUBLIC_ADDRESS, HTTP_AUTHORIZATION="Bearer ").status_code
        == 403
    )


def test_the_default_allows_loopback_only(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]  # config/settings.py's default
    assert client.get("/metrics").status_code == 200  # the test client's 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR=PUBLIC_ADDRESS).status_code == 403


def test_only_get(client):
    assert client.post("/metrics").status_code == 405


def test_requests_are_counted_by_view_method_and_status(client, api_client, catalog):
    before = scrape_client(client)

    for _ in range(3):
        assert (
            api_client.post(
                "/api/cart/items/", {"sku": "TEA-001", "quantity": 1}, format="json"
            ).status_code
            == 202
        )
    assert (
        api_client.post(
            "/api/cart/items/", {"sku": "NOPE", "quantity": 1}, format="json"
        ).status_code
        == 400
    )
    assert client.get("/no-such-page/").status_code == 404

    after = scrape_client(client)
    add = {"view": "api-cart-item-add", "method": "POST"}
    assert (
        after.value("http_requests_total", **add, status="202")
        - before.value("http_requests_total", **add, status="202")
        == 3
    )
    assert (
        after.value("http_requests_total", **add, status="400")
        - before.value("http_requests_total", **add, status="400")
        == 1
    )
    unresolved = {"view": "<unresolved>", "method": "GET", "status": "404"}
    assert (
        after.value("http_requests_total", **unresolved)
        - before.value("http_requests_total", **unresolved)
        == 1
    )
    count = "http_request_duration_seconds_count"
    assert (
        after.value(count, view="api-cart-item-add") - before.value(count, view="api-cart-item-add")
        == 4
    )
    # The scrape itself is a request too, under its own URL name.
    assert after.value("http_requests_total", view="metrics", method="GET", status="200") >= 1


def test_a_failing_collector_is_reported_and_the_rest_still_scraped(client, monkeypatch):
    def broken():
        raise DatabaseError("the database went away")

    monkeypatch.setitem(metrics._scrape_collectors, "broken", broken)
    scrape = scrape_client(client)
    assert scrape.value("metrics_collector_up", collector="broken") == 0
    assert scrape.value("metrics_collector_up", collector="eventbus") == 1
    assert scrape.has("eventbus_outbox_pending")
