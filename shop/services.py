"""Catalog writes: loading the demo catalog (with its images in the sizes the pages use)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import slugify

from shop.demo.catalog import CATEGORIES, PRODUCTS
from shop.images import product_image_renditions_create
from shop.models import Category, Product

DEMO_IMAGES = Path(__file__).resolve().parent / "demo" / "images"


@dataclass
class SeedReport:
    categories_created: int = 0
    products_created: int = 0
    images_copied: int = 0
    images_resized: int = 0


@transaction.atomic
def catalog_seed_demo() -> SeedReport:
    """Create the demo catalog where it is missing; existing rows (and admin edits) stay."""
    report = SeedReport()
    categories = {}
    for position, (slug, name) in enumerate(CATEGORIES):
        category, created = Category.objects.get_or_create(
            slug=slug, defaults={"name": name, "position": position}
        )
        categories[slug] = category
        report.categories_created += created
    for sku, name, category_slug, price, stock, description in PRODUCTS:
        product, created = Product.objects.get_or_create(
            sku=sku,
            defaults={
                "name": name,
                "slug": slugify(name),
                "category": categories[category_slug],
                "price": Decimal(price),
                "stock": stock,
                "description": description,
            },
        )
        report.products_created += created
        if created or not product.image:
            report.images_copied += _attach_demo_image(product)
        if product.image and not product.image_renditions:
            report.images_resized += bool(product_image_renditions_create(product=product))
    return report


def _attach_demo_image(product: Product) -> int:
    source = DEMO_IMAGES / f"{product.sku.lower()}.png"
    if not source.exists():
        return 0
    name = f"products/{source.name}"
    if default_storage.exists(name):
        product.image.name = name
    else:
        with source.open("rb") as handle:
            product.image.save(source.name, File(handle), save=False)
    product.save(update_fields=["image"])
    return 1
