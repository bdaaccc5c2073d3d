import csv
import io
from collections.abc import Sequence
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

# The shared Shopify sample (../shared/data/shopify beside the repository: /work/shared), read
# in place, never copied into the repository.
SHOPIFY_DIR = Path(settings.BASE_DIR).parent / "shared" / "data" / "shopify"


def shopify_sample(*names: str) -> list[Path]:
    """The files `names` of the shared Shopify sample; skips the test when any is absent."""
    paths = [SHOPIFY_DIR / name for name in names]
    if not all(path.exists() for path in paths):
        pytest.skip(f"the shared Shopify exports are not in {SHOPIFY_DIR}")
    return paths


def csv_rows_write(path: Path, header: Sequence[str], rows: list[dict[str, str]]) -> Path:
    """Writes `rows` (dicts of column -> value; a missing column is blank, one not in `header`
    left out) under `header` as CSV with LF line endings, as Shopify's exports are."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows([{col: row.get(col, "") for col in header} for row in rows])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _language_reset():
    """Each test starts and ends in the shop's default language: LocaleMiddleware activates a
    request's language in the thread and leaves it there, so a test whose client asked for
    German would otherwise leave the next test rendering emails in German."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _stocked_count_reset():
    """Each test starts with no count of the stocked rows kept in the process (the in-stock
    filter's, inventory.selectors._stocked_few): which queries a listing runs must not depend
    on the tests before it."""
    import inventory.selectors

    inventory.selectors._stocked_count = None


@pytest.fixture
def customers_csv() -> Path:
    """The shared sample's customers export."""
    return shopify_sample("customers.csv")[0]
