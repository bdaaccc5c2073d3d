"""
What checkout prices with, all configured by staff in the admin: shipping methods (flat or
by weight band, limited to countries, free over a threshold), tax rates per country, and
vouchers with the record of every use. The arithmetic lives in checkout.pricing; these
models only hold the figures.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField

from kernel.addresses import country_rules


class ShippingMethod(models.Model):
    """A way to ship, configured by staff in the admin.

    Flat methods cost `price`; weight-based ones cost the price of the first band whose
    `max_grams` holds the cart's weight (Σ variant grams × quantity), and a cart heavier than
    the last band cannot use them. A method with countries ships only there (none: anywhere).
    With `free_over` set, the cart ships free once its goods, after any voucher discount, come
    to that amount or more.
    """

    class Kind(models.TextChoices):
        FLAT = "flat", "Flat rate"
        WEIGHT = "weight", "By weight"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FLAT)
    price = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text="Flat rate only; weight-based methods take the price of their band.",
    )
    free_over = models.DecimalField(
        "free from",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text="Ships free when the goods, after discount, come to this or more. Empty: never free.",
    )
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "price", "pk"]

    def __str__(self) -> str:
        if self.kind == self.Kind.WEIGHT:
            return f"{self.name} (by weight)"
        return f"{self.name} ({self.price})"


class ShippingRateBand(models.Model):
    """Up to `max_grams` (inclusive) the weight-based method costs `price`."""

    method = models.ForeignKey(ShippingMethod, on_delete=models.CASCADE, related_name="bands")
    max_grams = models.PositiveIntegerField("up to (grams)")
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))])

    class Meta:
        ordering = ["method_id", "max_grams"]
        constraints = [
            models.UniqueConstraint(fields=["method", "max_grams"], name="shipping_band_method_max_grams_unique"),
        ]

    def __str__(self) -> str:
        return f"up to {self.max_grams} g: {self.price}"


class ShippingMethodCountry(models.Model):
    """A country the method ships to; a method with none ships everywhere."""

    method = models.ForeignKey(ShippingMethod, on_delete=models.CASCADE, related_name="countries")
    country = CountryField()

    class Meta:
        ordering = ["method_id", "country"]
        verbose_name_plural = "countries"
        constraints = [
            models.UniqueConstraint(fields=["method", "country"], name="shipping_method_country_unique"),
        ]

    def __str__(self) -> str:
        return str(self.country.name)


class TaxRate(models.Model):
    """The tax rate of a country, or of one subdivision of it (a US state, a Canadian
    province: `country_area`, its code as addresses store it, e.g. "CA" for California), as a
    fraction (Decimal("0.2000") is 20 %). A subdivision's rate wins over its country's; a
    country with no row is charged no tax. Applies to goods and shipping alike."""

    country = CountryField()
    country_area = models.CharField(
        "state / province",
        max_length=120,
        blank=True,
        help_text='Empty: the whole country. A code as addresses store it, e.g. "CA" (California) for the US.',
    )
    name = models.CharField(max_length=60, help_text='Shown to shoppers, e.g. "VAT".')
    rate = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.9999"))],
        help_text="A fraction: 0.2000 is 20 %.",
    )

    class Meta:
        ordering = ["country", "country_area"]
        constraints = [
            models.UniqueConstraint(fields=["country", "country_area"], name="taxrate_country_area_unique"),
        ]

    def __str__(self) -> str:
        where = f"{self.country.code}-{self.country_area}" if self.country_area else self.country.code
        return f"{where}: {self.name} {self.rate * 100:.2f} %"

    def clean(self) -> None:
        # A subdivision as addresses store it, so that it is ever found: the key of the
        # country's list where it has one ("IL"; its name "Illinois" is taken too).
        if self.country_area and self.country:
            choices = country_rules(str(self.country)).country_area_choices
            if choices:
                by_name = {name.casefold(): key for key, name in choices} | {key.casefold(): key for key, _ in choices}
                key = by_name.get(self.country_area.strip().casefold())
                if key is None:
                    example = choices[0][0]
                    message = f"Not a subdivision of {self.country.name}: use one of its codes, e.g. {example}."
                    raise ValidationError({"country_area": message})
                self.country_area = key


class Voucher(models.Model):
    """A discount code. Codes are unique whatever their case and typed in any case.

    A use is counted (used_count, one VoucherRedemption) inside the transaction that places
    the order, so a failed place-order uses nothing. An unpaid order that later expires or is
    cancelled does not give its use back: the count says how often the code was placed.
    """

    class Kind(models.TextChoices):
        PERCENT = "percent", "Percent off the goods"
        FIXED = "fixed", "Amount off the goods"

    code = models.CharField(max_length=40, help_text="Unique, whatever the case; shoppers may type it in any case.")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERCENT)
    value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Percent (10 = 10 %) or an amount in the shop currency.",
    )
    min_spend = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text="The goods must come to at least this, before discount.",
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    per_customer_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Uses per email address. Empty: unlimited."
    )
    # Written only by checkout.services.voucher_redeem, under the row lock.
    used_count = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                Lower("code"),
                name="voucher_code_ci_unique",
                violation_error_message="A voucher with this code already exists.",
            ),
            models.CheckConstraint(
                condition=Q(usage_limit__isnull=True) | Q(used_count__lte=F("usage_limit")),
                name="voucher_used_count_within_limit",
                violation_error_message="The usage limit cannot be below the number of uses so far.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="percent") | Q(value__lte=100),
                name="voucher_percent_at_most_100",
                violation_error_message="A percentage cannot be more than 100.",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The end must come after the start."})
        if self.usage_limit is not None and self.usage_limit < self.used_count:
            raise ValidationError(
                {"usage_limit": f"The usage limit cannot be below the number of uses so far ({self.used_count})."}
            )


class VoucherRedemption(models.Model):
    """One use of a voucher: the order it was placed with and who placed it."""

    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="redemptions")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="voucher_redemptions")
    # Lower-cased, so that the per-customer count is one indexed equality.
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["voucher", "email"], name="voucher_redemption_email_idx")]

    def __str__(self) -> str:
        return f"{self.voucher.code} on {self.order_id}"


class CheckoutSession(models.Model):
    """A checkout in progress through the API: the cart it orders, who it is for, where it
    goes and how, and the voucher code. The web shop keeps the same details in the session;
    an API client keeps only `public_id`. Priced on every read by checkout.pricing, never
    stored: the order, once placed, holds the figures."""

    public_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    # SET_NULL: a guest cart merged at sign-in is deleted; its checkout then orders nothing.
    cart = models.ForeignKey("cart.Cart", null=True, on_delete=models.SET_NULL, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    email = models.EmailField(blank=True)
    # The shipping address (the fields of accounts.Address, validated by kernel.addresses).
    name = models.CharField(max_length=200, blank=True)
    company = models.CharField(max_length=200, blank=True)
    line1 = models.CharField(max_length=255, blank=True)
    line2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=120, blank=True)
    city_area = models.CharField(max_length=120, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    sorting_code = models.CharField(max_length=20, blank=True)
    country_area = models.CharField(max_length=120, blank=True)
    country = CountryField(blank=True)
    phone = PhoneNumberField(blank=True)
    # The billing address, the same fields as a dict; empty: the same as the shipping one.
    billing_address = models.JSONField(default=dict, blank=True)
    shipping_method = models.ForeignKey(
        ShippingMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    voucher_code = models.CharField(max_length=40, blank=True)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Checkout {self.public_id}"


class PlacedRequest(models.Model):
    """The request that placed an order, written in the transaction that creates the order,
    so that its checkout_token (an API client's Idempotency-Key within its checkout, or the
    web shop's session token) sent again can be told apart: the same request is answered with
    this order, a different one is refused (checkout.exceptions.IdempotencyKeyReused), as
    Stripe's idempotency keys are (docs.stripe.com/idempotency). A request is the checkout
    (in the token) and the fingerprint the shopper reviewed: the whole body of place-order."""

    order = models.OneToOneField(
        "orders.Order", primary_key=True, on_delete=models.CASCADE, related_name="placed_request"
    )
    # As sent by the client (API: PlaceOrderInputSerializer allows up to 64 characters).
    reviewed_fingerprint = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"Request that placed {self.order_id}"
