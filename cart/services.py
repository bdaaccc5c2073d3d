"""
Writes to carts. A guest's cart is found by its id (the storefront keeps it in the session)
or, through the API, by its token; a signed-in shopper has one cart of their own. Quantities
are integers from 1 to MAX_LINE_QUANTITY.

When stock is reserved is settings.STOCK_RESERVE_ON:
- "checkout" (default): adding checks availability for display only; the final check happens
  under the lock at Place order.
- "cart": every change (add, set quantity, remove, merge at login) re-reserves the WHOLE cart
  under the owner "cart:<pk>" for CART_RESERVATION_MINUTES from now, in the same transaction
  as the change. A change whose units cannot be held is refused (CartError) and leaves both
  the lines and the previous hold as they were. Place order hands the hold to the order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from http import HTTPStatus
from typing import Literal, TypeVar, overload

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from catalog.models import ProductVariant
from inventory.exceptions import InsufficientStock, StockBusy
from inventory.selectors import availability, hold_of, sellable_quantity
from inventory.services import StockLine, stock_release, stock_reserve
from kernel.auth import user_or_none
from kernel.errors import DomainError

from .models import MAX_LINE_QUANTITY, Cart, CartLine


class CartError(DomainError):
    """A cart change that cannot be made; `message` is for the shopper. Input is validated
    first, so what reaches this is the state of the cart disagreeing with the request."""

    code = "cart_error"
    http_status = HTTPStatus.CONFLICT
    message: str

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def cart_for_shopper(*, user, guest_cart_id: int | None = None, create: bool = False) -> Cart | None:
    """The cart of a web shopper: the signed-in `user`'s own, else the guest cart
    `guest_cart_id` (the id the storefront keeps in the shopper's session). With create=True
    a missing cart is created; a new guest cart's pk is for the caller to remember."""
    if user_or_none(user) is not None:
        return _user_cart(user, create=create)
    cart = Cart.objects.filter(pk=guest_cart_id, user__isnull=True).first() if guest_cart_id else None
    if cart is None and create:
        cart = Cart.objects.create()
    return cart


def cart_for_token(token: str) -> Cart | None:
    """The guest cart (no user) whose API token is `token`, or None."""
    if not token:
        return None
    return Cart.objects.filter(token=token, user__isnull=True).first()


@overload
def _user_cart(user, *, create: Literal[True]) -> Cart: ...
@overload
def _user_cart(user, *, create: bool) -> Cart | None: ...
def _user_cart(user, *, create: bool) -> Cart | None:
    cart = Cart.objects.filter(user=user).first()
    if cart is None and create:
        try:
            with transaction.atomic():
                cart = Cart.objects.create(user=user)
        except IntegrityError:  # two requests (or tabs) created it at once
            cart = Cart.objects.get(user=user)
    return cart


def cart_for_api(*, user, token: str = "", create: bool = False) -> tuple[Cart | None, list[str]]:
    """The cart of an API client and the notes of a merge, if one happened.

    Signed in: the user's own cart; a guest cart named by `token` is merged into it first
    (cart_merge: quantities add up, capped at what is available) and then no longer exists,
    so sending the same token again merges nothing. Anonymous: the guest cart named by
    `token`; with create=True a missing or unknown one is replaced by a new cart (with a new
    token). Never raises for lack of stock.
    """
    if user_or_none(user) is not None:
        notes: list[str] = []
        if token and cart_for_token(token) is not None:
            target = _user_cart(user, create=True)
            with transaction.atomic():
                # Why lock the guest cart: two requests sending the same token at once must
                # merge it once; the second waits here and then finds it gone.
                source = Cart.objects.select_for_update().filter(token=token, user__isnull=True).first()
                if source is not None:
                    notes = cart_merge(source=source, target=target)
            return target, notes
        return _user_cart(user, create=create), notes
    cart = cart_for_token(token)
    if cart is None and create:
        cart = Cart.objects.create()
    return cart, []


def _check_range(quantity: int) -> None:
    if not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise CartError(_("Quantity must be between 1 and %(max)s.") % {"max": MAX_LINE_QUANTITY})


def _check_quantity(variant: ProductVariant, quantity: int) -> None:
    _check_range(quantity)
    available = sellable_quantity([variant.pk])[variant.pk]  # None: sold on backorder, no limit
    if available is not None and quantity > available:
        if available == 0:
            raise CartError(_("%(variant)s is sold out.") % {"variant": variant})
        raise CartError(_("Only %(available)s of %(variant)s left.") % {"available": available, "variant": variant})


def _sellable_variant(variant_id: int) -> ProductVariant:
    variant = ProductVariant.objects.select_related("product").filter(pk=variant_id, product__published=True).first()
    if variant is None:
        raise CartError(_("That product is not available."))
    return variant


def _holds_stock() -> bool:
    """True when carts reserve their stock (STOCK_RESERVE_ON=cart)."""
    return settings.STOCK_RESERVE_ON == "cart"


def _lock_cart(*carts: Cart) -> None:
    # Why: two tabs (or a double click) changing the same cart must not interleave their line
    # writes and re-reservations; the second waits here for the first, then re-reserves the
    # cart as the first left it. Always taken first (cart rows in pk order), before any
    # reservation or stock row, so that cart changes and Place order cannot deadlock.
    list(Cart.objects.filter(pk__in=[c.pk for c in carts]).order_by("pk").select_for_update())


def _hold(cart: Cart) -> None:
    """Re-reserves every line of `cart` for CART_RESERVATION_MINUTES from now, or changes
    nothing (a savepoint of the caller's transaction, which holds the cart lock). Raises
    InsufficientStock naming every line that cannot be held, StockBusy on lock timeout."""
    with transaction.atomic():
        # Released and reserved in one transaction: others keep seeing the old hold until
        # the new one commits, so nobody can take the units in between, while our own
        # stock_reserve (under the stock row locks) already counts them as free.
        stock_release(owner=cart.reservation_owner)
        lines = [
            StockLine(variant_id, quantity)
            for variant_id, quantity in CartLine.objects.filter(cart=cart).values_list("variant_id", "quantity")
        ]
        if lines:
            stock_reserve(
                lines=lines,
                owner=cart.reservation_owner,
                ttl=timedelta(minutes=settings.CART_RESERVATION_MINUTES),
            )


def _short_message(exc: InsufficientStock) -> str:
    """The shopper's wording for lines the cart cannot hold (`available` counts the cart's
    own hold as its own)."""
    names = {
        variant.pk: str(variant)
        for variant in ProductVariant.objects.select_related("product").filter(
            pk__in=[short.variant_id for short in exc.lines]
        )
    }
    return " ".join(
        _("%(variant)s is sold out.") % {"variant": names.get(short.variant_id, short.sku)}
        if short.available == 0
        else _("Only %(available)s of %(variant)s left.")
        % {"available": short.available, "variant": names.get(short.variant_id, short.sku)}
        for short in exc.lines
    )


_T = TypeVar("_T")


def _change_held(cart: Cart, change: Callable[[], _T]) -> _T:
    """Applies `change` to the locked cart and re-reserves the whole cart, all in one
    transaction; if the cart cannot be held any more, nothing changes and CartError says why."""
    try:
        with transaction.atomic():
            _lock_cart(cart)
            result = change()
            _hold(cart)
    except InsufficientStock as exc:
        raise CartError(_short_message(exc)) from exc
    return result


def cart_add(*, cart: Cart, variant_id: int, quantity: int) -> CartLine:
    """Adds `quantity` units of a published variant (to an existing line if there is one).

    With STOCK_RESERVE_ON=cart the whole cart is re-reserved for CART_RESERVATION_MINUTES in
    the same transaction; if it cannot be held, nothing changes (neither the line nor the
    previous hold). Raises CartError for an unknown or unpublished variant, a total quantity
    outside 1..MAX_LINE_QUANTITY, or more units than are available; StockBusy (cart mode)
    when the stock rows stay locked longer than STOCK_LOCK_TIMEOUT_MS.
    """
    _check_range(quantity)
    variant = _sellable_variant(variant_id)
    if _holds_stock():
        return _change_held(cart, lambda: _line_add(cart, variant, quantity))
    line = CartLine.objects.filter(cart=cart, variant=variant).first()
    _check_quantity(variant, quantity + (line.quantity if line else 0))
    if line is None:
        # Just read as missing: insert (get_or_create would read it again first); a concurrent
        # add that made the line meanwhile is added to, as below.
        try:
            with transaction.atomic():
                return CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
        except IntegrityError:
            line = CartLine.objects.get(cart=cart, variant=variant)
    # F() so that two quick clicks add up instead of one overwriting the other.
    CartLine.objects.filter(pk=line.pk).update(quantity=F("quantity") + quantity)
    line.refresh_from_db()
    return line


def _line_add(cart: Cart, variant: ProductVariant, quantity: int) -> CartLine:
    # Read-modify-write is safe here: the caller holds the cart's row lock.
    line = CartLine.objects.filter(cart=cart, variant=variant).first()
    if line is None:
        return CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    _check_range(line.quantity + quantity)
    line.quantity += quantity
    line.save(update_fields=["quantity"])
    return line


def _line_set(cart: Cart, line_id: int, quantity: int) -> CartLine:
    line = CartLine.objects.select_related("variant__product").filter(cart=cart, pk=line_id).first()
    if line is None:
        raise CartError(_("That item is no longer in your cart."))
    line.quantity = quantity
    line.save(update_fields=["quantity"])
    return line


def cart_set_quantity(*, cart: Cart, line_id: int, quantity: int) -> CartLine:
    """Sets a line's quantity (1..MAX_LINE_QUANTITY, at most what is available).

    With STOCK_RESERVE_ON=cart the whole cart is re-reserved with a fresh expiry in the same
    transaction; if it cannot be held, nothing changes. Raises CartError for a line that is
    not in this cart, a quantity out of range or more units than are available; StockBusy
    (cart mode) on lock timeout.
    """
    if _holds_stock():
        _check_range(quantity)
        return _change_held(cart, lambda: _line_set(cart, line_id, quantity))
    line = CartLine.objects.select_related("variant__product").filter(cart=cart, pk=line_id).first()
    if line is None:
        raise CartError(_("That item is no longer in your cart."))
    _check_quantity(line.variant, quantity)
    line.quantity = quantity
    line.save(update_fields=["quantity"])
    return line


def cart_remove_line(*, cart: Cart, line_id: int) -> None:
    """Removes a line; removing one that is already gone is harmless.

    With STOCK_RESERVE_ON=cart the removed units are free at once and the rest of the cart is
    re-reserved with a fresh expiry; removing the last line releases everything. A removal
    is never refused for lack of stock. Raises StockBusy (cart mode) on lock timeout, and
    then nothing changes.
    """
    if not _holds_stock():
        CartLine.objects.filter(cart=cart, pk=line_id).delete()
        return
    with transaction.atomic():
        _lock_cart(cart)
        deleted, _by_model = CartLine.objects.filter(cart=cart, pk=line_id).delete()
        if not deleted:
            return
        try:
            _hold(cart)
        except InsufficientStock:
            # Why the removal still stands: taking units out never needs more stock. The rest
            # fails to re-reserve only when the cart's hold had already lapsed and others
            # bought the units meanwhile; the cart then holds nothing, and its page flags the
            # lines that are short until the next change or checkout reserves them again.
            stock_release(owner=cart.reservation_owner)


def cart_reserve(*, cart: Cart | None) -> None:
    """With STOCK_RESERVE_ON=cart, re-reserves the whole cart for CART_RESERVATION_MINUTES from
    now (taking a lapsed hold again if the stock is still there); with "checkout" it does
    nothing. Raises CartError naming the lines that cannot be held (the cart and its previous
    hold stay as they were), StockBusy on lock timeout."""
    if cart is None or not _holds_stock():
        return
    _change_held(cart, lambda: None)


def cart_clear(*, cart: Cart) -> None:
    """Empties the cart and releases whatever stock it still holds. Released in either mode,
    so that a cart filled while STOCK_RESERVE_ON was "cart" strands nothing after a switch.
    When the cart holds nothing live (after Place order, which hands the hold to the order)
    that is one DELETE and one read; a lapsed hold is left to the expiry sweep, as it holds no
    units."""
    with transaction.atomic():
        CartLine.objects.filter(cart=cart).delete()
        # Why look first: releasing costs a lock, two updates and a savepoint, and after
        # Place order (the usual caller) there is nothing left to release.
        if hold_of(cart.reservation_owner).quantities:
            stock_release(owner=cart.reservation_owner)


def cart_empty_for_order(*, cart: Cart) -> None:
    """Deletes the cart's lines and nothing else, for Place order: called inside the order's
    transaction once the order has taken over the cart's hold (order_create's transfer_from),
    so that the order and the emptied cart commit together or not at all. Anywhere else a
    cart is emptied with cart_clear, which also releases what it holds."""
    CartLine.objects.filter(cart=cart).delete()


def _hold_capped(cart: Cart) -> list[str]:
    """Re-reserves the whole cart, lowering lines to what can be held (removing sold-out
    ones) until it fits. Returns one note per line changed. On StockBusy the cart keeps its
    previous hold (re-reserved at the next change or at checkout) and a note says so."""
    notes: list[str] = []
    while True:
        try:
            _hold(cart)
            return notes
        except InsufficientStock as exc:
            # Someone took units between our display read and the lock: settle for what the
            # lock says is left. Each round lowers at least one line, so this ends.
            for short in exc.lines:
                line = CartLine.objects.select_related("variant__product").get(cart=cart, variant_id=short.variant_id)
                if short.available > 0:
                    line.quantity = short.available
                    line.save(update_fields=["quantity"])
                    notes.append(
                        _("%(variant)s: only %(cap)s available, your cart now holds %(quantity)s.")
                        % {"variant": line.variant, "cap": short.available, "quantity": short.available}
                    )
                else:
                    line.delete()
                    notes.append(
                        _("%(variant)s is sold out and was removed from your cart.") % {"variant": line.variant}
                    )
        except StockBusy:
            notes.append(
                _(
                    "We could not reserve your items just now; they will be reserved when you "
                    "change your cart or check out."
                )
            )
            return notes


def cart_merge(*, source: Cart, target: Cart) -> list[str]:
    """Moves the guest cart `source` into the user's cart `target` and deletes `source`.

    Quantities of the same variant add up, capped at what is available now and at
    MAX_LINE_QUANTITY. Returns one message per line that could not be taken over whole.
    With STOCK_RESERVE_ON=cart, in the same transaction, the guest cart's hold is released
    and the user's whole cart re-reserved with a fresh expiry (both holds count as the
    shopper's own when capping). Never raises for lack of stock or a busy lock.
    """
    notes: list[str] = []
    holds = _holds_stock()
    with transaction.atomic():
        if holds:
            _lock_cart(source, target)
            stock_release(owner=source.reservation_owner)
        source_lines = list(source.lines.select_related("variant__product"))
        existing = {line.variant_id: line for line in target.lines.all()}
        available = availability([line.variant_id for line in source_lines])
        # Variants sold on backorder (inventory's policy) are capped only by MAX_LINE_QUANTITY.
        unlimited = {vid for vid, units in sellable_quantity(available).items() if units is None}
        if holds:
            # The guest hold is already released in this transaction; the user's own hold is
            # theirs too, so add it back.
            own = hold_of(target.reservation_owner).quantities
            available = {vid: units + own.get(vid, 0) for vid, units in available.items()}
        for line in source_lines:
            current = existing.get(line.variant_id)
            wanted = line.quantity + (current.quantity if current else 0)
            cap = (
                MAX_LINE_QUANTITY
                if line.variant_id in unlimited
                else min(available[line.variant_id], MAX_LINE_QUANTITY)
            )
            quantity = min(wanted, cap)
            if quantity < wanted:
                notes.append(
                    _("%(variant)s: only %(cap)s available, your cart now holds %(quantity)s.")
                    % {"variant": line.variant, "cap": cap, "quantity": quantity}
                    if quantity
                    else _("%(variant)s is sold out and was not added to your cart.") % {"variant": line.variant}
                )
            if quantity <= 0 or not line.variant.product.published:
                continue
            if current:
                current.quantity = quantity
                current.save(update_fields=["quantity"])
            else:
                CartLine.objects.create(cart=target, variant_id=line.variant_id, quantity=quantity)
        source.delete()
        if holds:
            notes += _hold_capped(target)
    return notes


def cart_delete_for_user(*, user) -> int:
    """Deletes the cart of `user` with its lines and releases whatever stock it holds (in
    either STOCK_RESERVE_ON mode, as cart_clear does), for account deletion
    (checkout.privacy.customer_delete). Returns the number of carts deleted (0 or 1). A
    checkout session that pointed at the cart keeps its row with no cart (SET_NULL)."""
    with transaction.atomic():
        # Locked as every cart change locks it (_lock_cart): an add-to-cart racing the
        # deletion finishes first, and its hold is released here with the rest.
        carts = list(Cart.objects.filter(user=user).order_by("pk").select_for_update())
        for cart in carts:
            stock_release(owner=cart.reservation_owner)
            cart.delete()
        return len(carts)
