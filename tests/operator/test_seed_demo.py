"""seed_demo: the demo catalog without a user, and N synthetic products stocked through the
ledger in bulk (check_stock stays clean), idempotently."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from catalog.models import Product, ProductVariant
from checkout.models import ShippingMethod, TaxRate
from inventory.models import StockItem, StockMovement

pytestmark = pytest.mark.django_db


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_loads_the_catalog_shipping_and_tax_without_a_user():
    seed()
    assert Product.objects.exists()
    assert ShippingMethod.objects.count() == 2
    assert TaxRate.objects.filter(country="GB").exists()
    assert not get_user_model().objects.exists()


def test_fifty_synthetic_products_get_three_stocked_variants_and_check_stock_stays_clean():
    output = seed("--products", "50")
    assert "50 created" in output
    synthetic = ProductVariant.objects.filter(product__handle__startswith="load-test-")
    assert synthetic.count() == 150
    assert StockItem.objects.filter(variant__in=synthetic, on_hand=1000).count() == 150
    assert StockMovement.objects.filter(variant__in=synthetic, quantity=1000).count() == 150
    out = StringIO()
    call_command("check_stock", stdout=out)  # raises CommandError on any mismatch
    assert "consistent" in out.getvalue()


def test_seeding_again_creates_only_what_is_missing():
    seed("--products", "5")
    products, movements = Product.objects.count(), StockMovement.objects.count()
    output = seed("--products", "7")
    assert "2 created, 5 already there" in output
    assert Product.objects.count() == products + 2
    assert StockMovement.objects.count() == movements + 6
