import csv
import io
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum
from PIL import Image

from catalog.models import Product, ProductImage, ProductVariant
from inventory.importer import ImportRejected, catalog_import, derive_sku
from inventory.models import StockItem, StockMovement
from inventory.services import stock_adjust
from tests.factories import VariantFactory

from .conftest import csv_header, media_files, product_row, table_counts, write_csv

pytestmark = pytest.mark.django_db

PROBLEM_LINE = re.compile(r'^(?P<file>.+):(?P<line>\d+): column "(?P<column>[^"]+)": .+$')


def on_hand(variant: ProductVariant) -> int:
    return StockItem.objects.filter(variant=variant).values_list("on_hand", flat=True).first() or 0


def ledger_total(variant: ProductVariant) -> int:
    movements = StockMovement.objects.filter(variant=variant)
    return movements.aggregate(total=Sum("quantity"))["total"] or 0


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


# -- the shared Shopify exports ------------------------------------------------------------


def test_it_imports_the_shopify_files_completely(shopify_files, offline):
    result = catalog_import(paths=shopify_files)

    expected_variants: dict[str, list[tuple[Decimal, int]]] = defaultdict(list)
    expected_images: dict[str, set[str]] = defaultdict(set)
    reference: dict[str, str] = {}
    for path in shopify_files:
        for row in read_rows(path):
            expected_variants[row["Handle"]].append((Decimal(row["Variant Price"]), int(row["Variant Inventory Qty"])))
            if row["Image Src"]:
                expected_images[row["Handle"]].add(row["Image Src"])
            reference[row["Handle"]] = path.name

    assert result.products_created == Product.objects.count() == len(expected_variants) == 40
    assert result.variants_created == ProductVariant.objects.count() == 43
    for handle, variants in expected_variants.items():
        product = Product.objects.get(handle=handle)
        actual = list(product.variants.order_by("position"))
        assert [(v.price, on_hand(v)) for v in actual] == variants, handle
        for variant in actual:
            # The ledger explains every unit: one IMPORT row naming the file, or none for 0.
            assert ledger_total(variant) == on_hand(variant)
            assert set(variant.stock_movements.values_list("reason", "reference")) <= {
                (StockMovement.Reason.IMPORT, reference[handle])
            }
        images = list(product.images.all())
        assert {i.source_url for i in images} == expected_images[handle]
        assert all(i.is_placeholder for i in images)

    # Blank Type falls back to the first tag, title-cased.
    assert Product.objects.get(handle="ocean-blue-shirt").category.name == "Men"
    assert Product.objects.get(handle="copper-light").category.name == "Indoor"
    assert Product.objects.get(handle="cream-sofa").variants.get().compare_at_price == Decimal("750.00")

    # The files have no SKUs: they are derived from the handle and the option values.
    skus = set(ProductVariant.objects.values_list("sku", flat=True))
    assert {
        "CLASSIC-VARSITY-TOP-SMALL",
        "CLASSIC-VARSITY-TOP-MEDIUM",
        "CLASSIC-VARSITY-TOP-LARGE",
        "CLAY-PLANT-POT-REGULAR",
        "CLAY-PLANT-POT-LARGE",
        "COPPER-LIGHT",
        "OCEAN-BLUE-SHIRT",
    } <= skus

    # No network here: downloads fail fast, and only once per unreachable host.
    assert len(offline) == 1
    root = Path(settings.MEDIA_ROOT)
    image = ProductImage.objects.get(product__handle="clay-plant-pot", position=2)
    assert image.source_url == "https://burst.shopifycdn.com/photos/pot-with-a-single-sprout_925x.jpg"
    assert image.is_placeholder
    assert set(image.thumbnails) == {"200", "400", "800"}
    for width, name in image.thumbnails.items():
        with Image.open(root / name) as thumb:
            assert (thumb.format, thumb.width) == ("WEBP", int(width))
    for image in ProductImage.objects.all():
        assert (root / image.image.name).is_file()
        assert all((root / name).is_file() for name in image.thumbnails.values())


def test_every_imported_product_page_answers_with_its_title_and_variants(shopify_files, client):
    call_command("import_products", *map(str, shopify_files), stdout=io.StringIO())
    handles = {row["Handle"] for path in shopify_files for row in read_rows(path)}
    assert Product.objects.count() == len(handles) == 40
    for product in Product.objects.prefetch_related("variants"):
        page = client.get(f"/products/{product.handle}/")
        assert page.status_code == 200, product.handle
        html = page.content.decode()
        assert product.title in html
        variants = list(product.variants.all())
        if len(variants) == 1:
            assert variants[0].sku in html
        else:
            # Every variant can be chosen: by its options (one group per option), or, where
            # the options do not tell variants apart, by itself.
            for v in variants:
                by_options = all(
                    f'name="option{i}" value="{value}"' in html for i, value in enumerate(v.option_values, start=1)
                )
                assert by_options or f'name="variant" value="{v.pk}"' in html, (product.handle, v.title)
                assert f'"id": {v.pk},' in html, product.handle  # in the picker's data for product.js


def test_a_second_import_of_the_same_files_changes_nothing(shopify_files):
    catalog_import(paths=shopify_files)
    before, files_before = table_counts(), media_files()
    updated_at = dict(Product.objects.values_list("handle", "updated_at"))

    out = io.StringIO()
    call_command("import_products", *map(str, shopify_files), stdout=out)
    again = catalog_import(paths=shopify_files)

    assert table_counts() == before
    assert media_files() == files_before
    assert dict(Product.objects.values_list("handle", "updated_at")) == updated_at
    assert "Products: 0 created, 0 updated, 40 unchanged" in out.getvalue()
    assert (again.products_created, again.products_updated, again.products_unchanged) == (0, 0, 40)
    assert (again.variants_created, again.variants_updated, again.variants_unchanged) == (0, 0, 43)
    assert (again.images_created, again.images_updated, again.stock_movements) == (0, 0, 0)
    assert not again.changed_anything


def test_it_rejects_a_broken_copy_naming_every_problem_and_writes_nothing(shopify_files, tmp_path):
    apparel, home = shopify_files
    # The real files have one record per physical line: row i is line i + 2.
    rows = read_rows(apparel)
    header = list(rows[0])
    rows[1]["Variant Price"] = "sixty"  # line 3
    rows[2]["Variant Inventory Qty"] = "-2"  # line 4
    rows[3]["Variant Inventory Qty"] = "lots"  # line 5
    rows[4]["Variant SKU"] = "DUP-1"  # line 6
    rows[5]["Variant SKU"] = "DUP-1"  # line 7: duplicate within the file
    rows[6]["Published"] = "yes"  # line 8
    rows[7]["Variant Compare At Price"] = "-5"  # line 9
    rows[8]["Variant Grams"] = "1.5"  # line 10
    broken_apparel = write_csv(tmp_path / "apparel.csv", rows, header)

    rows = read_rows(home)
    header = [c for c in rows[0] if c != "Variant Price"]  # a required column removed
    rows[0]["Title"] = ""  # line 2: the first row of clay-plant-pot has no title ...
    rows[2]["Variant SKU"] = "DUP-1"  # line 4: duplicate across files
    broken_home = write_csv(tmp_path / "home-and-garden.csv", rows, header)

    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_products", str(broken_apparel), str(broken_home), stderr=err)

    reported = set()
    for line in err.getvalue().splitlines():
        match = PROBLEM_LINE.match(line)
        assert match, f"not FILE:LINE: column ...: {line!r}"
        reported.add((match["file"], int(match["line"]), match["column"]))
    a, h = str(broken_apparel), str(broken_home)
    assert reported == {
        (a, 3, "Variant Price"),
        (a, 4, "Variant Inventory Qty"),
        (a, 5, "Variant Inventory Qty"),
        (a, 7, "Variant SKU"),
        (a, 8, "Published"),
        (a, 9, "Variant Compare At Price"),
        (a, 10, "Variant Grams"),
        (h, 1, "Variant Price"),
        (h, 2, "Title"),
        (h, 4, "Variant SKU"),
    }
    assert f'{a}:7: column "Variant SKU": SKU "DUP-1" is already used at {a}:6' in err.getvalue()
    assert set(table_counts().values()) == {0}
    assert media_files() == set()


# -- small files -----------------------------------------------------------------------------


def test_it_sets_stock_only_for_new_variants_and_updates_changed_fields(tmp_path):
    path = tmp_path / "catalog.csv"
    lamp_row = {"Variant SKU": "LAMP-1", "Variant Inventory Qty": "5"}
    write_csv(path, [product_row("lamp", "Lamp", **lamp_row)])
    catalog_import(paths=[path])
    lamp = ProductVariant.objects.get(sku="LAMP-1")
    stock_adjust(variant=lamp, quantity=-2, reason=StockMovement.Reason.ADJUSTMENT)

    # The file now says 9 in stock and a new price, and adds a second product.
    write_csv(
        path,
        [
            product_row("lamp", "Lamp", **{**lamp_row, "Variant Inventory Qty": "9", "Variant Price": "12.50"}),
            product_row("rug", "Rug", **{"Variant Inventory Qty": "4"}),
        ],
    )
    result = catalog_import(paths=[path])

    lamp.refresh_from_db()
    assert lamp.price == Decimal("12.50")
    # The shop owns the lamp's stock now: the import leaves it (and its ledger) alone.
    assert on_hand(lamp) == 3 == ledger_total(lamp)
    rug = ProductVariant.objects.get(sku="RUG")
    assert on_hand(rug) == 4 == ledger_total(rug)
    assert (result.products_created, result.products_unchanged) == (1, 1)
    assert (result.variants_created, result.variants_updated, result.stock_movements) == (1, 1, 1)


def test_it_keeps_a_downloaded_image_and_makes_its_thumbnails(tmp_path, respond_with):
    photo = io.BytesIO()
    Image.new("RGB", (1200, 900), (200, 120, 40)).save(photo, format="PNG")
    respond_with(photo.getvalue())
    path = write_csv(
        tmp_path / "catalog.csv",
        [product_row("lamp", "Lamp", **{"Image Src": "https://cdn.example.com/lamp.png"})],
    )

    catalog_import(paths=[path])

    image = ProductImage.objects.get()
    assert not image.is_placeholder
    assert image.image.name.endswith(".png")
    with Image.open(Path(settings.MEDIA_ROOT) / image.thumbnails["400"]) as thumb:
        assert thumb.size == (400, 300)


def test_it_gives_a_product_without_images_one_placeholder(tmp_path):
    row = product_row("lamp", "Lamp", **{"Image Src": "", "Image Position": ""})
    path = write_csv(tmp_path / "catalog.csv", [row])

    catalog_import(paths=[path])
    catalog_import(paths=[path])

    image = ProductImage.objects.get()
    assert (image.source_url, image.is_placeholder, image.alt) == ("", True, "Lamp")


def test_it_rejects_a_sku_that_belongs_to_another_product(tmp_path):
    VariantFactory(sku="LAMP", product__handle="other-lamp")
    path = write_csv(tmp_path / "catalog.csv", [product_row("lamp", "Lamp")])

    with pytest.raises(ImportRejected) as rejected:
        catalog_import(paths=[path])

    assert [str(p) for p in rejected.value.problems] == [
        f'{path}:2: column "Variant SKU": derived SKU "LAMP" already belongs to another product, "other-lamp"'
    ]
    assert not Product.objects.filter(handle="lamp").exists()


def test_it_reports_the_physical_line_after_a_multi_line_description(tmp_path):
    rows = [
        product_row("lamp", "Lamp", **{"Body (HTML)": "<p>one</p>\n<p>two</p>\n<p>three</p>"}),
        product_row("rug", "Rug", **{"Variant Price": "free"}),
    ]
    path = write_csv(tmp_path / "catalog.csv", rows)

    with pytest.raises(ImportRejected) as rejected:
        catalog_import(paths=[path])

    assert [(p.line, p.column) for p in rejected.value.problems] == [(5, "Variant Price")]


def test_it_rejects_a_continuation_row_of_a_product_whose_first_row_is_missing(tmp_path):
    rows = [
        product_row("lamp", "Lamp"),
        {"Handle": "rug", "Option1 Value": "Large", "Variant Price": "30.00"},
    ]
    path = write_csv(tmp_path / "catalog.csv", rows)

    with pytest.raises(ImportRejected) as rejected:
        catalog_import(paths=[path])

    assert [(p.line, p.column) for p in rejected.value.problems] == [(3, "Title")]


def test_it_fails_clearly_on_a_missing_file(tmp_path):
    missing = tmp_path / "nope.csv"
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_products", str(missing), stderr=err)

    assert f"{missing}: cannot read the file: No such file or directory" in err.getvalue()


def test_it_only_validates_with_check(tmp_path):
    path = write_csv(tmp_path / "catalog.csv", [product_row("lamp", "Lamp")])
    out = io.StringIO()

    call_command("import_products", "--check", str(path), stdout=out)

    assert "OK: 1 products" in out.getvalue()
    assert Product.objects.count() == 0


@pytest.mark.parametrize(
    ("handle", "values", "sku"),
    [
        ("classic-varsity-top", ["Small"], "CLASSIC-VARSITY-TOP-SMALL"),
        ("copper-light", ["Default Title"], "COPPER-LIGHT"),
        ("merino-tee", ["Extra Large", "Oat Milk", ""], "MERINO-TEE-EXTRA-LARGE-OAT-MILK"),
    ],
)
def test_derived_skus_are_the_handle_and_option_values(handle, values, sku):
    assert derive_sku(handle, values) == sku


def test_the_header_helper_matches_shopifys_export(shopify_files):
    with shopify_files[0].open(encoding="utf-8-sig") as fh:
        assert next(csv.reader(fh)) == csv_header()


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("Variant Price", "NaN", 'not a number: "NaN"'),
        ("Variant Price", "1e3", 'not a number: "1e3"'),
        ("Variant Price", "9.999", "more than 2 decimal places: 9.999"),
        ("Variant Price", "", "required"),
        ("Variant Inventory Qty", "5_000", 'not a whole number: "5_000"'),
        ("Variant Grams", "-1", "must not be negative: -1"),
        ("Published", "yes", 'must be true or false, not "yes"'),
        ("Image Src", "file:///etc/passwd", 'not an http(s) URL: "file:///etc/passwd"'),
        ("Handle", "lamp shade", '"lamp shade" is not a handle: use letters, digits, "-" and "_"'),
    ],
)
def test_it_rejects_a_bad_value_naming_line_and_column(tmp_path, column, value, message):
    path = write_csv(tmp_path / "catalog.csv", [product_row("lamp", "Lamp", **{column: value})])

    with pytest.raises(ImportRejected) as rejected:
        catalog_import(paths=[path])

    assert [str(p) for p in rejected.value.problems] == [f'{path}:2: column "{column}": {message}']


def test_it_rejects_a_product_defined_in_two_files(tmp_path):
    first = write_csv(tmp_path / "a.csv", [product_row("lamp", "Lamp", **{"Variant SKU": "A"})])
    second = write_csv(tmp_path / "b.csv", [product_row("lamp", "Lamp", **{"Variant SKU": "B"})])

    with pytest.raises(ImportRejected) as rejected:
        catalog_import(paths=[first, second])

    assert [str(p) for p in rejected.value.problems] == [
        f'{second}:2: column "Handle": product "lamp" is already defined at {first}:2'
    ]
