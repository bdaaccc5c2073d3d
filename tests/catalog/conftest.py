"""Catalog test helpers. The network is faked at urllib's boundary: every download fails the
way it does on a machine without internet, unless a test installs its own responder."""

import csv
import io
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from catalog.models import Category, Product, ProductImage, ProductVariant
from inventory.models import StockItem, StockMovement
from tests.conftest import SHOPIFY_DIR as SHOPIFY_DIR  # imported from here by other tests
from tests.conftest import csv_rows_write, shopify_sample

DEMO_CSV = Path(settings.BASE_DIR) / "catalog" / "fixtures" / "demo-catalog.csv"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Records the URLs asked for and answers every one with a DNS failure."""
    requested: list[str] = []

    def urlopen(request, timeout=None):
        requested.append(getattr(request, "full_url", request))
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return requested


class FakeResponse(io.BytesIO):
    """What urllib.request.urlopen returns, as far as fetch_image cares."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def respond_with(monkeypatch):
    """respond_with(data): every download answers `data`."""

    def install(data: bytes) -> None:
        def urlopen(request, timeout=None):
            return FakeResponse(data)

        monkeypatch.setattr(urllib.request, "urlopen", urlopen)

    return install


@pytest.fixture
def shopify_files() -> list[Path]:
    return shopify_sample("apparel.csv", "home-and-garden.csv")


def table_counts() -> dict[str, int]:
    """Rows of each table an import writes, by model name."""
    return {
        model.__name__: model.objects.count()
        for model in (Category, Product, ProductVariant, ProductImage, StockItem, StockMovement)
    }


def media_files() -> set[str]:
    """The files under MEDIA_ROOT (images and thumbnails), relative to it."""
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def csv_header() -> list[str]:
    """Shopify's product CSV header, as in our demo catalog."""
    with DEMO_CSV.open(encoding="utf-8") as fh:
        return next(csv.reader(fh))


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    """Writes `rows` (dicts of column -> value, missing columns blank) as a Shopify CSV."""
    return csv_rows_write(path, header or csv_header(), rows)


def product_row(handle: str, title: str, **values: str) -> dict[str, str]:
    """The first row of a product with one "Default Title" variant, overridable by column."""
    row = {
        "Handle": handle,
        "Title": title,
        "Body (HTML)": f"<p>{title}</p>",
        "Vendor": "Test Vendor",
        "Type": "Things",
        "Published": "true",
        "Option1 Name": "Title",
        "Option1 Value": "Default Title",
        "Variant Grams": "100",
        "Variant Inventory Qty": "5",
        "Variant Price": "10.00",
        "Image Src": f"https://images.example.invalid/{handle}.jpg",
        "Image Position": "1",
    }
    row.update(values)
    return row
