from django.urls import path

from cart import views

app_name = "cart"

urlpatterns = [
    path("", views.cart_page, name="page"),
    path("add/", views.cart_add, name="add"),
    path("lines/<str:sku>/", views.cart_line_update, name="line-update"),
    path("lines/<str:sku>/remove/", views.cart_line_remove, name="line-remove"),
    path("contact/", views.cart_contact, name="contact"),
    path("discount/", views.cart_discount_apply, name="discount"),
    path("discount/remove/", views.cart_discount_remove, name="discount-remove"),
    path("checkout/", views.cart_checkout_page, name="checkout"),
]
