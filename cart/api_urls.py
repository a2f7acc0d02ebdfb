from django.urls import path

from cart import api

urlpatterns = [
    path("cart/", api.CartDetailApi.as_view(), name="api-cart-detail"),
    path("cart/items/", api.CartItemAddApi.as_view(), name="api-cart-item-add"),
    path("cart/items/<str:sku>/", api.CartItemDetailApi.as_view(), name="api-cart-item"),
    path("cart/checkout/", api.CartCheckoutApi.as_view(), name="api-cart-checkout"),
    path("cart/contact/", api.CartContactSetApi.as_view(), name="api-cart-contact"),
]
