"""The conformance run over every operation of /api/schema/, for an anonymous caller and for
a token-authenticated one whose cart already has lines (tests/api/conformance.py): no 5xx,
and every answer's status code, content type, body and headers as the schema says."""

from __future__ import annotations

import pytest
from rest_framework.response import Response
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import (
    JsonSchemaError,
    MissingHeaders,
    UndefinedContentType,
    UndefinedStatusCode,
)

from tests.api.conformance import load_schema, operations, run_conformance

pytestmark = pytest.mark.django_db

# Fetched from the app itself at collection: one test per operation it documents.
OPERATIONS = operations(load_schema())


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
    run_conformance(operation, request.getfixturevalue(caller))


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
