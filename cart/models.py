"""Carts: one per signed-in user, or per guest session (the cart id lives in the session)."""

import secrets

from django.conf import settings
from django.db import models

from catalog.models import ProductVariant

MAX_LINE_QUANTITY = 99


def new_cart_token() -> str:
    """An unguessable cart token for API clients (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


class Cart(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="cart"
    )
    # What an API client sends back in X-Cart-Token to reach its guest cart (the web shop
    # keeps the cart id in the session instead).
    token = models.CharField(max_length=64, unique=True, default=new_cart_token, editable=False)
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
