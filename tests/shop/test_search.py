"""Catalog search and sort, through the selector, the page and the API.

The suite runs on the configured database (PostgreSQL in CI: full-text search with
ranking); ``test_search_on_the_other_database`` runs this module again on SQLite (the
plain case-insensitive match), so both are checked in one run. Tests named
``test_postgres_*`` are about full-text behaviour that only PostgreSQL has.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from shop.models import Category, Product
from shop.selectors import ProductSort, product_list
from tests.integration.conftest import require_postgres  # noqa: F401 (a fixture)
from tests.problems import field_errors

pytestmark = pytest.mark.django_db

ON_POSTGRES = connection.vendor == "postgresql"


def _names(products) -> list[str]:
    return [product.name for product in products]


def _page_names(response) -> list[str]:
    return re.findall(r'<span class="product-name">([^<]+)</span>', response.content.decode())


# --- matching -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("yirga", "Ethiopia Yirgacheffe"),  # the start of a word in the name
        ("YIRGACHEFFE", "Ethiopia Yirgacheffe"),  # any case
        ("grind", "Hand Grinder"),
        ("bergam", "Earl Grey Blue Flower"),  # the start of a word in the description
    ],
)
def test_a_partial_word_finds_the_product(catalog, query, expected):
    assert expected in _names(product_list(query=query))


def test_every_word_must_match(catalog):
    # "Dark Chocolate 72%" by name, the espresso blend by its "Dark chocolate crema";
    # Brazil Cerrado's chocolate is not dark.
    assert set(_names(product_list(query="dark choc"))) == {
        "Dark Chocolate 72%",
        "House Espresso Blend",
    }


def test_search_keeps_to_the_category_and_active_products(catalog):
    assert _names(product_list(query="espresso", category_slug="mugs-and-cups")) == [
        "Espresso Cup Pair"
    ]
    Product.objects.filter(sku="MUG-003").update(active=False)
    assert _names(product_list(query="espresso")) == ["House Espresso Blend"]


def test_a_name_match_ranks_above_a_description_match(catalog):
    # "Dark Chocolate 72%" has the word in its name; Brazil Cerrado and the espresso blend
    # only in their descriptions. Catalog order alone would put the coffees first.
    names = _names(product_list(query="chocolate"))
    assert names[0] == "Dark Chocolate 72%"
    assert set(names[1:]) == {"Brazil Cerrado", "House Espresso Blend"}


@pytest.mark.parametrize("query", ["", "   ", "!!!", "&|:*()'", "%", "_"])
def test_a_query_without_words_lists_the_catalog(catalog, query):
    assert product_list(query=query).count() == 28


@pytest.mark.parametrize("query", ["tea & !coffee", "a:* | b", "'); drop table x; --", "é ß 茶"])
def test_query_syntax_is_only_text(client, catalog, query):
    assert client.get("/", {"q": query}).status_code == 200
    assert client.get("/api/products/", {"q": query}).status_code == 200


@pytest.mark.usefixtures("require_postgres")
def test_postgres_words_are_matched_in_the_shops_language(catalog):
    # English stemming: "grinders" finds "Hand Grinder", "mugs" finds "Stoneware Mug".
    assert _names(product_list(query="grinders")) == ["Hand Grinder"]
    assert "Stoneware Mug" in _names(product_list(query="mugs"))


@pytest.mark.usefixtures("require_postgres")
def test_postgres_a_half_typed_word_matches_whatever_the_stemmer_makes_of_it(catalog):
    # English stems "running" to "run", which the prefix "runn" would miss.
    Product.objects.create(
        sku="RUN-001",
        slug="trail-flask",
        name="Trail Flask",
        description="For running with coffee.",
        category=Category.objects.get(slug="mugs-and-cups"),
        price=Decimal("20.00"),
    )
    assert _names(product_list(query="runn")) == ["Trail Flask"]


@pytest.mark.usefixtures("require_postgres")
def test_postgres_ranking_weighs_how_well_the_text_matches(catalog):
    # Both have "caramel" in the description; only "Salted Caramels" also has it in the
    # name, and ts_rank puts it first even though "Colombia Huila" sorts earlier by name.
    names = _names(product_list(query="caramel"))
    assert names[0] == "Salted Caramels"
    assert {"Colombia Huila", "Stroopwafels"} <= set(names)


# --- sorting ------------------------------------------------------------------------------


def test_sort_by_price_both_ways(catalog):
    ascending = list(product_list(sort=ProductSort.PRICE))
    assert [p.price for p in ascending] == sorted(p.price for p in ascending)
    assert ascending[0].name == "Oat Cookies"
    descending = list(product_list(sort="-price"))
    assert [p.price for p in descending] == sorted((p.price for p in descending), reverse=True)
    assert descending[0].name == "Hand Grinder"


def test_sort_by_name(catalog):
    names = _names(product_list(sort="name"))
    assert names == sorted(names)
    assert names[0] == "Almond Biscotti"


def test_sort_by_newest(catalog):
    now = timezone.now()
    for days, sku in enumerate(["TEA-003", "GEAR-002", "SNK-001"]):
        Product.objects.filter(sku=sku).update(created_at=now + timedelta(days=10 - days))
    assert _names(product_list(sort="newest"))[:3] == [
        "Darjeeling First Flush",
        "Gooseneck Kettle",
        "Almond Biscotti",
    ]


def test_sort_applies_to_search_results(catalog):
    assert _names(product_list(query="chocolate", sort="price")) == [
        "Dark Chocolate 72%",
        "Brazil Cerrado",
        "House Espresso Blend",
    ]


# --- the page -----------------------------------------------------------------------------


def test_search_page_lists_matches_and_keeps_the_query(client, catalog):
    response = client.get("/", {"q": "yirga"})
    assert response.status_code == 200
    assert _page_names(response) == ["Ethiopia Yirgacheffe"]
    html = response.content.decode()
    assert "Results for “yirga”" in html
    assert 'name="q" value="yirga"' in html  # the header's search box shows the query


def test_every_page_has_the_search_box(client, catalog, product):
    for url in ["/", product.get_absolute_url(), "/cart/", "/accounts/login/"]:
        html = client.get(url).content.decode()
        assert 'role="search"' in html, url
        assert 'type="search" name="q"' in html, url


def test_empty_result_suggests_the_categories(client, catalog):
    response = client.get("/", {"q": "xylophone"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "No products match “xylophone”" in html
    for slug in ["coffee", "tea", "brewing-gear", "mugs-and-cups", "snacks"]:
        assert f'href="/?category={slug}"' in html
    assert _page_names(response) == []


def test_page_sorts_and_falls_back_to_the_default_for_an_unknown_order(client, catalog):
    by_price = _page_names(client.get("/", {"sort": "-price"}))
    assert by_price[:2] == ["Hand Grinder", "Gooseneck Kettle"]
    assert 'value="-price" selected' in client.get("/", {"sort": "-price"}).content.decode()
    fallback = client.get("/", {"sort": "cheapest-first"})
    assert fallback.status_code == 200
    assert _page_names(fallback) == _page_names(client.get("/"))


def test_page_links_keep_search_sort_and_category(client, catalog):
    html = client.get("/", {"q": "a", "sort": "name"}).content.decode()
    assert 'href="?q=a&amp;sort=name&amp;page=2"' in html
    assert 'href="?q=a&amp;sort=name&amp;category=tea"' in html


def test_a_long_query_is_cut_on_the_page(client, catalog):
    assert client.get("/", {"q": "tea " * 200}).status_code == 200


# --- the API ------------------------------------------------------------------------------


def test_api_searches_and_sorts(client, catalog):
    body = client.get("/api/products/", {"q": "yirga"}).json()
    assert [item["sku"] for item in body["results"]] == ["COF-001"]
    body = client.get("/api/products/", {"sort": "price", "category": "tea"}).json()
    prices = [Decimal(item["price"]) for item in body["results"]]
    assert prices == sorted(prices) and len(prices) == 6
    cheapest = client.get("/api/products/", {"sort": "price"}).json()
    assert cheapest["count"] == 28
    assert cheapest["results"][0]["sku"] == "SNK-005"
    page_two = client.get("/api/products/", {"sort": "price", "page": 2}).json()
    assert Decimal(page_two["results"][0]["price"]) >= Decimal(cheapest["results"][-1]["price"])


def test_api_empty_result(client, catalog):
    body = client.get("/api/products/", {"q": "xylophone"}).json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize(
    ("params", "field"), [({"sort": "cheapest"}, "sort"), ({"q": "x" * 101}, "q")]
)
def test_api_refuses_an_unknown_sort_or_a_too_long_query(client, catalog, params, field):
    response = client.get("/api/products/", params)
    assert field in field_errors(response)


def test_api_schema_documents_q_and_sort(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/products/"]["get"]["parameters"]}
    assert parameters["q"]["in"] == "query"
    assert parameters["q"]["schema"]["maxLength"] == 100
    assert "partial words" in parameters["q"]["description"]
    assert set(parameters["sort"]["schema"]["enum"]) == {"price", "-price", "name", "newest"}
    assert {"category", "page"} <= set(parameters)


# --- the other database -------------------------------------------------------------------


@pytest.mark.skipif(
    os.environ.get("SEARCH_TESTS_NESTED") == "1", reason="already the run on the other database"
)
def test_search_on_the_other_database(tmp_path):
    """On PostgreSQL, run this module again on SQLite (the plain match); on SQLite the
    PostgreSQL tests above need DATABASE_URL (they fail under CI, skip elsewhere)."""
    if not ON_POSTGRES:
        pytest.skip("this run is the SQLite run; PostgreSQL needs DATABASE_URL")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'search.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
        "SEARCH_TESTS_NESTED": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
         "--create-db", "-k", "not postgres and not other_database"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 30 and "failed" not in summary and "skipped" not in summary, summary
