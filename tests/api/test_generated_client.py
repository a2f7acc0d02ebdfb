"""A client generated from /api/schema/, as API clients make their SDKs, reads real answers:
the paginated product list, a product, the cart writes, and their problem details.

openapi-python-client generates the package (typed models per schema component, one module
per operation, parsing per documented status); it calls the app in-process through
httpx's WSGI transport, and raises on any status the schema does not document.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid

import httpx
import pytest
from django.test import Client as DjangoClient
from rest_framework.authtoken.models import Token

from config.wsgi import application

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def shop_client(tmp_path_factory, django_db_setup, django_db_blocker):
    """The package ``shop_client``, generated once per session from the served schema."""
    folder = tmp_path_factory.mktemp("generated-client")
    with django_db_blocker.unblock():
        schema = DjangoClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    (folder / "schema.json").write_text(json.dumps(schema))
    (folder / "config.json").write_text(json.dumps({"post_hooks": []}))  # no formatter run
    subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(folder / "schema.json"),
            "--config",
            str(folder / "config.json"),
            "--meta",
            "none",
            "--output-path",
            str(folder / "shop_client"),
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("shop_client")
    finally:
        sys.path.remove(str(folder))


@pytest.fixture
def client(shop_client, catalog, user, wsgi_keeps_the_test_transaction):
    return shop_client.AuthenticatedClient(
        base_url="http://testserver",
        token=Token.objects.create(user=user).key,
        prefix="Token",
        raise_on_unexpected_status=True,
        httpx_args={"transport": httpx.WSGITransport(app=application)},
    )


def test_it_reads_the_product_list_as_the_paginated_object_it_is(shop_client, client, catalog):
    from shop_client.api.catalog import list_products
    from shop_client.models import PaginatedProductList, Product

    page = list_products.sync(client=client)

    assert isinstance(page, PaginatedProductList)
    assert page.count == catalog.filter(active=True).count()
    assert page.next_ == "http://testserver/api/products/?page=2"
    assert page.previous is None
    assert len(page.results) == 12
    assert all(isinstance(product, Product) for product in page.results)
    last = list_products.sync(client=client, page=2)
    assert last.previous is not None
    assert {product.sku for product in page.results}.isdisjoint(
        product.sku for product in last.results
    )


def test_it_reads_a_product_and_a_not_found_problem(shop_client, client):
    from shop_client.api.catalog import get_product
    from shop_client.models import Problem, Product

    product = get_product.sync(client=client, sku="COF-001")
    assert isinstance(product, Product)
    assert (product.name, product.price) == ("Ethiopia Yirgacheffe", "14.50")

    missing = get_product.sync_detailed(client=client, sku="NOPE-1")
    assert missing.status_code == 404
    assert isinstance(missing.parsed, Problem)
    assert missing.parsed.detail == "No Product matches the given query."
    assert missing.parsed.request_id == missing.headers["X-Request-ID"]


def test_it_adds_to_the_cart_retries_safely_and_reads_field_errors(shop_client, client):
    from shop_client.api.cart import add_cart_item, get_cart
    from shop_client.models import Accepted, Cart, CartItemAddInputRequest, ValidationProblem

    body = CartItemAddInputRequest(sku="COF-001", quantity=2)
    key = str(uuid.uuid4())

    accepted = add_cart_item.sync_detailed(client=client, body=body, idempotency_key=key)
    retried = add_cart_item.sync_detailed(client=client, body=body, idempotency_key=key)

    assert accepted.status_code == 202
    assert isinstance(accepted.parsed, Accepted)
    assert accepted.headers["Location"] == "/api/cart/"
    assert retried.parsed.event_id == accepted.parsed.event_id
    cart = get_cart.sync(client=client)
    assert isinstance(cart, Cart)
    assert str(cart.cart_id) == str(accepted.parsed.cart_id)

    refused = add_cart_item.sync_detailed(
        client=client, body=CartItemAddInputRequest(sku="COF-001", quantity=11)
    )
    assert refused.status_code == 400
    assert isinstance(refused.parsed, ValidationProblem)
    [error] = refused.parsed.errors
    assert (error.attr, error.code) == ("quantity", "max_value")
