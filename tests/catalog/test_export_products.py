"""export_products / inventory.product_export: Shopify's product CSV out, and back in."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Category, Product, ProductImage, ProductVariant
from inventory.importer import catalog_import
from inventory.models import BackInStockRequest, Reservation, StockItem, StockMovement
from inventory.product_export import PRODUCT_COLUMNS, product_rows
from inventory.services import stock_policy_set
from tests.factories import ProductFactory, VariantFactory, stocked_variant

pytestmark = pytest.mark.django_db

# Every column inventory.importer reads.
IMPORTER_COLUMNS = [
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Type",
    "Tags",
    "Published",
    "Option1 Name",
    "Option1 Value",
    "Option2 Name",
    "Option2 Value",
    "Option3 Name",
    "Option3 Value",
    "Variant SKU",
    "Variant Grams",
    "Variant Inventory Qty",
    "Variant Inventory Policy",
    "Variant Price",
    "Variant Compare At Price",
    "Variant Barcode",
    "Image Src",
    "Image Position",
    "Image Alt Text",
    "SEO Title",
    "SEO Description",
]
IMAGE_COLUMNS = {"Handle", "Image Src", "Image Position", "Image Alt Text"}


def export(path: Path) -> bytes:
    call_command("export_products", str(path), stderr=io.StringIO())
    return path.read_bytes()


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def empty_the_catalog() -> None:
    """What a shop that never had a product holds: no ledger, stock, variants, products."""
    for model in (StockMovement, Reservation, BackInStockRequest, StockItem, ProductImage, ProductVariant, Product):
        model.objects.all().delete()
    Category.objects.all().delete()


def test_the_header_is_shopifys_and_holds_every_column_the_import_reads(shopify_files):
    assert len(set(PRODUCT_COLUMNS)) == len(PRODUCT_COLUMNS)
    assert set(IMPORTER_COLUMNS) <= set(PRODUCT_COLUMNS)
    # In Shopify's order: the columns both share come in the sample files' order.
    for path in shopify_files:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            source = next(csv.reader(fh))
        shared = [c for c in source if c in PRODUCT_COLUMNS]
        assert [c for c in PRODUCT_COLUMNS if c in shared] == shared
    assert PRODUCT_COLUMNS[:6] == ("Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type")


def test_round_trip_export_import_into_an_empty_catalog_export_gives_the_same_bytes(shopify_files, tmp_path):
    catalog_import(paths=shopify_files)
    b = export(tmp_path / "b.csv")

    empty_the_catalog()
    assert Product.objects.count() == 0
    result = catalog_import(paths=[tmp_path / "b.csv"])
    assert (result.products_created, result.variants_created) == (40, 43)
    c = export(tmp_path / "c.csv")

    assert b == c
    assert b.startswith(",".join(PRODUCT_COLUMNS).encode() + b"\n")
    assert b"\r" not in b


def test_the_export_carries_what_the_source_files_say(shopify_files, tmp_path):
    catalog_import(paths=shopify_files)
    exported = rows_of(export(tmp_path / "b.csv"))
    source = [row for path in shopify_files for row in read_rows(path)]

    def variants(rows):
        return [
            (
                r["Handle"],
                r["Option1 Value"],
                Decimal(r["Variant Price"]),
                Decimal(r["Variant Compare At Price"] or "0"),
                int(r["Variant Inventory Qty"]),
                r["Variant Inventory Policy"],
                int(r["Variant Grams"]),
            )
            for r in rows
            if r["Variant Price"]
        ]

    def products(rows):
        return [
            (r["Handle"], r["Title"], r["Body (HTML)"].strip(), r["Vendor"], r["Type"], r["Tags"], r["Option1 Name"])
            for r in rows
            if r["Title"]
        ]

    def images(rows):
        return sorted((r["Handle"], r["Image Src"]) for r in rows if r["Image Src"])

    assert variants(exported) == variants(source)
    assert products(exported) == products(source)
    assert images(exported) == images(source)
    assert [r["Handle"] for r in exported] == [r["Handle"] for r in source]
    # A blank Variant SKU is written as the SKU the import derived, so it stays the key.
    by_handle = {r["Handle"]: r for r in exported if r["Title"]}
    assert by_handle["ocean-blue-shirt"]["Variant SKU"] == "OCEAN-BLUE-SHIRT"
    assert by_handle["clay-plant-pot"]["Variant SKU"] == "CLAY-PLANT-POT-REGULAR"


def test_a_product_has_its_columns_on_its_first_row_and_images_in_position_order(tmp_path):
    product = ProductFactory(
        handle="linen-shirt",
        title="Linen Shirt",
        description='<p>Cool, "crisp"\nlinen</p>',
        product_type="Shirts",
        tags="linen, summer",
        option1_name="Size",
        option2_name="Colour",
        seo_title="Linen shirt",
        published=False,
    )
    stocked_variant(
        4, product=product, sku="LS-S", option1_value="S", option2_value="Sand", price=Decimal("49.5"), grams=250
    )
    medium = stocked_variant(
        0,
        product=product,
        sku="LS-M",
        option1_value="M",
        option2_value="Sand",
        price=Decimal("49.50"),
        compare_at_price=Decimal("60"),
        barcode="4006381333931",
        position=2,
    )
    stock_policy_set(variant=medium, backorder_policy=StockItem.BackorderPolicy.CONTINUE)
    # What a sale of 3 units on backorder leaves (stock_commit under "continue").
    StockItem.objects.filter(variant=medium).update(on_hand=-3)
    for position, name in ((3, "back"), (1, "front"), (2, "side")):
        ProductImage.objects.create(
            product=product, position=position, alt=name, source_url=f"https://img.example/{name}.jpg"
        )

    rows = [dict(zip(PRODUCT_COLUMNS, row, strict=True)) for row in product_rows(Product.objects.all())]

    assert len(rows) == 3
    first, second, extra = rows
    assert (first["Title"], first["Body (HTML)"], first["Type"], first["Tags"]) == (
        "Linen Shirt",
        '<p>Cool, "crisp"\nlinen</p>',
        "Shirts",
        "linen, summer",
    )
    assert (first["Published"], first["Status"], first["Option1 Name"], first["Option2 Name"]) == (
        "false",
        "draft",
        "Size",
        "Colour",
    )
    assert (first["Variant SKU"], first["Variant Price"], first["Variant Grams"], first["Variant Inventory Qty"]) == (
        "LS-S",
        "49.50",
        "250",
        "4",
    )
    assert (first["Variant Inventory Policy"], first["Variant Compare At Price"]) == ("deny", "")
    # Later rows: no product columns, their own variant.
    assert second["Title"] == second["Option1 Name"] == second["Published"] == second["Status"] == ""
    assert (second["Option1 Value"], second["Option2 Value"], second["Variant SKU"]) == ("M", "Sand", "LS-M")
    assert (second["Variant Compare At Price"], second["Variant Barcode"]) == ("60.00", "4006381333931")
    # Units owed on backorder are not stock: 0, which the import takes (it refuses -3).
    assert (second["Variant Inventory Qty"], second["Variant Inventory Policy"]) == ("0", "continue")
    # Images by position, one a row; the third has a row of its own with image columns only.
    assert [(r["Image Position"], r["Image Src"], r["Image Alt Text"]) for r in rows] == [
        ("1", "https://img.example/front.jpg", "front"),
        ("2", "https://img.example/side.jpg", "side"),
        ("3", "https://img.example/back.jpg", "back"),
    ]
    assert {column for column, value in extra.items() if value} == IMAGE_COLUMNS


def test_an_uploaded_image_is_written_as_its_url_a_stand_in_placeholder_and_a_product_without_variants_are_not(
    settings,
):
    settings.SHOP_BASE_URL = "https://shop.example"
    product = ProductFactory(handle="mug")
    VariantFactory(product=product, sku="MUG")
    uploaded = ProductImage(product=product, position=1)
    uploaded.image.save("mug.jpg", ContentFile(b"jpeg"), save=True)
    ProductImage.objects.create(product=product, position=2, is_placeholder=True)  # stands in for none
    bare = ProductFactory(handle="no-variants")

    rows = [dict(zip(PRODUCT_COLUMNS, row, strict=True)) for row in product_rows(Product.objects.all())]

    assert [r["Handle"] for r in rows] == ["mug"]
    assert rows[0]["Image Src"] == f"https://shop.example{uploaded.image.url}"
    assert rows[0]["Image Position"] == "1"
    assert bare.pk


def test_it_reads_the_catalog_in_chunks_without_a_query_per_product():
    for n in range(7):
        product = ProductFactory(handle=f"p-{n}")
        stocked_variant(2, product=product, sku=f"P-{n}-A")
        stocked_variant(1, product=product, sku=f"P-{n}-B", option1_value="B", position=2)
        ProductImage.objects.create(product=product, source_url=f"https://img.example/{n}.jpg")

    with CaptureQueriesContext(connection) as queries:
        rows = list(product_rows(Product.objects.all(), chunk_size=3))

    assert len(rows) == 14
    # One query for the products (a server-side cursor, read 3 at a time), then two per
    # chunk (3 + 3 + 1 products): variants with their stock, images.
    assert len(queries) == 1 + 3 * 2


def test_the_command_writes_the_same_file_to_stdout(tmp_path):
    product = ProductFactory(handle="formula", title="=SUM(A1:A2)", tags="+1, @home")
    VariantFactory(product=product, sku="-5")

    out = io.StringIO()
    call_command("export_products", stdout=out)
    written = export(tmp_path / "products.csv")

    assert out.getvalue().encode() == written
    row = rows_of(written)[0]
    # A migration file is data for re-import: no spreadsheet escaping.
    assert (row["Title"], row["Tags"], row["Variant SKU"]) == ("=SUM(A1:A2)", "+1, @home", "-5")
