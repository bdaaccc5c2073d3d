from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models


class ShippingMethod(models.Model):
    """A flat-rate shipping method, configured by staff in the admin."""

    name = models.CharField(max_length=120)
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "price", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.price})"
