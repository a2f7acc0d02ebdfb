"""The cart pages' forms: the same services as the API, refusals shown as messages."""

import pytest
from django.contrib.messages import get_messages

from cart.models import Cart
from cart.selectors import SESSION_KEY
from eventbus.models import OutboxEvent

pytestmark = pytest.mark.django_db


def test_a_refused_add_through_the_form_leaves_no_cart_behind(client, product):
    product.stock = 2
    product.save()

    response = client.post("/cart/add/", {"sku": product.sku, "quantity": 3})

    assert response.status_code == 302
    assert "At most 2" in " ".join(str(item) for item in get_messages(response.wsgi_request))
    assert not Cart.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert SESSION_KEY not in client.session


def test_an_add_through_the_form_binds_the_new_cart_to_the_session(client, product):
    response = client.post("/cart/add/", {"sku": product.sku, "quantity": 1})

    assert response.status_code == 302
    cart = Cart.objects.get()
    assert client.session[SESSION_KEY] == str(cart.pk)
    assert OutboxEvent.objects.get().detail_type == "ItemAddedToCart"


def test_the_page_and_the_api_show_the_same_cart(client, catalog, deliver):
    client.post("/cart/add/", {"sku": "COF-001", "quantity": 2})
    client.post("/cart/add/", {"sku": "COF-002", "quantity": 1})
    deliver()

    page = client.get("/cart/")
    api = client.get("/api/cart/").json()

    summary = page.context["summary"]
    assert [line.sku for line in summary.lines] == [line["sku"] for line in api["lines"]]
    assert f"{summary.total:.2f}" == api["total"]
    assert summary.item_count == api["item_count"] == 3
    assert f"{api['total']} EUR" in page.content.decode()
