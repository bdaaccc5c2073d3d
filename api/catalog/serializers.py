"""Input and output shapes of the catalog API."""

from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Category, ProductImage
from catalog.search import RELEVANCE
from catalog.selectors import SORTS, ProductFilters

ORDERINGS = (*SORTS, RELEVANCE)  # title, price, -price, newest, relevance


class ProductQuerySerializer(serializers.Serializer):
    """The query string of GET products/ (page and limit belong to the pagination)."""

    q = serializers.CharField(
        max_length=200,
        allow_blank=True,
        default="",
        help_text=(
            "Words in the title, description, vendor, type, tags or SKU, read as a web search: "
            '"a phrase", -excluded, or; a SKU or its start. Ranked best match first.'
        ),
    )
    category = serializers.SlugField(max_length=140, allow_blank=True, default="", help_text="A category slug.")
    min_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False)
    max_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False)
    in_stock = serializers.BooleanField(default=False, help_text="Only products that can be bought now.")
    ordering = serializers.ChoiceField(
        choices=ORDERINGS,
        required=False,
        help_text="Default: relevance (best match first, ties by title) with q, else title.",
    )

    def validate(self, attrs):
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"max_price": [_("Must be at least min_price.")]})
        return attrs

    def filters(self) -> ProductFilters:
        data = self.validated_data
        return ProductFilters(
            q=data["q"].strip(),
            category=data["category"],
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            in_stock=data["in_stock"],
            sort=data.get("ordering") or (RELEVANCE if data["q"].strip() else "title"),
        )


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ("name", "slug")


class ImageSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="About 800 px wide.")
    thumbnail = serializers.SerializerMethodField(help_text="About 200 px wide.")
    srcset = serializers.SerializerMethodField(help_text='For <img srcset>: "<url> 200w, <url> 400w, …".')

    class Meta:
        model = ProductImage
        fields = ("url", "thumbnail", "srcset", "alt")

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request and url else url

    def get_url(self, image) -> str:
        return self._absolute(image.url)

    def get_thumbnail(self, image) -> str:
        return self._absolute(image.thumbnail_small)

    def get_srcset(self, image) -> str:
        # The model's srcset ("<url> 200w, …") with absolute URLs, for clients off the site.
        candidates = (part.rsplit(" ", 1) for part in image.srcset.split(", ") if part)
        return ", ".join(f"{self._absolute(url)} {width}" for url, width in candidates)


class ProductListItemSerializer(serializers.Serializer):
    handle = serializers.CharField()
    title = serializers.CharField()
    category = CategorySerializer(allow_null=True)
    min_price = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text="Cheapest variant."
    )
    currency = serializers.SerializerMethodField()
    in_stock = serializers.BooleanField()
    image = serializers.SerializerMethodField()

    def get_currency(self, product) -> str:
        return settings.SHOP_CURRENCY

    @extend_schema_field(ImageSerializer(allow_null=True))
    def get_image(self, product):
        images = list(product.images.all())  # prefetched by the selector
        return ImageSerializer(images[0], context=self.context).data if images else None


class VariantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    title = serializers.CharField(help_text='"Small / Red"; empty for a product with one variant.')
    options = serializers.ListField(child=serializers.CharField(), source="option_values")
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    compare_at_price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    available = serializers.SerializerMethodField(help_text="Units available now (on hand − live reservations).")
    in_stock = serializers.SerializerMethodField(help_text="Can be bought now (units available, or sold on backorder).")
    backorder = serializers.BooleanField(help_text="Keeps selling when sold out.")

    def get_available(self, variant) -> int:
        return max(variant.available, 0)

    def get_in_stock(self, variant) -> bool:
        return variant.available > 0 or variant.backorder


class ProductDetailSerializer(serializers.Serializer):
    handle = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField(help_text="HTML.")
    vendor = serializers.CharField()
    product_type = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(), source="tag_list")
    category = CategorySerializer(allow_null=True)
    currency = serializers.SerializerMethodField()
    options = serializers.ListField(child=serializers.CharField(), source="option_names")
    variants = VariantSerializer(many=True)
    images = ImageSerializer(many=True)

    def get_currency(self, product) -> str:
        return settings.SHOP_CURRENCY
