import pytest

pytestmark = pytest.mark.django_db


def test_catalog_lists_seeded_products(client, catalog):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Ethiopia Yirgacheffe" in response.content
    assert b'id="cart-badge"' in response.content


def test_product_page_has_add_to_cart_form(client, product):
    response = client.get(product.get_absolute_url())
    assert response.status_code == 200
    assert b'action="/cart/add/"' in response.content
    assert b"csrfmiddlewaretoken" in response.content
