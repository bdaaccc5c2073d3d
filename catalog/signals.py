"""Keeps the catalog page cache (catalog.cache) true: staff edits retire every entry, stock
changes retire the listings and the affected products' pages. Connected in CatalogConfig.ready."""
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from inventory.signals import availability_changed

from . import cache
from .models import Category, Product, ProductImage, ProductReview, ProductVariant

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
