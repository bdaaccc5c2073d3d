"""
Stock per variant, reservations with expiry, and the stock ledger.

Availability = on_hand − Σ quantity of reservations that are active and unexpired
(expires_at > now). An expired reservation stops counting the instant it expires; the
sweeper only tidies its status. Every change of on_hand writes a StockMovement, so
on_hand == Σ StockMovement.quantity for every variant.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q

from catalog.models import ProductVariant


class StockItem(models.Model):
    variant = models.OneToOneField(ProductVariant, on_delete=models.CASCADE, related_name="stock")
    # Physical units in the warehouse. Changed only by inventory.services, under a row lock.
    on_hand = models.IntegerField(default=0)

    class Meta:
        constraints = [
            # The backstop, not the mechanism: services check availability under the lock.
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.variant.sku}: {self.on_hand} on hand"


class Reservation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMMITTED = "committed", "Committed"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    variant = models.ForeignKey(
        ProductVariant, on_delete=models.PROTECT, related_name="reservations"
    )
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

    variant = models.ForeignKey(
        ProductVariant, on_delete=models.PROTECT, related_name="stock_movements"
    )
    quantity = models.IntegerField(help_text="Change of on hand: positive in, negative out.")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reference = models.CharField(
        max_length=255, blank=True, help_text="Order number, supplier reference or file name."
    )
    note = models.TextField(blank=True)
    on_hand_after = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.quantity:+d} {self.variant.sku} ({self.reason})"
