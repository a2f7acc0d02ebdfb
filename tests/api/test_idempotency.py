"""Idempotent retries: a cart write sent again with the same Idempotency-Key gets the first
answer, and nothing happens twice (core.idempotency)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cart.models import Cart
from core.idempotency import idempotency_records_prune
from core.models import IdempotencyRecord
from eventbus.models import OutboxEvent
from tests.problems import field_errors, problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def add(client, key, body=None, **extra):
    return client.post(
        "/api/cart/items/",
        body or {"sku": "COF-001", "quantity": 2},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
        **extra,
    )


def test_the_same_add_sent_twice_is_one_event_and_the_same_202(token_client, product):
    key = str(uuid.uuid4())

    first = add(token_client, key)
    retry = add(token_client, key)

    assert first.status_code == retry.status_code == 202
    assert retry.content == first.content
    assert retry["Location"] == first["Location"] == "/api/cart/"
    assert retry["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    [event] = OutboxEvent.objects.all()
    assert str(event.pk) == first.json()["event_id"] == retry.json()["event_id"]


def test_the_same_key_with_another_body_is_a_422_problem(token_client, product, settings):
    key = str(uuid.uuid4())
    add(token_client, key)

    response = add(token_client, key, {"sku": "COF-001", "quantity": 3})

    body = problem(response, 422)
    assert body["type"] == f"{settings.SITE_URL}/api/problems/idempotency-key-reused/"
    assert body["code"] == "idempotency_key_reused"
    assert OutboxEvent.objects.count() == 1


def test_the_same_key_on_another_operation_is_a_422_problem(token_client, product):
    key = str(uuid.uuid4())
    add(token_client, key)

    response = token_client.post("/api/cart/checkout/", HTTP_IDEMPOTENCY_KEY=key)

    assert problem(response, 422)["code"] == "idempotency_key_reused"
    assert not OutboxEvent.objects.filter(detail_type="CartCheckedOut").exists()


def test_the_draft_quoted_form_and_the_bare_form_are_one_key(token_client, product):
    first = add(token_client, '"order-42"')
    assert add(token_client, "order-42").json()["event_id"] == first.json()["event_id"]


@pytest.mark.parametrize(
    ("method", "path", "body", "event"),
    [
        ("put", "/api/cart/items/COF-001/", {"quantity": 4}, "CartItemQuantityChanged"),
        ("delete", "/api/cart/items/COF-001/", None, "CartItemRemoved"),
        ("post", "/api/cart/checkout/", None, "CartCheckedOut"),
        ("put", "/api/cart/contact/", {"consent": True}, "CartContactChanged"),
    ],
)
def test_every_cart_write_replays_its_first_answer(
    token_client, product, deliver, method, path, body, event
):
    add(token_client, str(uuid.uuid4()))
    deliver()
    key = str(uuid.uuid4())
    send = getattr(token_client, method)

    first = send(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    retry = send(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == 202, first.content
    assert retry.status_code == 202
    assert retry.json() == first.json()
    assert OutboxEvent.objects.filter(detail_type=event).count() == 1


def test_a_retried_checkout_answers_the_first_order(token_client, product, deliver):
    add(token_client, str(uuid.uuid4()))
    deliver()
    key = str(uuid.uuid4())

    first = token_client.post("/api/cart/checkout/", HTTP_IDEMPOTENCY_KEY=key)
    deliver()
    retry = token_client.post("/api/cart/checkout/", HTTP_IDEMPOTENCY_KEY=key)

    assert retry.json()["order_id"] == first.json()["order_id"]
    # Without the key the cart is gone: a second checkout is refused, not a second order.
    assert token_client.post("/api/cart/checkout/").status_code == 400


def test_keys_belong_to_their_caller(product, user, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", password="x")
    alice_client, bob_client = APIClient(), APIClient()
    alice_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    bob_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bob).key}")

    alice = add(alice_client, "shared-key")
    bob_answer = add(bob_client, "shared-key")

    assert bob_answer.status_code == 202
    assert bob_answer.json()["event_id"] != alice.json()["event_id"]
    assert bob_answer.json()["cart_id"] != alice.json()["cart_id"]
    assert not bob_answer.has_header("Idempotent-Replayed")
    assert OutboxEvent.objects.count() == 2


def test_a_guest_session_scopes_its_keys(api_client, product):
    api_client.post("/api/cart/items/", {"sku": "TEA-002"}, format="json")  # the session
    first = add(api_client, "guest-key")

    assert add(api_client, "guest-key").json() == first.json()
    stranger = add(APIClient(), "guest-key")  # no session: nothing to scope the key to
    assert list(field_errors(stranger)) == ["Idempotency-Key"]
    assert "session cookie" in stranger.json()["detail"]
    assert OutboxEvent.objects.filter(detail_type="ItemAddedToCart").count() == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "two words", '"unbalanced', "tab\there"])
def test_a_key_that_is_not_one_is_a_400(token_client, product, key):
    response = add(token_client, key)

    assert list(field_errors(response)) == ["Idempotency-Key"]
    assert not OutboxEvent.objects.exists()
    assert not IdempotencyRecord.objects.exists()


def test_a_refused_request_is_not_remembered(token_client, product):
    product.stock = 1
    product.save()
    key = str(uuid.uuid4())
    assert add(token_client, key).status_code == 400  # two wanted, one in stock

    product.stock = 5
    product.save()
    retry = add(token_client, key)

    assert retry.status_code == 202
    assert not retry.has_header("Idempotent-Replayed")
    assert OutboxEvent.objects.count() == 1


def test_the_answer_is_kept_for_the_configured_window(token_client, product, settings):
    settings.IDEMPOTENCY_KEY_TTL = timedelta(minutes=10)
    key = str(uuid.uuid4())
    first = add(token_client, key)
    record = IdempotencyRecord.objects.get()
    assert record.expires_at - record.created_at == timedelta(minutes=10)

    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = add(token_client, key, {"sku": "COF-001", "quantity": 1})  # a new request now

    assert again.status_code == 202
    assert again.json()["event_id"] != first.json()["event_id"]
    assert OutboxEvent.objects.count() == 2


def test_a_duplicate_while_the_first_runs_is_a_409(token_client, product, user):
    key = str(uuid.uuid4())
    add(token_client, key)
    # As if the first request were still running: its claim is held, no answer stored.
    IdempotencyRecord.objects.update(
        status_code=None, locked_until=timezone.now() + timedelta(seconds=30)
    )

    response = add(token_client, key)

    assert problem(response, 409)["code"] == "idempotency_key_in_use"
    assert response["Retry-After"] == "1"
    assert OutboxEvent.objects.count() == 1


def test_a_claim_left_by_a_dead_request_is_taken_over(token_client, product):
    key = str(uuid.uuid4())
    add(token_client, key)
    OutboxEvent.objects.all().delete()  # the dead request committed nothing
    IdempotencyRecord.objects.update(
        status_code=None, locked_until=timezone.now() - timedelta(seconds=1)
    )

    response = add(token_client, key)

    assert response.status_code == 202
    assert OutboxEvent.objects.count() == 1
    assert IdempotencyRecord.objects.get().status_code == 202


def test_a_request_whose_claim_was_taken_over_commits_nothing(token_client, product, monkeypatch):
    """Outliving IN_PROGRESS_TIMEOUT lets a retry take the key; the slow first request must
    then roll back instead of committing a second event."""
    from cart import services

    real_add = services.cart_item_add_for_request

    def slow_add(**kwargs):
        accepted = real_add(**kwargs)
        IdempotencyRecord.objects.update(claim=uuid.uuid4())  # a retry took the key over
        return accepted

    monkeypatch.setattr("cart.api.cart_item_add_for_request", slow_add)

    response = add(token_client, str(uuid.uuid4()))

    assert problem(response, 409)["code"] == "idempotency_key_in_use"
    assert not OutboxEvent.objects.exists()
    assert not Cart.objects.exists()


def test_pruning_deletes_only_what_the_window_let_go(token_client, product):
    add(token_client, "old")
    add(token_client, "new", {"sku": "COF-001", "quantity": 1})
    IdempotencyRecord.objects.filter(key="old").update(expires_at=timezone.now())

    assert idempotency_records_prune() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert (
        django_settings.CELERY_BEAT_SCHEDULE["core-prune-idempotency-records"]["task"]
        == "core.prune_idempotency_records"
    )


def test_without_the_header_nothing_is_stored(token_client, product):
    token_client.post("/api/cart/items/", {"sku": "COF-001"}, format="json")
    token_client.post("/api/cart/items/", {"sku": "COF-001"}, format="json")
    assert OutboxEvent.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()
