"""Every API error is an RFC 9457 problem (application/problem+json), whatever the status;
the shop's HTML pages keep their HTML error pages."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.error_pages import server_error
from eventbus.models import OutboxEvent
from tests.problems import field_errors, problem

pytestmark = pytest.mark.django_db


def add(client, body, **extra):
    return client.post("/api/cart/items/", body, format="json", **extra)


def test_400_lists_each_field_error_with_its_code(api_client, catalog, settings):
    response = add(api_client, {"sku": "X" * 40, "quantity": 11})

    body = problem(response, 400)
    assert body["type"] == f"{settings.SITE_URL}/api/problems/validation-error/"
    assert body["title"] == "Your request is not valid."
    assert body["instance"] == "/api/cart/items/"
    assert sorted(body["errors"], key=lambda error: error["attr"]) == [
        {
            "code": "max_value",
            "detail": "Ensure this value is less than or equal to 10.",
            "attr": "quantity",
        },
        {
            "code": "max_length",
            "detail": "Ensure this field has no more than 32 characters.",
            "attr": "sku",
        },
    ]
    assert "Ensure this value is less than or equal to 10." in body["detail"]


def test_400_from_a_service_keeps_its_code_and_blames_no_field(api_client, catalog):
    response = api_client.post("/api/cart/checkout/")

    body = problem(response, 400)
    assert body["errors"] == [{"code": "cart_empty", "detail": "Your cart is empty.", "attr": None}]
    assert body["detail"] == "Your cart is empty."


def test_400_for_a_query_parameter(api_client, catalog):
    assert field_errors(api_client.get("/api/products/", {"sort": "cheapest"})) == {
        "sort": ['"cheapest" is not a valid choice.']
    }


def test_400_for_a_body_that_is_not_json(api_client, catalog, settings):
    response = api_client.post(
        "/api/cart/items/", data='{"sku": "COF-001", "quantity": ', content_type="application/json"
    )

    body = problem(response, 400)
    assert body["type"] == f"{settings.SITE_URL}/api/problems/malformed-request/"
    assert body["code"] == "parse_error"
    assert body["detail"].startswith("JSON parse error")
    assert "errors" not in body
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize(
    "document",
    [
        "[" * 50_000 + "]" * 50_000,  # issue 15, finding 8: a 100 KB body, a 500 before
        '{"a": ' * 30_000 + "1" + "}" * 30_000,
    ],
    ids=["arrays", "objects"],
)
def test_400_for_json_nested_deeper_than_the_parser_follows(api_client, catalog, document):
    assert len(document) < 256 * 1024  # under the 413 cap: the parser has to read it

    response = api_client.post("/api/cart/items/", data=document, content_type="application/json")

    body = problem(response, 400)
    assert body["code"] == "parse_error"
    assert "nested too deeply" in body["detail"]
    assert not OutboxEvent.objects.exists()


def test_401_for_a_bad_token_names_the_scheme(api_client, catalog):
    response = api_client.get("/api/cart/", HTTP_AUTHORIZATION="Token not-a-real-token")

    body = problem(response, 401)
    assert body["type"] == "about:blank"
    assert body["title"] == "Unauthorized"
    assert body["code"] == "authentication_failed"
    assert body["detail"] == "Invalid token."
    assert response["WWW-Authenticate"] == "Token"


def test_403_for_a_cookie_write_without_the_csrf_token(catalog):
    client = APIClient(enforce_csrf_checks=True)
    client.cookies["sessionid"] = "whatever"

    response = add(client, {"sku": "COF-001"})

    body = problem(response, 403)
    assert body["title"] == "Forbidden"
    assert body["detail"].startswith("CSRF Failed")
    assert not OutboxEvent.objects.exists()


def test_404_for_an_unknown_product(api_client, catalog):
    body = problem(api_client.get("/api/products/NOPE-1/"), 404)
    assert body["title"] == "Not Found"
    assert body["code"] == "not_found"
    assert body["detail"] == "No Product matches the given query."
    assert body["instance"] == "/api/products/NOPE-1/"


def test_404_for_a_page_past_the_last(api_client, catalog):
    assert problem(api_client.get("/api/products/", {"page": 0}), 404)["detail"] == (
        "Invalid page."
    )


def test_404_for_an_unknown_api_path_outside_any_view(api_client):
    body = problem(api_client.get("/api/nothing-here/"), 404)
    assert body["instance"] == "/api/nothing-here/"


def test_405_for_a_method_the_path_does_not_take(api_client, catalog):
    body = problem(api_client.patch("/api/cart/items/", {}, format="json"), 405)
    assert body["title"] == "Method Not Allowed"
    assert body["detail"] == 'Method "PATCH" not allowed.'


def test_406_when_the_client_accepts_no_json(api_client, catalog):
    body = problem(api_client.get("/api/products/", HTTP_ACCEPT="text/html"), 406)
    assert body["title"] == "Not Acceptable"
    assert body["code"] == "not_acceptable"


def test_413_for_a_body_over_the_limit(api_client, catalog, settings):
    huge = json.dumps({"sku": "COF-001", "quantity": 1, "padding": "x" * 300_000})
    response = api_client.post("/api/cart/items/", data=huge, content_type="application/json")

    body = problem(response, 413)
    assert body["code"] == "payload_too_large"
    assert body["detail"] == f"Request body over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."


def test_415_for_a_body_that_is_not_json(api_client, catalog):
    response = api_client.post(
        "/api/cart/items/", data="sku=COF-001", content_type="application/x-www-form-urlencoded"
    )

    body = problem(response, 415)
    assert body["title"] == "Unsupported Media Type"
    assert body["code"] == "unsupported_media_type"


def test_429_says_when_to_come_back(api_client, catalog, settings):
    settings.CART_ADD_THROTTLE_RATE = "1/min"
    assert add(api_client, {"sku": "COF-001"}).status_code == 202

    response = add(api_client, {"sku": "COF-001"})

    body = problem(response, 429)
    assert body["title"] == "Too Many Requests"
    assert body["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_429_says_when_to_come_back_even_when_the_throttle_cannot_tell(
    api_client, catalog, settings, monkeypatch
):
    settings.CART_ADD_THROTTLE_RATE = "1/min"
    monkeypatch.setattr("cart.api.CartAddThrottle.wait", lambda self: None)
    add(api_client, {"sku": "COF-001"})

    response = add(api_client, {"sku": "COF-001"})

    assert problem(response, 429)["code"] == "throttled"
    assert response["Retry-After"] == "1"


def test_500_shows_the_request_id_and_no_traceback(api_client, catalog, monkeypatch):
    def crash(self, request, sku):
        raise RuntimeError("connection to db-primary.internal:5432 refused for user shop")

    monkeypatch.setattr("shop.api.ProductDetailApi.get", crash)
    api_client.raise_request_exception = False

    response = api_client.get("/api/products/COF-001/", HTTP_X_REQUEST_ID="req-500-probe")

    body = problem(response, 500)
    assert body["title"] == "Internal Server Error"
    assert body["request_id"] == "req-500-probe"
    assert "req-500-probe" in body["detail"]
    assert "db-primary" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


def test_500_outside_a_view_is_a_problem_under_api_and_a_page_elsewhere():
    api = server_error(RequestFactory().get("/api/cart/"))
    assert api.status_code == 500
    assert api["Content-Type"] == "application/problem+json"
    assert json.loads(api.content)["code"] == "server_error"

    page = server_error(RequestFactory().get("/cart/"))
    assert page["Content-Type"].startswith("text/html")


def test_html_pages_keep_their_html_error_pages(client, catalog):
    response = client.get("/products/no-such-product/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert 'class="site-header"' in response.content.decode()


def test_token_clients_get_problems_too(api_client, catalog, user):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert field_errors(add(api_client, {"sku": "NOPE-1"})) == {
        "sku": ["Unknown product 'NOPE-1'."]
    }


def test_each_problem_type_has_a_page_that_documents_it(client, settings):
    for slug in ("validation-error", "malformed-request", "idempotency-key-reused"):
        response = client.get(f"/api/problems/{slug}/")
        assert response.status_code == 200
        assert "RFC 9457" in response.content.decode()
    assert client.get("/api/problems/no-such-type/").status_code == 404
