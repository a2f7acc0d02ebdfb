"""Property-based run over the OpenAPI schema served at /api/schema/: whatever the input,
no endpoint answers 5xx, for an anonymous caller and for a token-authenticated one whose
cart already has lines. Requests go in-process through the WSGI app, on the in-memory bus.

Schemathesis generates the cases (data that fits the schema, data that does not, and
fitting data around the catalog's real SKUs, so requests get past "unknown product");
Hypothesis drives them, one test per operation and caller.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from config.wsgi import application

pytestmark = pytest.mark.django_db

# Bounded so the suite stays fast; SCHEMA_FUZZ_EXAMPLES=500 for a deeper run by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "40"))
ACTIVE, INACTIVE, SOLD_OUT = "FUZZ-1", "FUZZ-2", "FUZZ-3"
SKUS = [ACTIVE, INACTIVE, SOLD_OUT, "NOPE-404"]

# Fetched from the app itself at collection: one test per operation it documents.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


def cases_for(operation) -> st.SearchStrategy:
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    if "{sku}" in operation.path:
        strategies.append(
            st.sampled_from(SKUS).flatmap(
                lambda sku: operation.as_strategy(path_parameters={"sku": sku})
            )
        )
    if operation.method.upper() == "POST" and operation.path.endswith("/cart/items/"):
        strategies.append(
            st.tuples(st.sampled_from(SKUS), st.integers(-2, 12)).flatmap(
                lambda pair: operation.as_strategy(body={"sku": pair[0], "quantity": pair[1]})
            )
        )
    return st.one_of(strategies)


@pytest.fixture(autouse=True)
def _app_keeps_the_test_transaction():
    """Called as a bare WSGI app, Django closes the database connection after each request,
    and with it the test's transaction; Django's test client unhooks the same handlers."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def small_catalog(db):
    from shop.models import Category, Product

    category = Category.objects.create(name="Fuzz", slug="fuzz")
    for sku, active, stock in [(ACTIVE, True, 5), (INACTIVE, False, 5), (SOLD_OUT, True, 0)]:
        Product.objects.create(
            sku=sku,
            slug=sku.lower(),
            name=sku,
            category=category,
            price="2.50",
            stock=stock,
            active=active,
        )


@pytest.fixture
def anonymous_headers(small_catalog) -> dict[str, str]:
    return {}


@pytest.fixture
def token_headers(small_catalog, user, deliver) -> dict[str, str]:
    """A user with a token and a cart that has a line, so cart writes reach real state."""
    from rest_framework.authtoken.models import Token

    from cart.models import Cart
    from cart.services import cart_item_add
    from shop.models import Product

    cart_item_add(
        cart=Cart.objects.create(user=user), product=Product.objects.get(sku=ACTIVE), quantity=1
    )
    deliver()
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


@pytest.mark.parametrize("caller", ["anonymous_headers", "token_headers"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_input_makes_a_server_error(operation, caller, request):
    headers = request.getfixturevalue(caller)

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,  # no .hypothesis/ folder in the work tree
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases_for(operation))
    def no_server_error(case):
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    no_server_error()
