from django.urls import path

from shop import api

urlpatterns = [
    path("products/", api.ProductListApi.as_view(), name="api-product-list"),
    path("products/<str:sku>/", api.ProductDetailApi.as_view(), name="api-product-detail"),
]
