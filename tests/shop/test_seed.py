import pytest
from django.core.management import call_command

from shop.models import Category, Product

pytestmark = pytest.mark.django_db


def test_seed_loads_the_demo_catalog_with_local_images(settings):
    call_command("seed_catalog", verbosity=0)
    assert Product.objects.count() >= 24
    assert Category.objects.count() >= 4
    for product in Product.objects.all():
        assert product.image.name == f"products/{product.sku.lower()}.png"
        assert (settings.MEDIA_ROOT / product.image.name).stat().st_size > 1000


def test_seeding_twice_changes_nothing(capsys):
    call_command("seed_catalog")
    before = list(Product.objects.order_by("sku").values())
    call_command("seed_catalog")
    assert list(Product.objects.order_by("sku").values()) == before
    assert "products created: 0" in capsys.readouterr().out


def test_seeding_keeps_admin_edits(capsys):
    call_command("seed_catalog")
    Product.objects.filter(sku="COF-001").update(price="99.00", stock=1)
    call_command("seed_catalog")
    product = Product.objects.get(sku="COF-001")
    assert str(product.price) == "99.00"
    assert product.stock == 1
