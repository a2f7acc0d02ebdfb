"""Catalog reads shared by the pages and the API."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.db.models import QuerySet

from shop.models import SKU_CHARACTERS, Category, Product
from shop.search import products_matching, search_terms


class ProductSort(models.TextChoices):
    """The orders a shopper can ask for (``?sort=``); without one: best match, else catalog."""

    PRICE = "price", "Price: low to high"
    PRICE_DESCENDING = "-price", "Price: high to low"
    NAME = "name", "Name"
    NEWEST = "newest", "Newest"


# Each ends in a unique column, so pages never overlap or skip a product.
_ORDER_BY = {
    ProductSort.PRICE: ("price", "name", "pk"),
    ProductSort.PRICE_DESCENDING: ("-price", "name", "pk"),
    ProductSort.NAME: ("name", "pk"),
    ProductSort.NEWEST: ("-created_at", "-pk"),
}
_CATALOG_ORDER = ("category__position", "name", "pk")


def product_list(
    *,
    category_slug: str | None = None,
    query: str = "",
    sort: ProductSort | str | None = None,
) -> QuerySet[Product]:
    """Active products, optionally in one category (an unknown category gives none),
    matching every word of ``query``, in the ``sort`` order (best match first without one)."""
    products = Product.objects.active().select_related("category")
    if category_slug:
        products = products.filter(category__slug=category_slug)
    terms = search_terms(query)
    if terms:
        products = products_matching(products, terms=terms)
    if sort:
        return products.order_by(*_ORDER_BY[ProductSort(sort)])
    if terms:
        return products.order_by("-search_rank", *_CATALOG_ORDER)
    return products.order_by(*_CATALOG_ORDER)


def category_list() -> QuerySet[Category]:
    return Category.objects.filter(products__active=True).distinct()


def _product_cache_key(sku: str) -> str:
    return f"shop:product:{sku}"


_SKU = re.compile(rf"[{SKU_CHARACTERS}]{{1,{Product._meta.get_field('sku').max_length}}}")
_MISSING = "missing"  # cached too: a made-up sku costs one query, not one per request


def product_get_cached(*, sku: str) -> Product | None:
    """The product ``sku`` (on sale or not) from the shared cache, read from the database
    on a miss. Saving or deleting a product forgets its entry (``shop.receivers``), and
    entries expire after ``CATALOG_CACHE_SECONDS`` in case a cache misses an invalidation
    (a per-process cache in a multi-process deployment)."""
    if not _SKU.fullmatch(sku):  # no such product, and no key to put in a cache
        return None
    key = _product_cache_key(sku)
    product = cache.get(key)
    if product is None:
        product = Product.objects.filter(sku=sku).first() or _MISSING
        cache.set(key, product, settings.CATALOG_CACHE_SECONDS)
    return None if product == _MISSING else product


def product_cache_forget(*, sku: str) -> None:
    cache.delete(_product_cache_key(sku))
