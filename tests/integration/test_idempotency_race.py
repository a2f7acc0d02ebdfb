"""Duplicates of one Idempotency-Key at the same moment, on PostgreSQL with real
concurrent transactions: one runs, none runs twice."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from eventbus.models import OutboxEvent
from tests.conftest import MEMORY_BUS

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def token(settings, require_postgres, catalog, user) -> str:
    settings.EVENT_BUS = MEMORY_BUS  # events stay in this process
    return Token.objects.create(user=user).key


def post_add(token: str, key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    try:
        return client.post(
            "/api/cart/items/",
            {"sku": "COF-001", "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
    finally:
        connection.close()


def run_together(count: int, target) -> list:
    start = threading.Barrier(count)
    answers: list = [None] * count

    def worker(index: int) -> None:
        start.wait()
        answers[index] = target()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def test_duplicates_sent_at_once_make_one_event(token):
    key = str(uuid.uuid4())

    answers = run_together(6, lambda: post_add(token, key))

    assert OutboxEvent.objects.count() == 1
    event_id = str(OutboxEvent.objects.get().pk)
    for answer in answers:
        assert answer.status_code in (202, 409), answer.content
        if answer.status_code == 202:
            assert answer.json()["event_id"] == event_id
        else:
            assert answer["Content-Type"] == "application/problem+json"
    # Once the first has finished, every retry gets its answer.
    assert post_add(token, key).json()["event_id"] == event_id


def test_a_duplicate_while_the_first_is_running_is_told_to_retry(token, monkeypatch):
    """The first request is held inside its transaction until the duplicate has answered."""
    from cart import api

    first_inside, duplicate_answered = threading.Event(), threading.Event()
    real_add = api.cart_item_add_for_request

    def held_add(**kwargs):
        accepted = real_add(**kwargs)
        first_inside.set()
        assert duplicate_answered.wait(timeout=10)
        return accepted

    # Only the first request reaches the service: the others are answered before it.
    monkeypatch.setattr(api, "cart_item_add_for_request", held_add)
    key = str(uuid.uuid4())
    first: list = []
    thread = threading.Thread(target=lambda: first.append(post_add(token, key)))
    thread.start()
    assert first_inside.wait(timeout=10)

    duplicate = post_add(token, key)
    duplicate_answered.set()
    thread.join(timeout=30)

    assert duplicate.status_code == 409
    assert duplicate["Retry-After"] == "1"
    assert first[0].status_code == 202
    assert OutboxEvent.objects.count() == 1
    assert post_add(token, key).json() == first[0].json()
