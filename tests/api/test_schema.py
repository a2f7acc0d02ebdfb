"""What /api/schema/ says: a valid OpenAPI 3 document that lists, per operation, exactly the
answers it can give (as problem details for errors), their headers, the two ways to
authenticate, and an id, tag, description and request example for each operation."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from drf_spectacular.validation import validate_schema


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        return Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


# Every status each operation can answer, and no other (the conformance run checks that
# none outside them happens; this checks none is listed that cannot).
STATUSES = {
    "GET /api/products/": {"200", "400", "401", "404", "405", "406", "500"},
    "GET /api/products/{sku}/": {"200", "401", "404", "405", "406", "500"},
    "GET /api/cart/": {"200", "401", "405", "406", "500"},
    "POST /api/cart/items/": {
        *("202", "400", "401", "403", "405", "406", "409", "413", "415", "422", "429", "500")
    },
    "PUT /api/cart/items/{sku}/": {
        *("202", "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "500")
    },
    "DELETE /api/cart/items/{sku}/": {
        *("202", "400", "401", "403", "404", "405", "406", "409", "413", "422", "500")
    },
    "POST /api/cart/checkout/": {
        *("202", "400", "401", "403", "405", "406", "409", "413", "422", "500")
    },
    # 429: confirmation emails are limited per address and per client (double opt-in).
    "PUT /api/cart/contact/": {
        *("202", "400", "401", "403", "405", "406", "409", "413", "415", "422", "429", "500")
    },
}


def test_it_is_a_valid_openapi_document(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


def test_it_is_generated_without_a_warning(tmp_path):
    """drf-spectacular warns where it had to guess (an unresolved serializer, a clash)."""
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )


def test_each_operation_lists_exactly_the_answers_it_can_give(schema):
    assert {label: set(operation["responses"]) for label, operation in operations(schema)} == (
        STATUSES
    )


def test_errors_are_problem_details_and_successes_json(schema):
    for label, operation in operations(schema):
        for status, response in operation["responses"].items():
            [media_type] = response["content"]
            if status >= "400":
                assert media_type == "application/problem+json", (label, status)
                expected = "ValidationProblem" if status == "400" else "Problem"
                assert response["content"][media_type]["schema"]["$ref"].endswith(expected)
            else:
                assert media_type == "application/json", (label, status)
            assert response["description"], (label, status)


def test_the_problem_document_has_the_rfc_9457_members_and_field_errors(schema):
    problem = schema["components"]["schemas"]["Problem"]
    members = {"type", "title", "status", "detail", "instance", "code", "request_id"}
    assert set(problem["required"]) == members
    validation = schema["components"]["schemas"]["ValidationProblem"]
    assert validation["properties"]["errors"]["items"]["$ref"].endswith("/FieldError")
    field_error = schema["components"]["schemas"]["FieldError"]
    assert set(field_error["properties"]) == {"code", "detail", "attr"}
    assert field_error["properties"]["attr"]["nullable"] is True


def test_the_headers_of_each_answer(schema):
    for label, operation in operations(schema):
        for status, response in operation["responses"].items():
            headers = response["headers"]
            assert headers["X-Request-ID"]["required"] is True, (label, status)
            if status == "202":
                assert headers["Location"]["required"] is True
            if status == "429":
                assert headers["Retry-After"]["required"] is True
                assert headers["Retry-After"]["schema"]["type"] == "integer"
            if status == "401":
                assert headers["WWW-Authenticate"]["required"] is True


def test_the_product_list_is_the_paginated_object(schema):
    response = schema["paths"]["/api/products/"]["get"]["responses"]["200"]
    ref = response["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert page["type"] == "object"
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["results"]["items"]["$ref"].endswith("/Product")
    parameters = {p["name"] for p in schema["paths"]["/api/products/"]["get"]["parameters"]}
    assert parameters == {"category", "page", "q", "sort"}


def test_ids_tags_descriptions_and_request_examples(schema):
    ids = set()
    for label, operation in operations(schema):
        ids.add(operation["operationId"])
        assert operation["tags"] in (["catalog"], ["cart"]), label
        assert operation["summary"] and len(operation["description"]) > 40, label
        [sample] = operation["x-codeSamples"]
        assert sample["source"].startswith("curl "), label
        if "requestBody" in operation:
            content = operation["requestBody"]["content"]["application/json"]
            assert content["examples"], label
    assert ids == {
        "listProducts",
        "getProduct",
        "getCart",
        "addCartItem",
        "setCartItemQuantity",
        "removeCartItem",
        "checkoutCart",
        "setCartContact",
    }
    assert [tag["name"] for tag in schema["tags"]] == ["catalog", "cart"]


def test_both_ways_to_authenticate_as_they_work(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schemes["tokenAuth"]["description"],
    }
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert schemes["cookieAuth"]["name"] == "sessionid"
    assert (schemes["csrfToken"]["in"], schemes["csrfToken"]["name"]) == ("header", "X-CSRFToken")
    for label, operation in operations(schema):
        method = label.split(" ")[0]
        cookie = {"cookieAuth": []} if method == "GET" else {"cookieAuth": [], "csrfToken": []}
        # A token, or the cookie (and on writes the CSRF header with it), or nothing (guest).
        assert operation["security"] == [{"tokenAuth": []}, cookie, {}], label


def test_cart_writes_take_an_idempotency_key(schema):
    for label, operation in operations(schema):
        headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        if label.startswith("GET"):
            assert "Idempotency-Key" not in headers, label
            continue
        key = headers["Idempotency-Key"]
        assert not key.get("required", False)
        assert "pattern" in key["schema"]
        replayed = operation["responses"]["202"]["headers"]["Idempotent-Replayed"]
        assert replayed["required"] is False
