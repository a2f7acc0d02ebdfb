"""The lean accept: commands are checked against the cart's accepted state (not the lagging
projection), in as few statements as the database allows."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from rest_framework.test import APIClient

from cart.models import Cart, CartLine
from eventbus.models import OutboxEvent
from tests.integration.conftest import check_postgres

pytestmark = pytest.mark.django_db


def add(client, sku="COF-001", quantity=1):
    return client.post("/api/cart/items/", {"sku": sku, "quantity": quantity}, format="json")


def accept_statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements of one request's transaction: exactly one, committed once."""
    statements = [query["sql"] for query in queries.captured_queries]
    # "BEGIN IMMEDIATE" on SQLite (the write lock taken up front)
    assert statements[0].startswith("BEGIN") and statements[-1] == "COMMIT", statements
    assert statements.count("COMMIT") == 1, statements
    return statements[1:-1]


@pytest.fixture
def no_relay_after_commit(settings):
    """The relay runs on a thread of its own in production: not part of the request."""
    settings.EVENT_BUS = {**settings.EVENT_BUS, "RELAY_AFTER_COMMIT": "off"}


def test_adds_are_checked_against_what_was_accepted_not_what_was_applied(api_client, catalog):
    # No consumer runs: the projection shows nothing, the accepted state knows 8.
    assert add(api_client, quantity=8).status_code == 202
    response = add(api_client, quantity=3)
    assert response.status_code == 400
    assert "you can add 2 more" in response.content.decode()
    assert add(api_client, quantity=2).status_code == 202
    assert Cart.objects.get().accepted_lines == {"COF-001": 10}
    assert not CartLine.objects.exists()


@override_settings(CART_MAX_LINES=2)
def test_the_line_cap_counts_accepted_lines(api_client, catalog):
    assert add(api_client, sku="COF-001").status_code == 202
    assert add(api_client, sku="COF-002").status_code == 202
    response = add(api_client, sku="COF-003")
    assert response.status_code == 400
    assert "at most 2 lines" in response.content.decode()
    # A removed line frees its place at once, applied or not.
    assert api_client.delete("/api/cart/items/COF-001/").status_code == 202
    assert add(api_client, sku="COF-003").status_code == 202
    assert Cart.objects.get().accepted_lines == {"COF-002": 1, "COF-003": 1}


# Real transactions: inside a test's transaction a request's BEGIN/COMMIT would show as a
# SAVEPOINT/RELEASE pair.
@pytest.mark.django_db(transaction=True)
def test_a_returning_guests_add_is_three_statements_and_the_commit(
    api_client, catalog, no_relay_after_commit
):
    add(api_client)  # the first add creates the cart and the session
    with CaptureQueriesContext(connection) as queries:
        response = add(api_client)
    assert response.status_code == 202
    statements = accept_statements(queries)
    assert len(statements) == 3, statements
    # The cart, locked, with what the checks need (SQLite locks the database at BEGIN).
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in statements[0]
    assert statements[1].startswith('UPDATE "cart_cart"')
    assert statements[2].startswith('INSERT INTO "eventbus_outboxevent"')


@pytest.mark.django_db(transaction=True)
def test_the_other_commands_are_as_lean(api_client, catalog, no_relay_after_commit):
    add(api_client)
    add(api_client, sku="COF-002")
    for method, url, payload, statements in [
        ("put", "/api/cart/items/COF-001/", {"quantity": 3}, 3),
        ("delete", "/api/cart/items/COF-002/", None, 3),
        # And the cart's discount code, locked: a code is redeemed by one checkout only.
        ("post", "/api/cart/checkout/", None, 4),
    ]:
        with CaptureQueriesContext(connection) as queries:
            response = getattr(api_client, method)(url, payload, format="json")
        assert response.status_code == 202, response.content
        assert len(accept_statements(queries)) == statements


def test_a_product_change_is_seen_by_the_next_add(api_client, catalog, product):
    assert add(api_client).status_code == 202  # the product is cached now
    product.stock = 1
    product.save()
    response = add(api_client)
    assert response.status_code == 400
    assert "At most 1" in response.content.decode()


@pytest.mark.django_db(transaction=True)
@override_settings(CART_MAX_QUANTITY=10)
def test_two_concurrent_adds_past_the_cap_one_is_refused_and_the_cart_ends_at_the_cap(
    catalog, user, deliver
):
    """Both adds start together; the cart's row lock orders them, and the second is checked
    against the first's accepted state: no silent clamp later."""
    from rest_framework.authtoken.models import Token

    check_postgres()  # real row locks between two connections
    token = Token.objects.create(user=user).key
    first = APIClient()
    first.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert add(first, quantity=4).status_code == 202
    start = threading.Barrier(2)
    answers: list[int] = []

    def add_six() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        start.wait()
        answers.append(add(client, quantity=6).status_code)
        connection.close()

    threads = [threading.Thread(target=add_six) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [202, 400]
    assert OutboxEvent.objects.filter(detail_type="ItemAddedToCart").count() == 2
    deliver()
    cart = Cart.objects.get()
    assert cart.accepted_lines == {"COF-001": 10}
    assert list(CartLine.objects.values_list("sku", "quantity")) == [("COF-001", 10)]
