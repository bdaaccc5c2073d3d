"""Keeps the catalog page cache (catalog.cache) true: staff edits retire every entry, stock
changes retire the listings and the affected products' pages. Keeps the products' search
vectors (catalog/search.py) current: a product saved, a variant saved or deleted recomputes
its product's vector in the same transaction. Connected in CatalogConfig.ready.

availability_changed is declared here, where it is heard, and sent by inventory.services:
inventory knows catalog, catalog must not know inventory. It is sent after the commit of
every write that changes what a variant shows as available (reserve, release, adjustment,
receipt, expiry sweep, backorder policy; not a sale, which turns held units into sold ones),
with `variant_ids`, a frozenset of ProductVariant primary keys, `sold_out_changed`,
whether one of them may have gone from sellable to sold out or back, and `handles`, a
frozenset of their products' handles, or None when the sender did not read them.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from . import cache
from .models import Category, Product, ProductImage, ProductReview, ProductVariant
from .services import product_search_vector_update

availability_changed = Signal()

EDITED_MODELS = (Category, Product, ProductVariant, ProductImage, ProductReview)


def _edited(sender, **kwargs) -> None:
    cache.catalog_edited()


for model in EDITED_MODELS:
    post_save.connect(_edited, sender=model, dispatch_uid=f"catalog-cache-save-{model.__name__}")
    post_delete.connect(_edited, sender=model, dispatch_uid=f"catalog-cache-delete-{model.__name__}")


# What a product's search vector is made of (catalog.search.search_vector): a save that names
# its update_fields and none of these leaves the vector as it is.
PRODUCT_SEARCHED_FIELDS = frozenset({"title", "description", "vendor", "product_type", "tags"})
VARIANT_SEARCHED_FIELDS = frozenset({"sku", "product"})


@receiver(post_save, sender=Product, dispatch_uid="catalog-search-product-save")
def _product_saved(sender, instance: Product, update_fields=None, **kwargs) -> None:
    if update_fields is None or PRODUCT_SEARCHED_FIELDS & set(update_fields):
        product_search_vector_update([instance.pk])


@receiver(post_save, sender=ProductVariant, dispatch_uid="catalog-search-variant-save")
def _variant_saved(sender, instance: ProductVariant, update_fields=None, **kwargs) -> None:
    if update_fields is None or VARIANT_SEARCHED_FIELDS & set(update_fields):
        product_search_vector_update([instance.product_id])


@receiver(post_delete, sender=ProductVariant, dispatch_uid="catalog-search-variant-delete")
def _variant_deleted(sender, instance: ProductVariant, **kwargs) -> None:
    product_search_vector_update([instance.product_id])


@receiver(availability_changed, dispatch_uid="catalog-cache-availability")
def _availability_changed(sender, variant_ids, sold_out_changed=True, handles=None, **kwargs) -> None:
    # `handles`: the products' handles when the sender read them already (the reserve, in
    # its locked statement), which saves a query on the checkout's hot path.
    if handles is None:
        handles = ProductVariant.objects.filter(pk__in=variant_ids).values_list("product__handle", flat=True)
    cache.availability_changed(handles, listings=sold_out_changed)
