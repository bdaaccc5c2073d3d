"""Fixtures of the order import and export tests: the shared Shopify sample (skipped when
../shared is absent) and its catalogs imported offline."""

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from inventory.importer import catalog_import
from tests.conftest import shopify_sample

from .shopify import CATALOGS, ORDERS_CSV


@pytest.fixture
def offline(monkeypatch):
    """Every image download fails at once, as on a machine without internet."""

    def urlopen(request, timeout=None):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


@pytest.fixture
def orders_csv() -> Path:
    shopify_sample(ORDERS_CSV.name, *(path.name for path in CATALOGS))
    return ORDERS_CSV


@pytest.fixture
def shopify_catalog(db, offline, orders_csv):
    """The two sample catalogs imported (what a merchant does before import_orders)."""
    catalog_import(paths=CATALOGS)
