"""Structured data (schema.org in JSON-LD) and link-preview facts of the catalog's pages,
built from the objects the page renders: the product as inventory.selectors.product_detail
reads it (variants with live availability, images, rating), the breadcrumbs the page shows.
No query of its own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from catalog.models import Category, Product, ProductVariant
from storefront.catalog.picker import availability_text

from .head import absolute_url, listing_path, plain_text, summary

SCHEMA = "https://schema.org"
# The page's availability status (storefront.catalog.picker.availability_text) as schema.org's.
AVAILABILITY = {
    "in": f"{SCHEMA}/InStock",
    "low": f"{SCHEMA}/InStock",
    "backorder": f"{SCHEMA}/BackOrder",
    "out": f"{SCHEMA}/OutOfStock",
}
# Characters that could end the <script> element or open a comment in it, as JSON escapes
# (what django.utils.html.json_script does).
_JSON_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


@dataclass(frozen=True)
class Crumb:
    name: str
    path: str


@dataclass
class ProductSeo:
    """What the product page's <head> says about it: `description` (plain text, at most
    DESCRIPTION_CHARS), `image` (absolute URL, "" without one), `price` (Decimal in shop
    currency units, None without variants) of the variant shown, `currency`, `crumbs` (the
    breadcrumb trail the page shows, last the product) and `json_ld` (the schema.org objects:
    Product, BreadcrumbList)."""

    description: str
    image: str
    price: Decimal | None
    currency: str
    crumbs: list[Crumb]
    json_ld: list[dict[str, Any]] = field(default_factory=list)


def json_ld_script(data: Any, nonce: str = "") -> SafeString:
    """`data` as <script type="application/ld+json">, with <, > and & escaped inside the
    JSON so no value can end the element, and the CSP nonce of the response when given."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_JSON_ESCAPES)
    if nonce:
        return format_html('<script type="application/ld+json" nonce="{}">{}</script>', nonce, SafeString(text))
    return format_html('<script type="application/ld+json">{}</script>', SafeString(text))


def breadcrumb_list(request: HttpRequest | None, crumbs: list[Crumb]) -> dict[str, Any]:
    """schema.org BreadcrumbList of `crumbs`, positions from 1, absolute URLs."""
    return {
        "@context": SCHEMA,
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": n, "name": crumb.name, "item": absolute_url(request, crumb.path)}
            for n, crumb in enumerate(crumbs, 1)
        ],
    }


def website(request: HttpRequest | None) -> dict[str, Any]:
    """schema.org WebSite of the shop with its search (the listing's ?q=), for the home page."""
    return {
        "@context": SCHEMA,
        "@type": "WebSite",
        "name": settings.SITE_NAME,
        "url": absolute_url(request, reverse("catalog:home")),
        "potentialAction": {
            "@type": "SearchAction",
            "target": {
                "@type": "EntryPoint",
                "urlTemplate": absolute_url(request, listing_path()) + "?q={search_term_string}",
            },
            "query-input": "required name=search_term_string",
        },
    }


def listing_crumbs(category: Category | None) -> list[Crumb]:
    """Home › All products (› the category): the listing's trail."""
    crumbs = [
        Crumb(_("Home"), reverse("catalog:home")),
        Crumb(_("All products"), listing_path()),
    ]
    if category is not None:
        crumbs.append(Crumb(category.name, listing_path(category.slug)))
    return crumbs


def product_crumbs(product: Product) -> list[Crumb]:
    """Home › the product's category (or All products) › the product: the trail the product
    page shows above it."""
    category = product.category
    middle = Crumb(category.name, listing_path(category.slug)) if category else Crumb(_("All products"), listing_path())
    return [Crumb(_("Home"), reverse("catalog:home")), middle, Crumb(product.title, product.get_absolute_url())]


def _offer(request: HttpRequest | None, product: Product, variant: ProductVariant, currency: str) -> dict[str, Any]:
    status, _words = availability_text(variant)
    url = f"{product.get_absolute_url()}?variant={variant.pk}"
    offer: dict[str, Any] = {
        "@type": "Offer",
        "sku": variant.sku,
        "price": str(variant.price),
        "priceCurrency": currency,
        "availability": AVAILABILITY[status],
        "url": absolute_url(request, url),
        "itemCondition": f"{SCHEMA}/NewCondition",
    }
    if variant.title:
        offer["name"] = f"{product.title} – {variant.title}"
    return offer


def product_seo(
    request: HttpRequest | None,
    product: Product,
    variants: list[ProductVariant],
    selected: ProductVariant | None,
) -> ProductSeo:
    """The product page's SEO facts for `product` as inventory.selectors.product_detail
    reads it (`variants` with `available` and `backorder`, its images prefetched,
    `rating_count` and `rating_average` annotated) with `selected` the variant the page shows.
    Availability is the page's own (storefront.catalog.picker.availability_text): in stock or
    "only N left" → InStock, backorder → BackOrder, sold out → OutOfStock. No query."""
    currency = settings.SHOP_CURRENCY
    text = plain_text(product.description)
    description = summary(product.seo_description or text) or _("%(product)s at %(shop)s.") % {
        "product": product.title,
        "shop": settings.SITE_NAME,
    }
    images = [absolute_url(request, image.url) for image in product.images.all() if image.url]
    crumbs = product_crumbs(product)
    data: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "Product",
        "name": product.title,
        "url": absolute_url(request, product.get_absolute_url()),
        "description": text or description,
        "offers": [_offer(request, product, v, currency) for v in variants],
    }
    if len(variants) == 1:  # several: each offer carries its own
        data["sku"] = variants[0].sku
    if product.vendor:
        data["brand"] = {"@type": "Brand", "name": product.vendor}
    if images:
        data["image"] = images
    if product.category:
        data["category"] = product.category.name
    rating_count = getattr(product, "rating_count", 0) or 0
    if rating_count:
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": str(round(Decimal(product.rating_average), 1)),
            "reviewCount": rating_count,
            "bestRating": 5,
            "worstRating": 1,
        }
    return ProductSeo(
        description=description,
        image=images[0] if images else "",
        price=selected.price if selected is not None else None,
        currency=currency,
        crumbs=crumbs,
        json_ld=[data, breadcrumb_list(request, crumbs)],
    )
