"""Keeps the catalog page cache (catalog.cache) true: staff edits retire every entry, stock
changes retire the listings and the affected products' pages. Connected in CatalogConfig.ready.

availability_changed is declared here, where it is heard, and sent by inventory.services:
inventory knows catalog, catalog must not know inventory. It is sent after the commit of
every write that changes what a variant shows as available (reserve, release, adjustment,
receipt, expiry sweep, backorder policy; not a sale, which turns held units into sold ones),
with `variant_ids`, a frozenset of ProductVariant primary keys, and `sold_out_changed`,
whether one of them may have gone from sellable to sold out or back.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from . import cache
from .models import Category, Product, ProductImage, ProductReview, ProductVariant

availability_changed = Signal()

EDITED_MODELS = (Category, Product, ProductVariant, ProductImage, ProductReview)


def _edited(sender, **kwargs) -> None:
    cache.catalog_edited()


for model in EDITED_MODELS:
    post_save.connect(_edited, sender=model, dispatch_uid=f"catalog-cache-save-{model.__name__}")
    post_delete.connect(_edited, sender=model, dispatch_uid=f"catalog-cache-delete-{model.__name__}")


@receiver(availability_changed, dispatch_uid="catalog-cache-availability")
def _availability_changed(sender, variant_ids, sold_out_changed=True, **kwargs) -> None:
    handles = ProductVariant.objects.filter(pk__in=variant_ids).values_list("product__handle", flat=True)
    cache.availability_changed(handles, listings=sold_out_changed)
