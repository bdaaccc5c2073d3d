"""Shopify's "Variant Inventory Policy" column: deny or continue (blank means deny) becomes
the variant's backorder policy on import, and is updated on re-import where it differs."""

from datetime import timedelta

import pytest

from catalog.models import Product, ProductVariant
from inventory.importer import ImportRejected, catalog_import
from inventory.models import StockItem, StockMovement
from inventory.services import StockLine, stock_adjust, stock_commit, stock_reserve

from .conftest import product_row, write_csv

pytestmark = pytest.mark.django_db

POLICY = "Variant Inventory Policy"
CONTINUE = StockItem.BackorderPolicy.CONTINUE
DENY = StockItem.BackorderPolicy.DENY


def policy_of(sku: str) -> str:
    return StockItem.objects.filter(variant__sku=sku).values_list("backorder_policy", flat=True).first() or DENY


def import_rows(tmp_path, *rows, name="products.csv"):
    return catalog_import(paths=[write_csv(tmp_path / name, list(rows))])


def test_new_variants_take_the_policy_of_their_row_and_blank_means_deny(tmp_path):
    import_rows(
        tmp_path,
        product_row("mug", "Mug", **{"Variant SKU": "MUG", POLICY: "continue", "Variant Inventory Qty": "0"}),
        product_row("cup", "Cup", **{"Variant SKU": "CUP", POLICY: "deny"}),
        product_row("jug", "Jug", **{"Variant SKU": "JUG", POLICY: ""}),
    )

    assert (policy_of("MUG"), policy_of("CUP"), policy_of("JUG")) == (CONTINUE, DENY, DENY)


def test_a_reimport_updates_a_changed_policy_and_counts_the_variant_as_updated(tmp_path):
    import_rows(tmp_path, product_row("mug", "Mug", **{"Variant SKU": "MUG", POLICY: "deny"}))

    result = import_rows(tmp_path, product_row("mug", "Mug", **{"Variant SKU": "MUG", POLICY: "continue"}))

    assert policy_of("MUG") == CONTINUE
    assert (result.variants_updated, result.variants_unchanged) == (1, 0)
    # The stock itself still belongs to the shop: no new ledger row.
    assert StockMovement.objects.filter(variant__sku="MUG").count() == 1


def test_a_reimport_with_the_same_policy_changes_nothing(tmp_path):
    row = product_row("mug", "Mug", **{"Variant SKU": "MUG", POLICY: "continue"})
    import_rows(tmp_path, row)

    result = import_rows(tmp_path, row)

    assert not result.changed_anything
    assert policy_of("MUG") == CONTINUE


@pytest.mark.parametrize("value", ["sometimes", "Deny please", "0"])
def test_any_other_value_is_a_problem_naming_file_line_and_column(tmp_path, value):
    path = write_csv(
        tmp_path / "products.csv",
        [
            product_row("mug", "Mug", **{"Variant SKU": "MUG"}),
            product_row("cup", "Cup", **{"Variant SKU": "CUP", POLICY: value}),
        ],
    )

    with pytest.raises(ImportRejected) as rejected:
        catalog_import(paths=[path])

    assert [str(p) for p in rejected.value.problems] == [
        f'{path}:3: column "{POLICY}": must be "deny" or "continue" (or blank), not "{value}"'
    ]
    assert not ProductVariant.objects.exists()


def test_switching_to_deny_while_units_are_owed_is_a_problem_and_writes_nothing(tmp_path):
    import_rows(
        tmp_path,
        product_row("mug", "Mug", **{"Variant SKU": "MUG", POLICY: "continue", "Variant Inventory Qty": "1"}),
    )
    mug = ProductVariant.objects.get(sku="MUG")
    stock_reserve(lines=[StockLine(mug.pk, 3)], owner="order:A", ttl=timedelta(minutes=15))
    stock_commit(owner="order:A", reference="A")  # on hand -2: two mugs owed

    path = write_csv(
        tmp_path / "again.csv",
        [product_row("mug", "Mug renamed", **{"Variant SKU": "MUG", POLICY: "deny"})],
    )
    with pytest.raises(ImportRejected) as rejected:
        catalog_import(paths=[path])

    assert [(p.line, p.column) for p in rejected.value.problems] == [(2, POLICY)]
    assert "2 unit(s) are owed" in rejected.value.problems[0].message
    assert policy_of("MUG") == CONTINUE
    assert Product.objects.get(handle="mug").title == "Mug"

    stock_adjust(variant=mug, quantity=2, reason=StockMovement.Reason.RECEIPT)
    catalog_import(paths=[path])
    assert policy_of("MUG") == DENY
