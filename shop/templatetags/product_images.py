"""``{% product_image %}``: a product's image with its renditions in ``srcset``."""

from __future__ import annotations

from django import template
from django.core.files.storage import default_storage

from shop.models import Product

register = template.Library()


@register.inclusion_tag("shop/includes/product_image.html")
def product_image(
    product: Product, *, width: int, sizes: str, eager: bool = False, alt: str = ""
) -> dict[str, object]:
    """``width`` is the widest the image is shown (CSS px): ``src`` is the smallest
    rendition at least that wide, for browsers that ignore ``srcset``."""
    renditions = sorted(product.image_renditions, key=lambda rendition: rendition["width"])
    if renditions:
        fallback = next((r for r in renditions if r["width"] >= width), renditions[-1])
        src = default_storage.url(fallback["name"])
        srcset = ", ".join(f"{default_storage.url(r['name'])} {r['width']}w" for r in renditions)
        height = round(width * fallback["height"] / fallback["width"])
    else:
        src, srcset, height = (product.image.url if product.image else ""), "", width
    return {
        "src": src,
        "srcset": srcset,
        "sizes": sizes,
        "width": width,
        "height": height,
        "alt": alt,
        "eager": eager,
    }
