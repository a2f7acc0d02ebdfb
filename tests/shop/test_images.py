"""Product images in the sizes the pages ask for: made with Pillow when the catalog is
seeded and when an image is uploaded in the admin, served with srcset, lazy below the
first row."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image

from shop.images import product_image_renditions_create
from shop.models import Category, Product

pytestmark = pytest.mark.django_db


def _png(width: int, height: int, color=(200, 120, 40)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def _stored_size(settings, name: str) -> tuple[str, tuple[int, int]]:
    with Image.open(settings.MEDIA_ROOT / name) as image:
        return image.format, image.size


def test_seeding_makes_three_sizes_of_every_image(settings):
    call_command("seed_catalog", verbosity=0)
    for product in Product.objects.all():
        widths = [rendition["width"] for rendition in product.image_renditions]
        assert widths == [160, 320, 480], product.sku
        for rendition in product.image_renditions:
            assert rendition["name"].startswith("products/renditions/")
            assert _stored_size(settings, rendition["name"]) == (
                "WEBP",
                (rendition["width"], rendition["height"]),
            )


def test_seeding_again_encodes_nothing(settings, capsys):
    call_command("seed_catalog")
    renditions = sorted((settings.MEDIA_ROOT / "products" / "renditions").iterdir())
    times = [path.stat().st_mtime_ns for path in renditions]
    Product.objects.update(image_renditions=[])  # e.g. a catalog seeded before sizes existed
    call_command("seed_catalog")
    assert "images resized: 28" in capsys.readouterr().out.splitlines()[-1]
    assert sorted((settings.MEDIA_ROOT / "products" / "renditions").iterdir()) == renditions
    assert [path.stat().st_mtime_ns for path in renditions] == times


def test_an_image_is_never_made_larger(product):
    product.image.save("tiny.png", ContentFile(_png(200, 100)), save=True)
    renditions = product_image_renditions_create(product=product)
    assert [(r["width"], r["height"]) for r in renditions] == [(160, 80)]
    product.image.save("tinier.png", ContentFile(_png(90, 90)), save=True)
    renditions = product_image_renditions_create(product=product)
    assert [(r["width"], r["height"]) for r in renditions] == [(90, 90)]


def test_an_unreadable_image_leaves_the_original_only(product, caplog):
    product.image.save("broken.png", ContentFile(b"not an image"), save=True)
    assert product_image_renditions_create(product=product) == []
    assert "no renditions" in caplog.text
    product.refresh_from_db()
    assert product.image_renditions == []


def test_uploading_in_the_admin_makes_the_sizes_and_drops_the_old_ones(
    client, django_user_model, catalog, settings
):
    admin = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(admin)
    product = catalog.get(sku="GEAR-001")
    old = [settings.MEDIA_ROOT / rendition["name"] for rendition in product.image_renditions]
    assert old and all(path.exists() for path in old)

    response = client.post(
        f"/admin/shop/product/{product.pk}/change/",
        {
            "sku": product.sku,
            "slug": product.slug,
            "name": product.name,
            "description": product.description,
            "category": product.category_id,
            "price": "24.00",
            "currency": "EUR",
            "stock": "5",
            "active": "on",
            "image": SimpleUploadedFile("dripper.png", _png(800, 600), "image/png"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert product.image.name.startswith("products/dripper")
    assert [(r["width"], r["height"]) for r in product.image_renditions] == [
        (160, 120),
        (320, 240),
        (480, 360),
    ]
    assert all((settings.MEDIA_ROOT / r["name"]).exists() for r in product.image_renditions)
    assert not any(path.exists() for path in old)


def test_a_new_product_in_the_admin_gets_its_sizes(client, django_user_model, catalog):
    admin = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(admin)
    response = client.post(
        "/admin/shop/product/add/",
        {
            "sku": "NEW-001",
            "slug": "new-thing",
            "name": "New Thing",
            "category": Category.objects.get(slug="snacks").pk,
            "price": "1.00",
            "currency": "EUR",
            "stock": "1",
            "active": "on",
            "image": SimpleUploadedFile("new.png", _png(640, 640), "image/png"),
        },
    )
    assert response.status_code == 302
    widths = [r["width"] for r in Product.objects.get(sku="NEW-001").image_renditions]
    assert widths == [160, 320, 480]


def _images(html: str) -> list[str]:
    return re.findall(r"<img [^>]*>", html)


def test_catalog_cards_use_srcset_eager_first_row_lazy_rest(client, catalog):
    html = client.get("/").content.decode()
    images = _images(html)
    assert len(images) == 12
    for image in images:
        assert re.search(r'srcset="[^"]*-160w\.webp 160w, [^"]*-320w\.webp 320w, [^"]*480w', image)
        assert 'sizes="(min-width: 1100px) 253px' in image
        assert 'alt=""' in image  # the card's link is named by the visible product name
    assert ['loading="eager"' in image for image in images] == [True] * 4 + [False] * 8
    assert all('loading="lazy"' in image for image in images[4:])


def test_product_page_image_is_eager_with_srcset(client, product):
    (image,) = _images(client.get(product.get_absolute_url()).content.decode())
    assert 'loading="eager"' in image
    assert "480w" in image and 'sizes="(min-width: 760px) 420px' in image


def test_a_product_without_sizes_falls_back_to_the_original(client, product):
    Product.objects.filter(pk=product.pk).update(image_renditions=[])
    (image,) = _images(client.get(product.get_absolute_url()).content.decode())
    assert 'src="/media/products/cof-001.png"' in image
    assert "srcset" not in image
