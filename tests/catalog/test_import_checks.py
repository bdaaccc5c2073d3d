"""import_products refuses, during validation and with FILE:LINE: column errors, two kinds of
row that used to get through: a later row of a product naming its options differently from
the first row, and a field holding a control character the database or a page cannot hold.
Nothing is written then."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories import stocked_variant

from .conftest import product_row, write_csv
from .test_import import table_counts

pytestmark = pytest.mark.django_db


def import_rejected(*paths) -> list[str]:
    """Runs import_products on `paths`, which must be rejected; answers its problem lines."""
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_products", *map(str, paths), stderr=err)
    return err.getvalue().splitlines()


@pytest.fixture
def existing():
    """A product already in the shop, so that "nothing written" is not just an empty table."""
    stocked_variant(on_hand=2, sku="OLD-1", product__handle="old-lamp")
    return table_counts()


def tee_rows(**second_row) -> list[dict[str, str]]:
    """A tee in Color Blue / Red; the second row as given (Shopify leaves its names blank)."""
    first = product_row("tee", "Tee", **{"Option1 Name": "Color", "Option1 Value": "Blue"})
    return [first, {"Handle": "tee", "Option1 Value": "Red", "Variant Price": "10.00", **second_row}]


def test_a_later_row_naming_another_option_than_the_first_row_is_rejected(tmp_path, existing):
    rows = tee_rows(**{"Option1 Name": "Size", "Option1 Value": "Large"})
    rows.append({"Handle": "tee", "Option1 Name": "Color", "Option1 Value": "Green", "Variant Price": "10.00"})
    rows.append(
        {
            "Handle": "tee",
            "Option1 Value": "Black",
            "Option2 Name": "Material",
            "Option2 Value": "Wool",
            "Variant Price": "10.00",
        }
    )
    path = write_csv(tmp_path / "tees.csv", rows)

    problems = import_rejected(path)

    # Line 4 repeats "Color" exactly, as a file may: that is no contradiction.
    assert problems == [
        f'{path}:3: column "Option1 Name": "Size" contradicts the first row of product "tee" ({path}:2), '
        'which names this option "Color"; leave it blank on the product\'s later rows',
        f'{path}:5: column "Option2 Name": "Material" is not an option of the product: the first row of '
        f'product "tee" ({path}:2) names no option 2; leave it blank on the product\'s later rows',
    ]
    assert table_counts() == existing


@pytest.mark.parametrize(
    ("char", "code"),
    [("\x00", "U+0000"), ("\x1b", "U+001B"), ("\x0c", "U+000C"), ("\x7f", "U+007F"), ("\x85", "U+0085")],
)
def test_a_control_character_in_any_field_is_a_problem_at_its_line_and_nothing_is_written(
    tmp_path, existing, char, code
):
    rows = [
        # Tabs and line breaks are text: only the title's character is a problem here.
        product_row("lamp", f"Lamp{char}", **{"Body (HTML)": "<p>one</p>\n<p>\ttwo</p>", "Vendor": "Lumen\tCo"}),
        # Lines 2-3 are the lamp's; line 4 starts a description of three lines, the character on its third.
        product_row("rug", "Rug", **{"Body (HTML)": f"<p>one</p>\n<p>two</p>\n<p>thr{char}ee</p>"}),
        # Even in a column the import ignores, and in a row that only adds an image.
        {"Handle": "rug", "Image Src": "https://images.example.invalid/rug-2.jpg", "Google Shopping / MPN": f"{char}"},
    ]
    path = write_csv(tmp_path / "catalog.csv", rows)

    problems = import_rejected(path)

    def control(line: int, column: str, at: int) -> str:
        return (
            f'{path}:{line}: column "{column}": contains a control character ({code}) at character {at}; '
            "remove it (only tab and line breaks are allowed)"
        )

    assert problems == [control(2, "Title", 5), control(6, "Body (HTML)", 29), control(7, "Google Shopping / MPN", 1)]
    assert table_counts() == existing


def test_a_control_character_is_reported_by_check_too(tmp_path):
    path = write_csv(tmp_path / "catalog.csv", [product_row("lamp", "Lamp", **{"Variant SKU": "LAMP\x00"})])
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_products", "--check", str(path), stderr=err)

    assert f'{path}:2: column "Variant SKU": contains a control character (U+0000)' in err.getvalue()


def test_a_control_character_in_the_header_is_named_by_its_field(tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_text("Handle,Tit\x00le,Variant Price\nlamp,Lamp,10.00\n", encoding="utf-8")

    problems = import_rejected(path)

    assert problems[0] == (
        f"{path}:1: header field 2 contains a control character (U+0000); remove it "
        "(only tab and line breaks are allowed; is the file UTF-8 text?)"
    )
    assert f'{path}:1: column "Title": required column is missing' in problems
