"""Forms of the cart pages (the no-JavaScript path; the API serves the JavaScript one)."""

from django import forms
from django.conf import settings


class AddToCartForm(forms.Form):
    sku = forms.CharField(max_length=32)
    quantity = forms.IntegerField(min_value=1, max_value=settings.CART_MAX_QUANTITY, initial=1)


class QuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, max_value=settings.CART_MAX_QUANTITY)


class ContactForm(forms.Form):
    email = forms.EmailField(max_length=254)
    consent = forms.BooleanField(
        required=False, label="Email me a reminder if I leave items in my cart"
    )


class DiscountCodeForm(forms.Form):
    code = forms.CharField(max_length=32, label="Discount code")
