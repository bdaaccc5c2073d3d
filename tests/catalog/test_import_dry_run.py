"""import_products --dry-run (and its old name --check): what an import would do, nothing written."""

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Product, ProductVariant
from inventory.importer import catalog_import
from inventory.models import StockItem

from .conftest import media_files, product_row, table_counts, write_csv

pytestmark = pytest.mark.django_db


def dry_run(*paths: Path, flag: str = "--dry-run") -> list[str]:
    out = io.StringIO()
    call_command("import_products", flag, *map(str, paths), stdout=out)
    return out.getvalue().splitlines()


def test_a_dry_run_into_an_empty_catalog_lists_every_creation_and_writes_nothing(shopify_files, offline):
    lines = dry_run(*shopify_files)

    assert table_counts() == dict.fromkeys(table_counts(), 0)
    assert media_files() == set()
    assert offline == []  # no image was fetched
    assert lines[0] == "OK: 40 products, no problems found."
    assert sum(line.startswith('would create product "') for line in lines) == 40
    assert sum(line.startswith('would create variant "') for line in lines) == 43
    assert 'would create variant "CLAY-PLANT-POT-LARGE" of "clay-plant-pot" (3 on hand)' in lines
    assert 'would create category "Outdoor"' in lines
    assert (
        'would create image of "clay-plant-pot": https://burst.shopifycdn.com/photos/pot-with-a-single-sprout_925x.jpg'
        in lines
    )
    summary = lines[-1]
    assert summary.startswith("Dry run, nothing was written. Products: 40 created, 0 updated, 0 unchanged.")
    assert "Variants: 43 created, 0 updated, 0 unchanged." in summary
    # The counts are a real import's, to the image.
    real = catalog_import(paths=shopify_files)
    assert f"Categories: {real.categories_created} created." in summary
    assert f"Images: {real.images_created} created" in summary
    assert f"Stock movements: {real.stock_movements}." in summary


def test_a_dry_run_over_an_imported_catalog_names_what_would_change(tmp_path):
    rows = [
        product_row("lamp", "Lamp", **{"Variant SKU": "LAMP"}),
        product_row("vase", "Vase", **{"Variant SKU": "VASE"}),
    ]
    catalog_import(paths=[write_csv(tmp_path / "first.csv", rows)])
    before, files_before = table_counts(), media_files()
    lamp = Product.objects.get(handle="lamp")

    rows[0]["Title"] = "Desk Lamp"
    rows[0]["Variant Price"] = "12.50"
    rows[0]["Variant Inventory Policy"] = "continue"
    rows.append(product_row("bowl", "Bowl", **{"Variant SKU": "BOWL", "Variant Inventory Qty": "7"}))
    lines = dry_run(write_csv(tmp_path / "second.csv", rows))

    assert lines[0] == "OK: 3 products, no problems found."
    assert 'would update product "lamp": title' in lines
    assert 'would update variant "LAMP" of "lamp": price, backorder_policy' in lines
    assert 'would create product "bowl"' in lines
    assert 'would create variant "BOWL" of "bowl" (7 on hand)' in lines
    assert not any('"vase"' in line for line in lines)
    assert "Products: 1 created, 1 updated, 1 unchanged." in lines[-1]
    assert "Variants: 1 created, 1 updated, 1 unchanged." in lines[-1]
    assert "Stock movements: 1." in lines[-1]
    # Nothing written: not the title, the price, the policy, nor the new product.
    assert table_counts() == before
    assert media_files() == files_before
    lamp.refresh_from_db()
    assert lamp.title == "Lamp"
    assert ProductVariant.objects.get(sku="LAMP").price == Decimal("10.00")
    assert StockItem.objects.get(variant__sku="LAMP").backorder_policy == StockItem.BackorderPolicy.DENY


def test_check_is_the_old_name_of_dry_run(tmp_path):
    path = write_csv(tmp_path / "catalog.csv", [product_row("lamp", "Lamp")])

    assert dry_run(path, flag="--check") == dry_run(path)
    assert table_counts() == dict.fromkeys(table_counts(), 0)


def test_a_dry_run_of_a_broken_file_reports_every_problem(tmp_path):
    path = write_csv(
        tmp_path / "catalog.csv",
        [product_row("lamp", "Lamp", **{"Variant Price": "ten"}), product_row("vase", "Vase", Published="maybe")],
    )
    err = io.StringIO()

    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_products", "--dry-run", str(path), stdout=io.StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        f'{path}:2: column "Variant Price": not a number: "ten"',
        f'{path}:3: column "Published": must be true or false, not "maybe"',
    ]
    assert Product.objects.count() == 0
