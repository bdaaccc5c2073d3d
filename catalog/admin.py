"""The catalog in the back office: categories, products with their variants and images,
review moderation.

ProductVariant has its own admin in inventory/admin.py: its page is the stock page (on hand,
ledger, "Adjust stock"), and catalog must not import inventory. The stock figures beside the
variants on a product's page are added by the back office (backoffice/catalog.py).
"""

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.core.files.storage import default_storage
from django.db import models
from django.db.models import BigIntegerField, Count, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.html import format_html

from .models import Category, Product, ProductImage, ProductReview, ProductVariant
from .services import reviews_moderate

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _ProductCounts(TypedDict):
    """What ProductAdmin.get_queryset annotates on each product."""

    n_variants: int
    n_views: int


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class ProductVariantInline(admin.TabularInline):
    model = ProductVariant
    fields = (
        "sku",
        "option1_value",
        "option2_value",
        "option3_value",
        "price",
        "compare_at_price",
        "grams",
        "barcode",
        "position",
    )
    extra = 0
    # The variant's own page holds its stock ledger and the "Adjust stock" form.
    show_change_link = True


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    fields = ("preview", "image", "source_url", "alt", "position", "is_placeholder")
    readonly_fields = ("preview", "is_placeholder")
    extra = 0
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="preview")
    def preview(self, image: ProductImage) -> str:
        if image.thumbnails.get("200"):
            url = default_storage.url(image.thumbnails["200"])
        elif image.image:
            url = image.image.url
        else:
            return "–"
        return format_html('<img src="{}" alt="{}" width="100" loading="lazy">', url, image.alt)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("title", "handle", "category", "published", "featured", "variant_count", "view_count")
    list_filter = ("published", "featured", "category", "vendor")
    list_select_related = ("category",)
    search_fields = ("handle", "title", "variants__sku")
    prepopulated_fields = {"handle": ("title",)}
    autocomplete_fields = ("category",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("title", "handle", "category", "published", "featured")}),
        ("Description", {"fields": ("description", "vendor", "product_type", "tags")}),
        ("Options", {"fields": ("option1_name", "option2_name", "option3_name")}),
        ("SEO", {"fields": ("seo_title", "seo_description"), "classes": ("collapse",)}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    inlines = (ProductVariantInline, ProductImageInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        # Views as of the last flush from the cache (catalog.tasks.flush_product_views).
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_variants=Count("variants"),
                n_views=Coalesce("view_stat__views", Value(0), output_field=BigIntegerField()),
            )
        )

    @admin.display(description="variants", ordering="n_variants")
    def variant_count(self, product: "WithAnnotations[Product, _ProductCounts]") -> int:
        return product.n_variants

    @admin.display(description="page views", ordering="n_views")
    def view_count(self, product: "WithAnnotations[Product, _ProductCounts]") -> int:
        return product.n_views


@admin.register(ProductReview)
class ProductReviewAdmin(admin.ModelAdmin):
    """Moderation: reviews are written by buyers on the shop (orders.services.review_submit)
    and show there once approved. Staff approve or reject; they never edit what a buyer wrote."""

    list_display = ("product", "rating", "title", "user", "status", "created_at", "moderated_at")
    list_filter = ("status", "rating", "created_at")
    list_select_related = ("product", "user")
    search_fields = ("product__title", "product__handle", "user__email", "title", "text")
    date_hierarchy = "created_at"
    fields = ("product", "user", "rating", "title", "text", "status", "created_at", "moderated_at")
    readonly_fields = fields
    actions = ("approve_reviews", "reject_reviews")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def _moderate(self, request: HttpRequest, queryset: QuerySet[ProductReview], status: str) -> None:
        changed = reviews_moderate(reviews=queryset, status=status)
        label = ProductReview.Status(status).label.lower()
        self.message_user(request, f"{changed} review(s) {label}.", messages.SUCCESS)

    @admin.action(description="Approve selected reviews (show them on the shop)", permissions=["change"])
    def approve_reviews(self, request: HttpRequest, queryset: QuerySet[ProductReview]) -> None:
        self._moderate(request, queryset, ProductReview.Status.APPROVED)

    @admin.action(description="Reject selected reviews (hide them)", permissions=["change"])
    def reject_reviews(self, request: HttpRequest, queryset: QuerySet[ProductReview]) -> None:
        self._moderate(request, queryset, ProductReview.Status.REJECTED)
