"""Catalog API: read-only product list and detail."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
)
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import curl_sample
from shop.models import Product
from shop.search import MAX_QUERY_LENGTH
from shop.selectors import ProductSort, product_list


@extend_schema_serializer(component_name="Product")
class ProductOutputSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    image = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = [
            "sku",
            "slug",
            "name",
            "description",
            "category",
            "price",
            "currency",
            "stock",
            "image",
            "url",
        ]

    def get_image(self, product: Product) -> str | None:
        if not product.image:
            return None
        return self.context["request"].build_absolute_uri(product.image.url)

    def get_url(self, product: Product) -> str:
        return self.context["request"].build_absolute_uri(product.get_absolute_url())


class CatalogPagination(PageNumberPagination):
    """DRF's page numbers, except that a blank ``?page=`` is refused like any page that is
    not a number (DRF reads it as page 1, which the schema's integer does not allow)."""

    def get_page_number(self, request, paginator):
        if request.query_params.get(self.page_query_param) == "":
            raise NotFound(self.invalid_page_message.format(page_number="", message="blank"))
        return super().get_page_number(request, paginator)


@extend_validation_errors(["invalid_choice"], field_name="sort", methods=["get"])
@extend_validation_errors(["max_length"], field_name="q", methods=["get"])
@extend_validation_errors(["invalid", "max_length"], field_name="category", methods=["get"])
class ProductListApi(APIView):
    pagination_class = CatalogPagination

    @extend_schema_serializer(component_name="ProductFilter")
    class FilterSerializer(serializers.Serializer):
        category = serializers.SlugField(
            required=False, max_length=80, help_text="Only this category (its slug)."
        )
        q = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=MAX_QUERY_LENGTH,
            help_text="Search words: every word must match the name or the description; "
            "partial words match (`yirga` finds Yirgacheffe). Without `sort`, best match "
            "first (full-text ranking on PostgreSQL, a name match above a description "
            "match).",
        )
        sort = serializers.ChoiceField(
            required=False,
            choices=ProductSort.choices,
            help_text="Order: `price` (low to high), `-price` (high to low), `name`, "
            "`newest`. Default: best match with `q`, else the catalog order.",
        )

    @extend_schema(
        operation_id="listProducts",
        tags=["catalog"],
        summary="List products",
        description="Active products, 12 a page (`count`, `next`, `previous`, `results`). "
        "Filter by `category`, search with `q`, order with `sort`; an unknown `sort` or a "
        "`q` over 100 characters is a 400; a `page` that is blank, not a number or past the "
        "last a 404.",
        parameters=[FilterSerializer],
        responses=ProductOutputSerializer(many=True),
        extensions=curl_sample("GET", "/api/products/?q=yirga&sort=price"),
    )
    def get(self, request: Request) -> Response:
        # A plain dict, not the QueryDict: DRF reads a blank form value as "not given", so
        # `?sort=` would pass a schema that says a sort is one of the choices.
        filters = self.FilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        products = product_list(
            category_slug=filters.validated_data.get("category"),
            query=filters.validated_data.get("q", ""),
            sort=filters.validated_data.get("sort"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(products, request, view=self)
        data = ProductOutputSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)


SKU_PARAMETER = OpenApiParameter(
    "sku",
    str,
    location=OpenApiParameter.PATH,
    description="The product's SKU.",
    examples=[OpenApiExample("A coffee", value="COF-001")],
)


class ProductDetailApi(APIView):
    @extend_schema(
        operation_id="getProduct",
        tags=["catalog"],
        summary="Get a product",
        description="One active product by SKU; 404 for an unknown or withdrawn one.",
        parameters=[SKU_PARAMETER],
        responses=ProductOutputSerializer,
        extensions=curl_sample("GET", "/api/products/COF-001/"),
    )
    def get(self, request: Request, sku: str) -> Response:
        product = get_object_or_404(Product.objects.active().select_related("category"), sku=sku)
        return Response(ProductOutputSerializer(product, context={"request": request}).data)
