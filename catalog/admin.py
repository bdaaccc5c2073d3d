"""The catalog in the back office: categories, products with their variants and images,
review moderation.

ProductVariant has its own admin in inventory/admin.py: its page is the stock page (on hand,
ledger, "Adjust stock"), and catalog must not import inventory. The stock figures beside the
variants on a product's page are added by the back office (backoffice/catalog.py).
"""

from typing import TYPE_CHECKING, TypedDict

import nh3
from django import forms
from django.contrib import admin, messages
from django.core.files.storage import default_storage
from django.db import models
from django.db.models import BigIntegerField, Count, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.html import format_html, strip_tags

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

    def get_fields(self, request: HttpRequest, obj: Product | None = None):
        """Only the option columns the product names (all three while it has none yet), so
        the table fits the page."""
        fields = super().get_fields(request, obj)
        named = {f"option{n}_value" for n in (1, 2, 3) if obj is None or getattr(obj, f"option{n}_name")}
        if obj is not None and not named:
            named = {"option1_value"}
        return [
            field for field in fields if not (isinstance(field, str) and field.startswith("option")) or field in named
        ]


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


def sanitised_description(html: str) -> str:
    """A description as it is stored: formatting kept, scripts, event handlers and other
    active content removed (nh3's default allow-list, as the shop's pages apply when they show
    it); blank when nothing readable is left (an emptied editor sends "<p><br></p>")."""
    cleaned = nh3.clean(html or "").strip()
    return cleaned if strip_tags(cleaned).strip() or "<img" in cleaned else ""


class DescriptionEditor(forms.Textarea):
    """The description's textarea, which static/js/admin-description.js turns into a
    formatted-text editor (bold, italic, lists, links; no HTML to type). Without JavaScript
    the textarea stays, holding the HTML."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"data-rich-text": "", "rows": 10, **(attrs or {})})

    class Media:
        js = ("js/admin-description.js",)


class ProductAdminForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose
        widgets = {"description": DescriptionEditor}
        help_texts = {
            "description": "Bold, italic, lists and links from the buttons (or Ctrl+B, Ctrl+I). "
            "Saved as HTML without scripts or other active content."
        }

    def clean_description(self) -> str:
        return sanitised_description(self.cleaned_data["description"])


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
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
