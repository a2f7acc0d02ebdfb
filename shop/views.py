"""Catalog pages: the product list (search, sort, category filter, pagination) and product
detail."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.generic import DetailView, ListView

from shop.models import Category, Product
from shop.search import MAX_QUERY_LENGTH
from shop.selectors import ProductSort, category_list, product_list

# Product cards above the fold: the grid has at most this many columns, so the first row's
# images load at once and the rest lazily.
EAGER_IMAGES = 4


class ProductListView(ListView):
    template_name = "shop/product_list.html"
    context_object_name = "products"
    paginate_by = 12

    def get_queryset(self):
        self.category = None
        slug = self.request.GET.get("category") or None
        if slug is not None:
            self.category = Category.objects.filter(slug=slug).first()
            if self.category is None:
                raise Http404("No such category.")
        self.query = self.request.GET.get("q", "")[:MAX_QUERY_LENGTH].strip()
        # A page forgives what the API refuses: an unknown order falls back to the default.
        sort = self.request.GET.get("sort", "")
        self.sort = sort if sort in ProductSort.values else ""
        return product_list(category_slug=slug, query=self.query, sort=self.sort)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["categories"] = category_list()
        context["current_category"] = self.category
        context["search_query"] = self.query
        context["sort"] = self.sort
        context["sort_choices"] = ProductSort.choices
        context["eager_images"] = EAGER_IMAGES
        return context


class ProductDetailView(DetailView):
    template_name = "shop/product_detail.html"
    context_object_name = "product"

    def get_object(self, queryset=None) -> Product:
        return get_object_or_404(
            Product.objects.active().select_related("category"), slug=self.kwargs["slug"]
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["max_quantity"] = min(settings.CART_MAX_QUANTITY, self.object.stock)
        return context
