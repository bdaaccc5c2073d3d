"""
The catalog: categories, products, variants (the unit that is stocked and sold, with its SKU)
and product images. Prices are Decimal amounts in the shop currency (settings.SHOP_CURRENCY).
Field names follow Shopify's product CSV, which `import_products` reads.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, GistIndex, OpClass
from django.contrib.postgres.search import SearchVectorField
from django.core.files.storage import default_storage
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=140, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    handle = models.SlugField(max_length=255, unique=True)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, help_text="HTML, as in Shopify's Body (HTML).")
    vendor = models.CharField(max_length=255, blank=True)
    product_type = models.CharField(max_length=255, blank=True)
    tags = models.CharField(max_length=1000, blank=True, help_text="Comma-separated.")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products")
    published = models.BooleanField(default=True)
    featured = models.BooleanField(default=False)
    seo_title = models.CharField(max_length=255, blank=True)
    seo_description = models.CharField(max_length=1000, blank=True)
    # Shopify keeps option names on the product and option values on each variant.
    option1_name = models.CharField(max_length=255, blank=True)
    option2_name = models.CharField(max_length=255, blank=True)
    option3_name = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Full-text search (PostgreSQL only, NULL under SQLite): title (weight A); the variants'
    # SKUs, vendor, product type and tags (B); the description without its HTML (C), in the
    # SEARCH_CONFIG language. Written by catalog.services.product_search_vector_update, never
    # by save(): the model signals and the import call it (catalog/search.py).
    search_vector = SearchVectorField(null=True, editable=False)
    # The cheapest variant's price (currency units; NULL without variants), for the listing's
    # price order and range. Kept by the database in the transaction of every change, never
    # by Django (migration 0006): triggers on the variants recompute it for their product,
    # and any write of a product recomputes it, so a product saved from a form read before a
    # price change cannot write back the old figure.
    lowest_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, editable=False)

    class Meta:
        ordering = ["title"]
        indexes = [
            # Search (catalog/search.py): the stored vector for websearch queries; the title's
            # trigrams for the "did you mean" fallback, GiST for its nearest-first order (the
            # closest title of 10,000 in about 2 ms, where GIN needs a lowered session-wide
            # similarity threshold to be used at all). Created on PostgreSQL only (0004).
            GinIndex(fields=["search_vector"], name="product_search_vector_idx"),
            GistIndex(fields=["title"], opclasses=["gist_trgm_ops"], name="product_title_trgm_idx"),
            # The listing's default and "newest" orders: the first page is read off the index,
            # its prices and stock computed for those rows only (catalog.selectors).
            models.Index(fields=["title", "id"], condition=models.Q(published=True), name="product_listing_title_idx"),
            models.Index(
                fields=["-created_at", "-id"], condition=models.Q(published=True), name="product_listing_newest_idx"
            ),
            # A category's listing in title order, and the home page's featured products: read
            # off these, not by walking the whole catalog's title index for the few that match
            # (a category page took 140 ms of queries at 100,000 products, 1 ms with it).
            models.Index(
                fields=["category", "title", "id"],
                condition=models.Q(published=True),
                name="product_listing_category_idx",
            ),
            models.Index(
                fields=["title", "id"],
                condition=models.Q(published=True, featured=True),
                name="product_featured_title_idx",
            ),
            # The listing by price: the first page read off the index, not the cheapest
            # variant of every product worked out and sorted (0.6 s at 100,000 products).
            models.Index(
                fields=["lowest_price", "id"], condition=models.Q(published=True), name="product_listing_price_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("catalog:product_detail", args=[self.handle])

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.tags.split(",") if t.strip()]

    @property
    def option_names(self) -> list[str]:
        return [n for n in (self.option1_name, self.option2_name, self.option3_name) if n]


class ProductVariant(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField("SKU", max_length=100, unique=True)
    option1_value = models.CharField(max_length=255, blank=True)
    option2_value = models.CharField(max_length=255, blank=True)
    option3_value = models.CharField(max_length=255, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))])
    compare_at_price = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    grams = models.PositiveIntegerField("weight (grams)", default=0)
    barcode = models.CharField(max_length=100, blank=True)
    position = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["product_id", "position", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="variant_price_gte_0"),
        ]
        indexes = [
            # A SKU or its start, case-insensitive (sku__istartswith: UPPER(sku) LIKE 'X%'),
            # for search (catalog/search.py). PostgreSQL only (0004).
            models.Index(OpClass(Upper("sku"), name="text_pattern_ops"), name="variant_sku_upper_prefix_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.product.title} – {self.title}" if self.title else self.product.title

    @property
    def option_values(self) -> list[str]:
        return [v for v in (self.option1_value, self.option2_value, self.option3_value) if v]

    @property
    def title(self) -> str:
        """ "Small / Red"; empty for Shopify's single "Default Title" variant."""
        values = self.option_values
        return "" if values == ["Default Title"] else " / ".join(values)

    @property
    def on_sale(self) -> bool:
        return self.compare_at_price is not None and self.compare_at_price > self.price


def product_image_path(instance: "ProductImage", filename: str) -> str:
    return f"products/{instance.product.handle}/{filename}"


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to=product_image_path, blank=True)
    # Thumbnails made with Pillow: {"200": "products/<handle>/x-200.webp", ...}
    thumbnails = models.JSONField(default=dict, blank=True)
    source_url = models.URLField(max_length=1000, blank=True)
    alt = models.CharField(max_length=512, blank=True)
    position = models.PositiveIntegerField(default=1)
    is_placeholder = models.BooleanField(
        default=False, help_text="The source could not be fetched; a generated image stands in."
    )

    class Meta:
        ordering = ["product_id", "position", "pk"]

    def __str__(self) -> str:
        return self.alt or f"{self.product.title} #{self.position}"

    def url_for_width(self, width: int) -> str:
        """URL of the WebP thumbnail closest to `width` pixels (or the original image)."""
        if self.thumbnails:
            best = min(self.thumbnails, key=lambda w: abs(int(w) - width))
            return default_storage.url(self.thumbnails[best])
        return self.image.url if self.image else ""

    @property
    def url(self) -> str:
        return self.url_for_width(800)

    @property
    def thumbnail_small(self) -> str:
        return self.url_for_width(200)

    @property
    def srcset(self) -> str:
        """ "<url> 200w, <url> 400w, …" for <img srcset>."""
        return ", ".join(
            f"{default_storage.url(path)} {width}w"
            for width, path in sorted(self.thumbnails.items(), key=lambda item: int(item[0]))
        )


class ProductViewStat(models.Model):
    """How many times a product's page was viewed, as of the last flush.

    The page never writes here: it bumps a counter in the cache (catalog.services.
    product_view_record) and the beat task catalog.tasks.flush_product_views adds the cached
    counts to this row every PRODUCT_VIEWS_FLUSH_SECONDS. The figure therefore lags by up to
    one flush interval, and views counted in the cache but not yet flushed are lost if the
    cache is wiped (at most one interval's worth).
    """

    product = models.OneToOneField(Product, on_delete=models.CASCADE, primary_key=True, related_name="view_stat")
    views = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "product view count"

    def __str__(self) -> str:
        return f"{self.product_id}: {self.views} views"


class ProductReview(models.Model):
    """A buyer's review of a product. Who may write one is orders' rule (only a buyer:
    orders.services.review_submit); it shows on the shop only once staff approve it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    MIN_RATING = 1
    MAX_RATING = 5
    TITLE_MAX_LENGTH = 120
    TEXT_MAX_LENGTH = 5000

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="product_reviews")
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_RATING), MaxValueValidator(MAX_RATING)],
        help_text="1 (poor) to 5 (excellent).",
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    text = models.TextField(max_length=TEXT_MAX_LENGTH)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    moderated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__gte=1, rating__lte=5), name="product_review_rating_1_to_5"
            ),
            # One review per buyer and product; a second submission is refused, even in a race.
            models.UniqueConstraint(fields=["product", "user"], name="product_review_one_per_user"),
        ]
        # The product page reads a product's approved reviews, newest first.
        indexes = [models.Index(fields=["product", "status", "-created_at"], name="review_product_status_idx")]

    def __str__(self) -> str:
        return f"{self.product_id} ★{self.rating} by {self.user_id} ({self.status})"
