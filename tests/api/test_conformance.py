"""The conformance run over every operation of /api/schema/, for an anonymous caller and for
a token-authenticated one whose cart already has lines (tests/api/conformance.py): no 5xx,
and every answer's status code, content type, body and headers as the schema says."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.response import Response
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import (
    JsonSchemaError,
    MissingHeaders,
    UndefinedContentType,
    UndefinedStatusCode,
)
from werkzeug.test import Client

from config.wsgi import application
from core.models import IdempotencyRecord
from tests.api.conformance import (
    ACTIVE,
    RESPONSE_CHECKS,
    load_schema,
    operations,
    run_conformance,
)

pytestmark = pytest.mark.django_db

# Fetched from the app itself at collection: one test per operation it documents.
OPERATIONS = operations(load_schema())
ADD = {"sku": ACTIVE, "quantity": 1}
BAD_TOKEN = {"Authorization": "Token not-a-token"}
IN_FLIGHT = timedelta(seconds=30)


def test_the_run_covers_every_operation():
    assert {operation.label for operation in OPERATIONS} == {
        "GET /api/products/",
        "GET /api/products/{sku}/",
        "GET /api/cart/",
        "POST /api/cart/items/",
        "PUT /api/cart/items/{sku}/",
        "DELETE /api/cart/items/{sku}/",
        "POST /api/cart/checkout/",
        "PUT /api/cart/contact/",
    }


@pytest.mark.parametrize("caller", ["anonymous_headers", "token_headers"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_every_answer_conforms_to_the_schema(operation, caller, request):
    statuses = run_conformance(operation, request.getfixturevalue(caller))

    # The run reached the operation itself, not only its refusals.
    success = 200 if operation.method.upper() == "GET" else 202
    if caller == "token_headers" or operation.method.upper() == "GET":
        assert statuses[success] > 0, statuses
    assert 400 in statuses or operation.label in ("GET /api/cart/", "GET /api/products/{sku}/")


# --- The answers generated requests rarely reach, each checked against its operation ------


def _big_body():
    return json.dumps({"sku": ACTIVE, "quantity": 1, "padding": "x" * 300_000})


# label: (operation, method, path, request keyword arguments, setup)
TARGETED = {
    "401 bad token": ("GET /api/cart/", "GET", "/api/cart/", {"headers": BAD_TOKEN}),
    "403 no CSRF token": ("POST /api/cart/items/", "POST", "/api/cart/items/", {"json": ADD}),
    "405 PATCH": ("POST /api/cart/items/", "PATCH", "/api/cart/items/", {"json": ADD}),
    "406 no JSON accepted": (
        "GET /api/products/",
        "GET",
        "/api/products/",
        {"headers": {"Accept": "text/html"}},
    ),
    "413 big body": (
        "POST /api/cart/items/",
        "POST",
        "/api/cart/items/",
        {"data": _big_body(), "content_type": "application/json"},
    ),
    "415 form body": (
        "PUT /api/cart/contact/",
        "PUT",
        "/api/cart/contact/",
        {"data": "consent=true", "content_type": "application/x-www-form-urlencoded"},
    ),
}


@pytest.mark.parametrize("target", TARGETED)
def test_targeted_answers_conform(target, anonymous_headers):
    label, method, path, kwargs = TARGETED[target]
    client = Client(application)
    if target.startswith("403"):
        client.set_cookie("sessionid", "a-session")

    response = client.open(path, method=method, **kwargs)

    assert response.status_code == int(target[:3])
    _operation(label).Case().validate_response(response, checks=RESPONSE_CHECKS)


def test_throttled_idempotency_and_server_errors_conform(token_headers, settings, monkeypatch):
    client = Client(application)
    operation = _operation("POST /api/cart/items/")

    def post(body, key):
        return client.post(
            "/api/cart/items/", json=body, headers={**token_headers, "Idempotency-Key": key}
        )

    answers = {202: post(ADD, "k1"), 422: post({**ADD, "quantity": 2}, "k1")}
    IdempotencyRecord.objects.update(status_code=None, locked_until=timezone.now() + IN_FLIGHT)
    answers[409] = post(ADD, "k1")
    settings.CART_ADD_THROTTLE_RATE = "1/min"
    post(ADD, "k2")
    answers[429] = post(ADD, "k3")
    settings.CART_ADD_THROTTLE_RATE = "100/min"
    monkeypatch.setattr("cart.api.cart_item_add_for_request", _crash)
    answers[500] = post(ADD, "k4")

    for status, response in answers.items():
        assert response.status_code == status, response.get_data()
        operation.Case().validate_response(response, checks=RESPONSE_CHECKS)


def _crash(**kwargs):
    raise RuntimeError("a bug")


def test_a_targeted_answer_off_the_schema_fails(anonymous_headers, monkeypatch):
    monkeypatch.setattr(
        "cart.api.CartDetailApi.get", lambda self, request: Response({"lines": "none"})
    )
    response = Client(application).get("/api/cart/")

    with pytest.raises(FailureGroup):
        _operation("GET /api/cart/").Case().validate_response(response, checks=RESPONSE_CHECKS)


# --- The run catches drift: an answer the schema does not describe fails it ---------------


def _operation(label):
    [operation] = [operation for operation in OPERATIONS if operation.label == label]
    return operation


def _product_answering(response):
    return lambda self, request, sku: response


DRIFTS = {
    "a status the schema lacks": (
        Response({"detail": "I'm a teapot"}, status=418),
        UndefinedStatusCode,
    ),
    "a body the schema does not describe": (
        Response({"sku": "FUZZ-1", "price": 2.5}),
        JsonSchemaError,
    ),
    "an error that is not a problem document": (
        Response({"detail": "Not found."}, status=404),
        UndefinedContentType,
    ),
}


@pytest.mark.parametrize("drift", DRIFTS)
def test_the_run_fails_on_drift(drift, anonymous_headers, monkeypatch):
    response, failure = DRIFTS[drift]
    monkeypatch.setattr("shop.api.ProductDetailApi.get", _product_answering(response))

    with pytest.raises(FailureGroup) as raised:
        run_conformance(_operation("GET /api/products/{sku}/"), anonymous_headers, examples=5)

    assert failure in {type(found) for found in raised.value.exceptions}


def test_the_run_fails_on_a_missing_header(token_headers, monkeypatch):
    """A 202 without its Location header."""
    monkeypatch.setattr(
        "cart.api.CartCheckoutApi.post", lambda self, request: Response({}, status=202)
    )

    with pytest.raises(FailureGroup) as raised:
        run_conformance(_operation("POST /api/cart/checkout/"), token_headers, examples=5)

    assert MissingHeaders in {type(found) for found in raised.value.exceptions}
