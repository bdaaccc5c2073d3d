import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from catalog.models import Category, Product, ProductImage, ProductVariant
from checkout.models import ShippingMethod
from inventory.importer import catalog_import
from inventory.models import StockItem, StockMovement

from .conftest import DEMO_CSV

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, int]:
    models = (Category, Product, ProductVariant, ProductImage, StockItem, StockMovement, ShippingMethod)
    return {model.__name__: model.objects.count() for model in models} | {
        "users": get_user_model().objects.count(),
        "featured": Product.objects.filter(featured=True).count(),
    }


def setup_demo() -> str:
    out = io.StringIO()
    call_command("setup_demo", stdout=out)
    return out.getvalue()


def test_the_demo_catalog_imports_with_variants_sold_out_and_low_stock():
    result = catalog_import(paths=[DEMO_CSV])

    assert 12 <= result.products_created <= 16
    categories = set(Category.objects.values_list("name", flat=True))
    assert categories == {"Apparel", "Kitchen", "Outdoor", "Stationery"}
    tee = Product.objects.get(handle="merino-crew-tee")
    assert tee.option_names == ["Size", "Color"]
    assert tee.variants.get(sku="TEE-MER-M-CHA").title == "M / Charcoal"
    stock = dict(StockItem.objects.values_list("variant__sku", "on_hand"))
    skus = ProductVariant.objects.values_list("sku", flat=True)
    assert any(stock.get(sku, 0) == 0 for sku in skus), "something is sold out"
    assert any(1 <= stock.get(sku, 0) <= 3 for sku in skus), "something is nearly sold out"
    assert ProductVariant.objects.filter(compare_at_price__gt=0).exists()
    # The demo's image host never resolves: every image is a placeholder keeping its URL.
    assert not ProductImage.objects.filter(is_placeholder=False).exists()
    demo_host = "https://images.example.invalid/"
    assert ProductImage.objects.filter(source_url__startswith=demo_host).count() == 15


def test_setup_demo_twice_changes_nothing_and_prints_the_login_both_times():
    first = setup_demo()
    after_first = snapshot()
    second = setup_demo()

    assert snapshot() == after_first
    login = "Admin login: admin@example.com / demo-admin-password"
    assert login in first and login in second
    admin = get_user_model().objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.check_password("demo-admin-password")
    assert after_first["featured"] == 4
    assert dict(ShippingMethod.objects.values_list("name", "price")) == {
        "Standard": Decimal("5.00"),
        "Express": Decimal("15.00"),
    }


def test_setup_demo_takes_the_admin_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "s3cret-from-env")

    assert "Admin login: admin@example.com / s3cret-from-env" in setup_demo()
    assert get_user_model().objects.get(email="admin@example.com").check_password("s3cret-from-env")
