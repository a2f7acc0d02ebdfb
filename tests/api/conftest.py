"""Fixtures of the API tests that call the WSGI app directly (the conformance run, the
generated client)."""

from __future__ import annotations

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from tests.api.conformance import ACTIVE, INACTIVE, SOLD_OUT


@pytest.fixture
def wsgi_keeps_the_test_transaction():
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
def anonymous_headers(small_catalog, wsgi_keeps_the_test_transaction) -> dict[str, str]:
    return {}


@pytest.fixture
def token_headers(small_catalog, wsgi_keeps_the_test_transaction, user, deliver) -> dict[str, str]:
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
