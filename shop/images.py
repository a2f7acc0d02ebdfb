"""Product image renditions: smaller WebP copies of a product's image, for ``srcset``.

A rendition's name carries a digest of the original, so a new image gets new names
(caches and CDNs can keep renditions for ever) and making them again for an unchanged
image finds them in storage and encodes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from io import BytesIO
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps

from shop.models import Product

logger = logging.getLogger(__name__)

RENDITIONS_DIR = "products/renditions"
WEBP_QUALITY = 80


def product_image_renditions_create(*, product: Product) -> list[dict]:
    """Make (or find) the renditions of ``product.image`` at ``SHOP_IMAGE_WIDTHS`` (never
    wider than the original), drop the ones of a previous image, and save the list."""
    renditions = _renditions_of(product) if product.image else []
    names = {rendition["name"] for rendition in renditions}
    for stale in product.image_renditions:
        if stale.get("name") not in names:
            default_storage.delete(stale["name"])
    product.image_renditions = renditions
    product.save(update_fields=["image_renditions"])
    return renditions


def _renditions_of(product: Product) -> list[dict]:
    with product.image.open("rb") as handle:
        original = handle.read()
    digest = hashlib.sha256(original).hexdigest()[:12]
    stem = PurePosixPath(product.image.name).stem
    try:
        image = ImageOps.exif_transpose(Image.open(BytesIO(original)))
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    except (OSError, Image.DecompressionBombError) as error:
        # The admin's ImageField already refused non-images; the page falls back to the original.
        logger.warning("no renditions of %s: %s", product.image.name, error)
        return []
    widths = [width for width in settings.SHOP_IMAGE_WIDTHS if width <= image.width]
    renditions = []
    for width in widths or [image.width]:
        height = max(1, round(image.height * width / image.width))
        name = f"{RENDITIONS_DIR}/{stem}-{digest}-{width}w.webp"
        if not default_storage.exists(name):
            resized = image.resize((width, height), Image.Resampling.LANCZOS)
            buffer = BytesIO()
            resized.save(buffer, "WEBP", quality=WEBP_QUALITY)
            name = default_storage.save(name, ContentFile(buffer.getvalue()))
        renditions.append({"width": width, "height": height, "name": name})
    return renditions


def _has_alpha(image: Image.Image) -> bool:
    return "A" in image.getbands() or "transparency" in image.info
