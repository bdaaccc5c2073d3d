"""
Writes to carts. A guest's cart id lives in the session under CART_SESSION_KEY; a signed-in
shopper has one cart of their own. Adding checks availability for display (the final check
happens under the lock at Place order). Quantities are integers from 1 to MAX_LINE_QUANTITY.
"""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from catalog.models import ProductVariant
from inventory.selectors import availability

from .models import MAX_LINE_QUANTITY, Cart, CartLine

CART_SESSION_KEY = "cart_id"


class CartError(Exception):
    """A cart change that cannot be made; `message` is for the shopper."""

    code = "cart_error"

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def cart_for_request(request, *, create: bool = False) -> Cart | None:
    """The request's cart: the user's own when signed in, else the session's guest cart.
    With create=True a missing cart is created (and a guest's remembered in the session)."""
    user = request.user
    if user.is_authenticated:
        cart = Cart.objects.filter(user=user).first()
        if cart is None and create:
            try:
                with transaction.atomic():
                    cart = Cart.objects.create(user=user)
            except IntegrityError:  # two tabs created it at once
                cart = Cart.objects.get(user=user)
        return cart
    cart_id = request.session.get(CART_SESSION_KEY)
    cart = Cart.objects.filter(pk=cart_id, user__isnull=True).first() if cart_id else None
    if cart is None and create:
        cart = Cart.objects.create()
        request.session[CART_SESSION_KEY] = cart.pk
    return cart


def _check_quantity(variant: ProductVariant, quantity: int) -> None:
    if not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise CartError(f"Quantity must be between 1 and {MAX_LINE_QUANTITY}.")
    available = availability([variant.pk])[variant.pk]
    if quantity > available:
        if available == 0:
            raise CartError(f"{variant} is sold out.")
        raise CartError(f"Only {available} of {variant} left.")


def _sellable_variant(variant_id: int) -> ProductVariant:
    variant = (
        ProductVariant.objects.select_related("product")
        .filter(pk=variant_id, product__published=True)
        .first()
    )
    if variant is None:
        raise CartError("That product is not available.")
    return variant


def cart_add(*, cart: Cart, variant_id: int, quantity: int) -> CartLine:
    """Adds `quantity` units of a published variant (to an existing line if there is one).
    Raises CartError for an unknown or unpublished variant, a total quantity outside
    1..MAX_LINE_QUANTITY, or more units than are available."""
    if not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise CartError(f"Quantity must be between 1 and {MAX_LINE_QUANTITY}.")
    variant = _sellable_variant(variant_id)
    line = CartLine.objects.filter(cart=cart, variant=variant).first()
    _check_quantity(variant, quantity + (line.quantity if line else 0))
    if line is None:
        line, created = CartLine.objects.get_or_create(
            cart=cart, variant=variant, defaults={"quantity": quantity}
        )
        if created:
            return line
    # F() so that two quick clicks add up instead of one overwriting the other.
    CartLine.objects.filter(pk=line.pk).update(quantity=F("quantity") + quantity)
    line.refresh_from_db()
    return line


def cart_set_quantity(*, cart: Cart, line_id: int, quantity: int) -> CartLine:
    """Sets a line's quantity (1..MAX_LINE_QUANTITY, at most what is available).
    Raises CartError for a line that is not in this cart or a quantity out of range."""
    line = CartLine.objects.select_related("variant__product").filter(cart=cart, pk=line_id).first()
    if line is None:
        raise CartError("That item is no longer in your cart.")
    _check_quantity(line.variant, quantity)
    line.quantity = quantity
    line.save(update_fields=["quantity"])
    return line


def cart_remove_line(*, cart: Cart, line_id: int) -> None:
    """Removes a line; removing one that is already gone is harmless."""
    CartLine.objects.filter(cart=cart, pk=line_id).delete()


def cart_clear(*, cart: Cart) -> None:
    CartLine.objects.filter(cart=cart).delete()


def cart_merge(*, source: Cart, target: Cart) -> list[str]:
    """Moves the guest cart `source` into the user's cart `target` and deletes `source`.

    Quantities of the same variant add up, capped at what is available now and at
    MAX_LINE_QUANTITY. Returns one message per line that could not be taken over whole.
    """
    notes: list[str] = []
    with transaction.atomic():
        source_lines = list(source.lines.select_related("variant__product"))
        existing = {line.variant_id: line for line in target.lines.all()}
        available = availability([line.variant_id for line in source_lines])
        for line in source_lines:
            current = existing.get(line.variant_id)
            wanted = line.quantity + (current.quantity if current else 0)
            cap = min(available[line.variant_id], MAX_LINE_QUANTITY)
            quantity = min(wanted, cap)
            if quantity < wanted:
                notes.append(
                    f"{line.variant}: only {cap} available, your cart now holds {quantity}."
                    if quantity
                    else f"{line.variant} is sold out and was not added to your cart."
                )
            if quantity <= 0 or not line.variant.product.published:
                continue
            if current:
                current.quantity = quantity
                current.save(update_fields=["quantity"])
            else:
                CartLine.objects.create(cart=target, variant_id=line.variant_id, quantity=quantity)
        source.delete()
    return notes
