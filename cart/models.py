"""Carts: one per signed-in user, or per guest session (the cart id lives in the session)."""
from django.conf import settings
from django.db import models

from catalog.models import ProductVariant

MAX_LINE_QUANTITY = 99


class Cart(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="cart"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Cart {self.pk}" + (f" of {self.user}" if self.user_id else " (guest)")

    @property
    def reservation_owner(self) -> str:
        """The owner string under which inventory holds this cart's stock (STOCK_RESERVE_ON=cart)."""
        return f"cart:{self.pk}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(ProductVariant, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="cart_line_unique_variant"),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0, quantity__lte=MAX_LINE_QUANTITY),
                name="cart_line_quantity_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.variant.sku}"
