"""The sitemap's sections (django.contrib.sitemaps): every published product and every
category that holds one, with `lastmod` from their last update. URLs are absolute on the
host the sitemap was asked on (no django.contrib.sites: Django then uses the request's)."""

from __future__ import annotations

from datetime import datetime

from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet

from catalog.models import Category, Product
from catalog.selectors import category_updates, published_product_updates

from .head import listing_path


class ProductSitemap(Sitemap):
    """Published products, by id; lastmod is the product's updated_at."""

    def items(self) -> QuerySet[Product]:
        return published_product_updates()

    def location(self, item: Product) -> str:
        return item.get_absolute_url()

    def lastmod(self, item: Product) -> datetime:
        return item.updated_at


class CategorySitemap(Sitemap):
    """The categories the shop lists (those holding a published product), each at its
    listing; lastmod is the newest update of its published products."""

    def items(self) -> QuerySet[Category]:
        return category_updates()

    def location(self, item: Category) -> str:
        return listing_path(item.slug)

    def lastmod(self, item: Category) -> datetime:
        return item.updated_at  # type: ignore[attr-defined]  # annotated by category_updates


SITEMAPS: dict[str, type[Sitemap]] = {"products": ProductSitemap, "categories": CategorySitemap}
