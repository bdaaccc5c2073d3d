"""
Catalog export in Shopify's product CSV (the format of Shopify's "Export products"), which
inventory.importer reads back: exporting a catalog, importing that file into an empty shop
and exporting again gives the same bytes. It lives in inventory, next to the importer,
because Variant Inventory Qty and Variant Inventory Policy are stock.

Layout, as Shopify writes it: one row per variant, grouped by Handle. The first row of a
product carries the product's columns (Title, Body (HTML), Vendor, Type, Tags, Published,
Option1..3 Name, Gift Card, SEO Title/Description, Status) and its first variant; later rows
carry only Handle, option values and variant columns. Images go on the rows in position
order, one per row: the first image on the first row, the second on the second, and so on;
a product with more images than variants gets a row per extra image holding only Handle,
Image Src, Image Position and Image Alt Text.

Values: money with 2 decimal places ("50.00"), Variant Grams in grams, Variant Inventory Qty
the units on hand (0 when below 0: units owed on backorder are the orders', not stock to
carry over, and the import takes no negative quantity), Variant SKU always written (a
derived SKU too, so a re-import keeps the same key). Columns we hold nothing for (Product
Category, Google Shopping, Cost per item, unit prices, Variant Image, Variant Tax Code, Option
Linked To) are written empty; Variant Inventory Tracker "shopify" (our stock is tracked),
Fulfillment Service "manual", Requires Shipping and Taxable "true", Weight Unit "kg", Gift
Card "false", as Shopify writes them for a physical product.

Image Src is the URL the image was imported from; an image uploaded in the admin is written
as its absolute URL on the shop (settings.SHOP_BASE_URL); a generated placeholder that
stands in for no image at all is left out (a re-import draws one again). A product without
variants has no row Shopify or our import could read and is left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urljoin

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from catalog.models import Product, ProductImage, ProductVariant

from .selectors import with_stock

# Shopify's product CSV header, in Shopify's order (its export with the Product Category,
# Option Linked To and unit price columns; market price columns depend on a shop's markets
# and are not written). Every column inventory.importer reads is here.
PRODUCT_COLUMNS: tuple[str, ...] = (
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Product Category",
    "Type",
    "Tags",
    "Published",
    "Option1 Name",
    "Option1 Value",
    "Option1 Linked To",
    "Option2 Name",
    "Option2 Value",
    "Option2 Linked To",
    "Option3 Name",
    "Option3 Value",
    "Option3 Linked To",
    "Variant SKU",
    "Variant Grams",
    "Variant Inventory Tracker",
    "Variant Inventory Qty",
    "Variant Inventory Policy",
    "Variant Fulfillment Service",
    "Variant Price",
    "Variant Compare At Price",
    "Variant Requires Shipping",
    "Variant Taxable",
    "Unit Price Total Measure",
    "Unit Price Total Measure Unit",
    "Unit Price Base Measure",
    "Unit Price Base Measure Unit",
    "Variant Barcode",
    "Image Src",
    "Image Position",
    "Image Alt Text",
    "Gift Card",
    "SEO Title",
    "SEO Description",
    "Google Shopping / Google Product Category",
    "Google Shopping / Gender",
    "Google Shopping / Age Group",
    "Google Shopping / MPN",
    "Google Shopping / Condition",
    "Google Shopping / Custom Product",
    "Google Shopping / Custom Label 0",
    "Google Shopping / Custom Label 1",
    "Google Shopping / Custom Label 2",
    "Google Shopping / Custom Label 3",
    "Google Shopping / Custom Label 4",
    "Variant Image",
    "Variant Weight Unit",
    "Variant Tax Code",
    "Cost per item",
    "Status",
)
_INDEX = {column: i for i, column in enumerate(PRODUCT_COLUMNS)}

# Products read at a time (a server-side cursor on PostgreSQL; each chunk costs two more
# queries: variants with their stock, images), so memory stays flat however large the
# catalog is.
CHUNK_SIZE = 500


def product_rows(products: QuerySet[Product], *, chunk_size: int = CHUNK_SIZE) -> Iterator[list[str]]:
    """The rows (lists of str, one per PRODUCT_COLUMNS) of `products`, in the order they were
    created (id), one row per variant and per extra image (see the module doc). Read in
    chunks of `chunk_size` products with their variants, stock and images prefetched: two
    queries per chunk besides the products' own, none per product. Raises nothing of its own."""
    variants = with_stock(ProductVariant.objects.order_by("position", "pk"))
    images = ProductImage.objects.order_by("position", "pk")
    queryset = products.order_by("pk").prefetch_related(
        Prefetch("variants", queryset=variants), Prefetch("images", queryset=images)
    )
    for product in queryset.iterator(chunk_size=chunk_size):
        yield from _rows_of(product)


def _rows_of(product: Product) -> Iterator[list[str]]:
    variants = list(product.variants.all())
    if not variants:
        return
    images = [(src, image) for image in product.images.all() if (src := _image_src(image))]
    for index in range(max(len(variants), len(images))):
        row = [""] * len(PRODUCT_COLUMNS)
        row[_INDEX["Handle"]] = product.handle
        if index == 0:
            _product_columns(row, product)
        if index < len(variants):
            _variant_columns(row, variants[index])
        if index < len(images):
            src, image = images[index]
            row[_INDEX["Image Src"]] = src
            row[_INDEX["Image Position"]] = str(image.position)
            row[_INDEX["Image Alt Text"]] = image.alt
        yield row


def _product_columns(row: list[str], product: Product) -> None:
    values = {
        "Title": product.title,
        "Body (HTML)": product.description,
        "Vendor": product.vendor,
        "Type": product.product_type,
        "Tags": product.tags,
        "Published": "true" if product.published else "false",
        "Option1 Name": product.option1_name,
        "Option2 Name": product.option2_name,
        "Option3 Name": product.option3_name,
        "Gift Card": "false",
        "SEO Title": product.seo_title,
        "SEO Description": product.seo_description,
        "Status": "active" if product.published else "draft",
    }
    for column, value in values.items():
        row[_INDEX[column]] = value


def _variant_columns(row: list[str], variant: ProductVariant) -> None:
    values = {
        "Option1 Value": variant.option1_value,
        "Option2 Value": variant.option2_value,
        "Option3 Value": variant.option3_value,
        "Variant SKU": variant.sku,
        "Variant Grams": str(variant.grams),
        "Variant Inventory Tracker": "shopify",
        "Variant Inventory Qty": str(max(variant.stock_on_hand, 0)),  # type: ignore[attr-defined]
        "Variant Inventory Policy": variant.stock_policy,  # type: ignore[attr-defined]
        "Variant Fulfillment Service": "manual",
        "Variant Price": _money(variant.price),
        "Variant Compare At Price": _money(variant.compare_at_price),
        "Variant Requires Shipping": "true",
        "Variant Taxable": "true",
        "Variant Barcode": variant.barcode,
        "Variant Weight Unit": "kg",
    }
    for column, value in values.items():
        row[_INDEX[column]] = value


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _image_src(image: ProductImage) -> str:
    if image.source_url:
        return image.source_url
    if image.is_placeholder or not image.image:
        return ""
    return urljoin(settings.SHOP_BASE_URL, image.image.url)
