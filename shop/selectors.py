"""Catalog reads shared by the pages and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from shop.models import Category, Product


def product_list(*, category_slug: str | None = None) -> QuerySet[Product]:
    """Active products, optionally in one category (an unknown category gives none)."""
    products = Product.objects.active().select_related("category")
    if category_slug:
        products = products.filter(category__slug=category_slug)
    return products


def category_list() -> QuerySet[Category]:
    return Category.objects.filter(products__active=True).distinct()


def product_get_active(*, sku: str) -> Product | None:
    return Product.objects.active().filter(sku=sku).first()
