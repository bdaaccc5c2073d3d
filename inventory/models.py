"""
Stock per variant, reservations with expiry, and the stock ledger.

Availability = on_hand − Σ quantity of reservations that are active and unexpired
(expires_at > now). An expired reservation stops counting the instant it expires; the
sweeper only tidies its status. Every change of on_hand writes a StockMovement, so
on_hand == Σ StockMovement.quantity for every variant.

Backorders: a variant whose StockItem.backorder_policy is "continue" may be sold beyond its
stock, so its on_hand may fall below zero (units owed to buyers); a "deny" variant (the
default) never can.
"""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from catalog.models import ProductVariant


class StockItem(models.Model):
    class BackorderPolicy(models.TextChoices):
        # Shopify's "Variant Inventory Policy" values, so an import maps one to one.
        DENY = "deny", "Stop selling when sold out"
        CONTINUE = "continue", "Keep selling when sold out (backorder)"

    variant = models.OneToOneField(ProductVariant, on_delete=models.CASCADE, related_name="stock")
    # Physical units in the warehouse (negative only under backorder: units owed to buyers).
    # Changed only by inventory.services, under a row lock.
    on_hand = models.IntegerField(default=0)
    backorder_policy = models.CharField(max_length=8, choices=BackorderPolicy.choices, default=BackorderPolicy.DENY)
    low_stock_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Email staff when the available units fall to this number or below. Empty: never.",
    )
    # Set (compare-and-swap) when the low-stock email for the current crossing is claimed;
    # cleared once availability is above the threshold again, so the next crossing alerts.
    low_stock_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The backstop, not the mechanism: services check availability under the lock.
            models.CheckConstraint(
                condition=Q(on_hand__gte=0) | Q(backorder_policy="continue"),
                name="stock_on_hand_gte_0_unless_backorder",
            ),
            models.CheckConstraint(
                condition=Q(backorder_policy__in=["deny", "continue"]),
                name="stock_backorder_policy_valid",
            ),
            models.CheckConstraint(
                condition=Q(low_stock_threshold__isnull=True) | Q(low_stock_threshold__gt=0),
                name="stock_low_stock_threshold_gt_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variant.sku}: {self.on_hand} on hand"


class Reservation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMMITTED = "committed", "Committed"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    variant = models.ForeignKey(ProductVariant, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField()
    # Who holds it, as "<kind>:<id>", e.g. "order:5KX2M9QH". Inventory knows no other app.
    owner = models.CharField(max_length=100, db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Availability sums active reservations per variant; the sweeper scans by expiry.
            models.Index(
                fields=["variant", "expires_at"],
                condition=Q(status="active"),
                name="reservation_active_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_quantity_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.variant.sku} for {self.owner} ({self.status})"


class StockMovement(models.Model):
    """One row per change of on_hand. Rows are only ever inserted."""

    class Reason(models.TextChoices):
        IMPORT = "import", "Catalog import"
        RECEIPT = "receipt", "Receipt"
        ADJUSTMENT = "adjustment", "Manual adjustment"
        SALE = "sale", "Sale"
        RESTOCK = "restock", "Cancellation restock"
        RETURN = "return", "Return"

    variant = models.ForeignKey(ProductVariant, on_delete=models.PROTECT, related_name="stock_movements")
    quantity = models.IntegerField(help_text="Change of on hand: positive in, negative out.")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reference = models.CharField(max_length=255, blank=True, help_text="Order number, supplier reference or file name.")
    note = models.TextField(blank=True)
    on_hand_after = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.quantity:+d} {self.variant.sku} ({self.reason})"


class BackInStockRequest(models.Model):
    """A shopper's wish to be emailed once when a sold-out variant can be ordered again.

    Pending while notified_at is empty; at most one pending request per variant and address
    (case-insensitive), so asking twice is harmless.
    """

    variant = models.ForeignKey(ProductVariant, on_delete=models.CASCADE, related_name="back_in_stock_requests")
    email = models.EmailField()
    # The language the shopper asked in (the active one at back_in_stock_subscribe, as
    # Order.language); the email is written in it. Blank: the shop's default (older requests).
    language = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Also the index the notifier uses to find a variant's pending requests.
            models.UniqueConstraint(
                F("variant"),
                Lower("email"),
                condition=Q(notified_at__isnull=True),
                name="back_in_stock_pending_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} waits for {self.variant.sku}"
