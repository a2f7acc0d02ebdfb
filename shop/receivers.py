"""A product's cached entry is forgotten as soon as the product changes."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from shop.models import Product
from shop.selectors import product_cache_forget


@receiver([post_save, post_delete], sender=Product, dispatch_uid="shop-product-cache")
def forget_cached_product(sender: Any, instance: Product, **kwargs: Any) -> None:
    # Now, and again after the commit: a request between the two reads the old row from
    # the database, and would otherwise cache it for good.
    product_cache_forget(sku=instance.sku)
    transaction.on_commit(lambda: product_cache_forget(sku=instance.sku))
