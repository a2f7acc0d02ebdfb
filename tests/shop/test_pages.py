"""The catalog pages and API: render, paginate, filter, and never 500 on bad parameters."""

import pytest

from tests.problems import problem

pytestmark = pytest.mark.django_db


def test_catalog_lists_seeded_products(client, catalog):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Ethiopia Yirgacheffe" in response.content
    assert b'id="cart-badge"' in response.content
    assert b"Page 1 of 3" in response.content  # 28 products, 12 a page


def test_category_filter_shows_only_that_category(client, catalog):
    response = client.get("/?category=tea")
    assert response.status_code == 200
    assert b"Sencha Asamushi" in response.content
    assert b"Ethiopia Yirgacheffe" not in response.content


def test_second_page(client, catalog):
    response = client.get("/?page=2")
    assert response.status_code == 200
    assert b"Page 2 of 3" in response.content


def test_product_page_has_add_to_cart_form(client, product):
    response = client.get(product.get_absolute_url())
    assert response.status_code == 200
    assert b'action="/cart/add/"' in response.content
    assert b"csrfmiddlewaretoken" in response.content
    assert b"14.50 EUR" in response.content


def test_inactive_product_page_is_404(client, product):
    product.active = False
    product.save()
    assert client.get(product.get_absolute_url()).status_code == 404


@pytest.mark.parametrize(
    "url", ["/cart/", "/api/docs/", "/api/schema/", "/admin/login/", "/healthz"]
)
def test_other_pages_render(client, catalog, url):
    assert client.get(url).status_code == 200


def test_unknown_slug_gives_the_404_page(client, catalog):
    response = client.get("/products/no-such-thing/")
    assert response.status_code == 404
    assert b"Not found" in response.content
    assert b"Back to the catalog" in response.content


@pytest.mark.parametrize(
    "query", ["?page=abc", "?page=99999", "?page=0", "?page=-1", "?category=nope", "?page=1e9"]
)
def test_bad_query_parameters_give_404_never_500(client, catalog, query):
    assert client.get(f"/{query}").status_code == 404


def test_api_product_list_is_paginated_and_filtered(client, catalog):
    body = client.get("/api/products/").json()
    assert body["count"] == 28
    assert len(body["results"]) == 12
    assert body["next"].endswith("/api/products/?page=2")
    tea = client.get("/api/products/?category=tea").json()
    assert tea["count"] == 6
    assert {item["category"] for item in tea["results"]} == {"tea"}


def test_api_product_detail(client, catalog):
    body = client.get("/api/products/COF-001/").json()
    assert body["name"] == "Ethiopia Yirgacheffe"
    assert body["price"] == "14.50"
    assert body["image"].endswith("/media/products/cof-001.png")


def test_api_unknown_sku_is_404_json(client, catalog):
    response = client.get("/api/products/NOPE-1/")
    assert problem(response, 404)["detail"] == "No Product matches the given query."


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?page=abc", 404),
        ("?page=", 404),  # the schema's page is an integer; DRF alone reads blank as 1
        ("?page=99999", 404),
        ("?category=nope", 200),
        ("?category=a%20b", 400),
    ],
)
def test_api_bad_query_parameters(client, catalog, query, status):
    response = client.get(f"/api/products/{query}")
    assert response.status_code == status
    if status == 200:
        assert response.json()["results"] == []
