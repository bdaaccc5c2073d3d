"""
Payments against orders. Amount is Decimal in currency units here; gateways convert to
minor units (cents, paise) at their own boundary. One Payment per provider payment id, so a
provider payment can mark its order paid at most once.
"""
import uuid

from django.db import models

from orders.models import Order


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CAPTURED = "captured", "Captured"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected (order could not be fulfilled)"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    gateway = models.CharField(max_length=20)
    # The provider's id for this payment; for the dummy gateway a random UUID.
    provider_payment_id = models.CharField(max_length=255, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.gateway} {self.provider_payment_id} ({self.status})"

    @staticmethod
    def new_dummy_id() -> str:
        return f"dummy_{uuid.uuid4().hex}"
