"""The catalog: categories and products."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse


class Category(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


# What a sku may be made of (product codes go into URLs and cache keys).
SKU_CHARACTERS = "A-Z0-9-"


class ProductQuerySet(models.QuerySet["Product"]):
    def active(self) -> ProductQuerySet:
        return self.filter(active=True)


class Product(models.Model):
    sku = models.CharField(
        max_length=32,
        unique=True,
        validators=[
            RegexValidator(rf"^[{SKU_CHARACTERS}]+$", "Use capital letters, digits and '-'.")
        ],
    )
    slug = models.SlugField(max_length=120, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    currency = models.CharField(max_length=3, default=settings.SHOP_CURRENCY)
    image = models.ImageField(upload_to="products/", blank=True)
    # Smaller copies of ``image`` for srcset: [{"width", "height", "name"}], made by
    # shop.images when the image is seeded or uploaded.
    image_renditions = models.JSONField(default=list, blank=True, editable=False)
    stock = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["category__position", "name"]
        indexes = [models.Index(fields=["active", "category"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self) -> str:
        return reverse("shop:product-detail", kwargs={"slug": self.slug})

    @property
    def in_stock(self) -> bool:
        return self.stock > 0
