"""
Checkout: turns a cart plus shipping details into a placed order (stock reserved, order
pending payment) through orders.services.order_create. Prices always come from the catalog
at the moment of placing and are priced by checkout.pricing, the same code that priced the
review; the shopper's review is guarded by a fingerprint of everything they confirmed, so the
total they saw is the total they are charged.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import F, Q

from cart.models import Cart
from cart.selectors import CartView, cart_view
from cart.services import cart_empty_for_order
from catalog.models import ProductVariant
from inventory.exceptions import InsufficientStock, ShortLine
from kernel.addresses import ADDRESS_FIELDS, AddressInvalid, country_rules, is_country, validate_address
from kernel.auth import user_or_none
from kernel.locking import rows_lock
from orders.models import Order
from orders.services import LineSnapshot, ShippingDetails, order_create

from .exceptions import (
    MESSAGES,
    CheckoutBusy,
    CheckoutCartEmpty,
    CheckoutChanged,
    CheckoutError,
    CheckoutIncomplete,
    IdempotencyKeyReused,
    ShippingUnavailable,
    VoucherError,
)
from .models import CheckoutSession, PlacedRequest, ShippingMethod, Voucher, VoucherRedemption
from .selectors import checkout_fingerprint, checkout_price, voucher_problem

# checkout_fingerprint and checkout_price are reads (checkout.selectors), offered here too
# for the callers that place orders.
__all__ = [
    "CheckoutBusy",
    "CheckoutError",
    "IdempotencyKeyReused",
    "ShippingUnavailable",
    "VoucherError",
    "checkout_fingerprint",
    "checkout_place_order",
    "checkout_price",
    "checkout_session_place_order",
    "checkout_session_start",
    "checkout_session_update",
    "voucher_redeem",
]


def voucher_redeem(*, voucher: Voucher, order: Order, subtotal: Decimal, user=None) -> VoucherRedemption:
    """Counts one use of `voucher` for `order` (goods of `subtotal` before discount, placed
    by order.email): used_count + 1 and a VoucherRedemption row. Must run inside the
    transaction that creates the order (order_create's on_create), so that a place-order that
    fails uses nothing and a use is never counted without its order.

    Raises VoucherError when the voucher may not be used any more (switched off, expired,
    used up, used up by this email, …) and CheckoutBusy when its row stays locked longer than
    STOCK_LOCK_TIMEOUT_MS; the caller's transaction must then roll back.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("voucher_redeem must run inside the transaction that creates the order")
    # Why lock the row: usage_limit is checked against used_count, and the per-customer limit
    # against a count of redemptions; both must not change between our check and our write.
    # Everyone redeeming this voucher queues here, one at a time, until commit. The stock rows
    # are always locked after it (order_create reserves last), never before, so no deadlock.
    # Why a bound on the wait (STOCK_LOCK_TIMEOUT_MS): a popular code is one row every buyer
    # queues on; past it the shopper is better served by "busy, try again" than by a hanging
    # page.
    [locked] = rows_lock(Voucher.objects.filter(pk=voucher.pk), busy=CheckoutBusy)
    problem = voucher_problem(locked, code=locked.code, subtotal=subtotal, email=order.email, currency=order.currency)
    if problem:
        raise problem
    # Compare-and-swap on the count we just checked: under the lock it always matches; if it
    # ever does not (someone wrote it without the lock), we refuse rather than overshoot.
    updated = (
        Voucher.objects.filter(pk=locked.pk, used_count=locked.used_count)
        .filter(Q(usage_limit__isnull=True) | Q(used_count__lt=F("usage_limit")))
        .update(used_count=F("used_count") + 1)
    )
    if updated != 1:
        raise VoucherError("voucher_exhausted", voucher_code=locked.code)
    return VoucherRedemption.objects.create(
        voucher=locked,
        order=order,
        email=order.email.strip().lower(),
        user=user_or_none(user),
    )


def _checkout_problem(view: CartView) -> str:
    """What stops this cart from being ordered at all, for the shopper; "" if nothing."""
    if view.is_empty:
        return MESSAGES["cart_empty"]
    if view.has_problems:
        return MESSAGES["cart_problems"]
    return ""


def checkout_place_order(
    *,
    cart: Cart | None,
    checkout_token: str,
    shipping: ShippingDetails,
    shipping_method: ShippingMethod,
    reviewed_fingerprint: str,
    voucher_code: str = "",
    user=None,
    view: CartView | None = None,
) -> Order:
    """Places the order: reserves the stock for STOCK_RESERVATION_MINUTES and creates the
    order in pending_payment with line snapshots (price and tax) and the totals exactly as
    checkout.pricing priced the review, counts the voucher's use, then empties the cart.

    Only the checkout the shopper reviewed is placed: `reviewed_fingerprint` must match the
    checkout priced now (lines, prices, stock, country and tax rate, voucher and discount,
    shipping method and price, total); otherwise CheckoutError(code="changed") and nothing is
    written, so the shopper sees the new total and confirms again.

    The cart's own hold (STOCK_RESERVE_ON=cart) passes to the order inside the order's
    transaction, so its units are never free to others in between; if that hold lapsed, the
    order gets the units only if they are still there. The voucher's use is counted inside
    that same transaction (voucher_redeem): a usage limit of N is never exceeded, and a
    place-order that fails uses nothing.

    The same `checkout_token` placed twice with the same `reviewed_fingerprint` (a double
    click, a retried request) returns the same order; with another fingerprint it raises
    IdempotencyKeyReused and writes nothing (the token is bound to the request that placed
    its order, docs.stripe.com/idempotency). Raises CheckoutError when the cart is empty, has
    lines that cannot be ordered, or changed since the review; ShippingUnavailable when the
    method cannot ship it; VoucherError when the code cannot be used (checked again under its
    lock); CheckoutBusy; InsufficientStock or StockBusy from inventory.

    `view` is cart_view(cart) when the caller has just read it (three queries saved); the
    stock is checked again under its lock whatever it says.
    """
    return _place_order(
        cart=cart,
        checkout_token=checkout_token,
        shipping=shipping,
        shipping_method=shipping_method,
        reviewed_fingerprint=reviewed_fingerprint,
        voucher_code=voucher_code,
        user=user,
        view=view,
        idempotency_key=checkout_token,
    )[0]


def _placed_before(*, checkout_token: str, reviewed_fingerprint: str, idempotency_key: str) -> Order | None:
    """The one "already placed?" check: the order `checkout_token` placed before if this
    request (`reviewed_fingerprint`) is the one that placed it; None if it placed none.
    Raises IdempotencyKeyReused (naming `idempotency_key`, the key as the client sent it)
    when it placed one for another fingerprint: that order is not this request's answer."""
    # The id and the fingerprint first, the order itself only when there is one: most
    # lookups find none (a refused place-order in a flash sale looks, to be sure it placed
    # nothing before), and loading no order's fifty-odd columns halves what they cost.
    found = (
        Order.objects.filter(checkout_token=checkout_token)
        .values_list("pk", "placed_request__reviewed_fingerprint")
        .first()
    )
    if found is None:
        return None
    pk, placed_for = found
    # An order with no PlacedRequest was placed before requests were recorded (or straight
    # through orders.order_create): there is nothing to compare with, so it is the answer,
    # as it always was.
    if placed_for is not None and placed_for != reviewed_fingerprint:
        raise IdempotencyKeyReused(key=idempotency_key)
    return Order.objects.get(pk=pk)


def _place_order(
    *,
    cart: Cart | None,
    checkout_token: str,
    shipping: ShippingDetails,
    shipping_method: ShippingMethod,
    reviewed_fingerprint: str,
    voucher_code: str,
    user,
    idempotency_key: str,
    view: CartView | None = None,
) -> tuple[Order, bool]:
    """checkout_place_order, answering (order, created): created is False when the order
    is the one `checkout_token` placed before for this same request. `idempotency_key` is
    what the client calls the token, for IdempotencyKeyReused's message."""
    # No lookup of `checkout_token` up front: a token placed before has emptied the cart (or
    # taken its units), found by the lookup below, or is refused by order_create's unique
    # token and returned from there; a new order costs no lookup at all.
    if view is None:
        view = cart_view(cart)
    try:
        problem = _checkout_problem(view)
        if problem:
            raise CheckoutError(problem, code="cart_problems" if view.lines else "cart_empty")
        pricing = checkout_price(
            view,
            country=shipping.country,
            country_area=shipping.country_area,
            shipping_method=shipping_method,
            voucher_code=voucher_code,
            email=shipping.email,
        )
        if pricing.fingerprint() != reviewed_fingerprint:
            raise CheckoutError(MESSAGES["changed"], code="changed")
    except CheckoutError:
        # Why look: the same checkout placed before (a double click, a retried request) has
        # emptied the cart (or taken its last units, or the voucher's last use); that order
        # is the answer if it was placed for this request.
        existing = _placed_before(
            checkout_token=checkout_token, reviewed_fingerprint=reviewed_fingerprint, idempotency_key=idempotency_key
        )
        if existing:
            return existing, False
        raise
    # Without a cart the view has no lines, which _checkout_problem refused above.
    assert cart is not None

    def on_create(order: Order) -> None:
        # Inside the order's transaction: the voucher's use, the emptied cart and the request
        # the token is bound to commit with the order, or none does. Bound in the same
        # transaction, so whoever finds the order (a retry, a racing duplicate) finds the
        # request that placed it too: never an order without its request to compare with.
        PlacedRequest.objects.create(order=order, reviewed_fingerprint=reviewed_fingerprint)
        if pricing.voucher_id is not None:
            voucher_redeem(voucher=Voucher(pk=pricing.voucher_id), order=order, subtotal=pricing.subtotal, user=user)
        cart_empty_for_order(cart=cart)

    variants: dict[int | None, ProductVariant] = {item.line.pk: item.variant for item in view.lines}
    snapshots = [
        LineSnapshot(
            variant_id=line.variant_id,
            product_title=variants[line.cart_line_id].product.title,
            variant_title=variants[line.cart_line_id].title,
            sku=variants[line.cart_line_id].sku,
            unit_price=line.unit_price,
            quantity=line.quantity,
            tax_rate=line.tax_rate,
            tax_amount=line.tax_amount,
        )
        for line in pricing.lines
    ]
    try:
        order, created = order_create(
            checkout_token=checkout_token,
            lines=snapshots,
            shipping=shipping,
            shipping_method_name=shipping_method.name,
            shipping_price=pricing.shipping,
            currency=pricing.currency,
            user=user,
            reservation_ttl=timedelta(minutes=settings.STOCK_RESERVATION_MINUTES),
            # With "cart", always: a hold taken since our read above passes too. With
            # "checkout" carts take no holds, so only one left from before a switch (seen by
            # cart_view) needs handing over; skipping the release saves five queries.
            transfer_from=cart.reservation_owner if view.holds_stock or view.reserved_until else None,
            discount_total=pricing.discount,
            tax_total=pricing.tax,
            prices_include_tax=pricing.prices_include_tax,
            voucher_code=pricing.voucher_code,
            on_create=on_create,
        )
    except VoucherError:
        # The code was used up (or by this email) between our check and our turn at its lock.
        # A double click's first request may be the one that used it: then its order is ours.
        existing = _placed_before(
            checkout_token=checkout_token, reviewed_fingerprint=reviewed_fingerprint, idempotency_key=idempotency_key
        )
        if existing:
            return existing, False
        raise
    if not created:
        # order_create found the token's order (the unique token, or the units it took) and
        # rolled ours back: it answers only the request that placed it. A different one (the
        # cart grew and its new fingerprint came with the old key) is refused, and its new
        # lines stay in the cart.
        order = (
            _placed_before(
                checkout_token=checkout_token,
                reviewed_fingerprint=reviewed_fingerprint,
                idempotency_key=idempotency_key,
            )
            or order
        )
    return order, created


# -- checkouts through the API (CheckoutSession) ----------------------------------------------

# The details a CheckoutSession needs before it can be placed, whatever its country; its
# country requires more (checkout_missing).
CHECKOUT_REQUIRED_FIELDS = ("email", "name", "line1", "country", "shipping_method")
CHECKOUT_DETAIL_FIELDS = ("email", *ADDRESS_FIELDS)


def checkout_missing(checkout: CheckoutSession) -> list[str]:
    """The details `checkout` still lacks before it can be placed: CHECKOUT_REQUIRED_FIELDS
    and what its country requires of an address (a US state, a GB postcode, …), in that
    order."""
    required = list(CHECKOUT_REQUIRED_FIELDS)
    # Until a country is chosen, the rules of the one it is priced for (SHOP_COUNTRY).
    country = str(checkout.country or settings.SHOP_COUNTRY)
    if is_country(country):
        required += sorted(set(country_rules(country).required) - set(required))
    return [name for name in required if not getattr(checkout, name)]


def checkout_session_start(*, cart: Cart | None, user=None) -> CheckoutSession:
    """Opens a checkout of `cart` for `user` (None: a guest holding the cart's token), the
    email taken from the account when signed in. Raises CheckoutCartEmpty when the cart is
    empty or missing."""
    if cart is None or not cart.lines.exists():
        raise CheckoutCartEmpty()
    user = user_or_none(user)
    return CheckoutSession.objects.create(cart=cart, user=user, email=user.email if user else "")


def checkout_session_update(*, checkout: CheckoutSession, **changes) -> CheckoutSession:
    """Writes the validated `changes` (any of CHECKOUT_DETAIL_FIELDS, `billing_address` (a
    dict of ADDRESS_FIELDS, {} for the shipping address), `shipping_method` (a
    ShippingMethod or None) and `voucher_code` ("" removes it)). Validation is the caller's
    (the API validates with the web shop's CheckoutForm rules); a placed checkout cannot
    change any more: CheckoutError(code="checkout_placed")."""
    if checkout.order_id:
        raise CheckoutError(MESSAGES["checkout_placed"], code="checkout_placed")
    allowed = {*CHECKOUT_DETAIL_FIELDS, "billing_address", "shipping_method", "voucher_code"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"checkout_session_update got unknown fields {sorted(unknown)}")
    for name, value in changes.items():
        setattr(checkout, name, value)
    # Only what changed: a request that sets the address does not write back the method (or
    # the order) as it read them, over what another request may have set meanwhile.
    checkout.save(update_fields=[*changes, "updated_at"])
    return checkout


def checkout_session_token(*, checkout: CheckoutSession, idempotency_key: str) -> str:
    """The order's checkout_token for a client's Idempotency-Key: namespaced by the checkout
    (owned by one user or cart token), so two clients' keys never name the same order."""
    return hashlib.sha256(f"{checkout.public_id}:{idempotency_key}".encode()).hexdigest()


def checkout_session_place_order(
    *, checkout: CheckoutSession, idempotency_key: str, reviewed_fingerprint: str, user=None
) -> tuple[Order, bool]:
    """Places `checkout` through checkout_place_order, once per `idempotency_key`: the key
    is bound to the request that placed its order (this checkout and `reviewed_fingerprint`)
    in the order's own transaction. The same key with the same fingerprint again returns the
    same order (created=False) and writes nothing; with another fingerprint it raises
    IdempotencyKeyReused and writes nothing (Stripe's contract, docs.stripe.com/idempotency).
    A request refused before its order was placed (CheckoutChanged, InsufficientStock, …)
    binds nothing: the same key may be sent again, e.g. with the new fingerprint. Returns
    (order, created).

    Raises CheckoutError(code="checkout_placed") for a new key on a checkout placed already
    (a checkout is placed once: open a new one); CheckoutIncomplete naming missing details;
    CheckoutCartEmpty; CheckoutChanged when the checkout priced now
    does not match `reviewed_fingerprint`; IdempotencyKeyReused; InsufficientStock naming the
    short lines (also when the stock ran out between the review and the lock); StockBusy;
    CheckoutBusy; ShippingUnavailable; VoucherError.
    """
    token = checkout_session_token(checkout=checkout, idempotency_key=idempotency_key)
    if checkout.order_id is not None:
        # A checkout is placed once. With its own key again, the answer is its order (or
        # IdempotencyKeyReused); with a new key it must not order a refilled cart a second
        # time under the same checkout: the client opens a new checkout for a new order.
        existing = _placed_before(
            checkout_token=token, reviewed_fingerprint=reviewed_fingerprint, idempotency_key=idempotency_key
        )
        if existing is not None:
            return existing, False
        raise CheckoutError(MESSAGES["checkout_placed"], code="checkout_placed")
    # No lookup of the key up front either (see _place_order): a checkout placed with it
    # keeps its details, and its emptied cart (or the unique token) leads to its order.
    missing = checkout_missing(checkout)
    if missing or checkout.cart is None or checkout.shipping_method is None:
        # Its cart may have gone since (deleted, merged at sign-in): look before refusing.
        existing = _placed_before(
            checkout_token=token, reviewed_fingerprint=reviewed_fingerprint, idempotency_key=idempotency_key
        )
        if existing is not None:
            return existing, False
        if missing:
            raise CheckoutIncomplete(missing)
        raise CheckoutCartEmpty()
    shipping = _checkout_shipping(checkout)
    view = cart_view(checkout.cart)
    try:
        order, created = _place_order(
            cart=checkout.cart,
            checkout_token=token,
            shipping=shipping,
            shipping_method=checkout.shipping_method,
            reviewed_fingerprint=reviewed_fingerprint,
            voucher_code=checkout.voucher_code,
            user=user_or_none(user),
            idempotency_key=idempotency_key,
            view=view,
        )
    except CheckoutError as exc:
        if exc.code == "cart_empty":
            raise CheckoutCartEmpty() from exc
        if exc.code == "changed":
            raise CheckoutChanged() from exc
        if exc.code == "cart_problems":
            # Why: the stock ran out between the review and our turn; the shopper (or app)
            # needs the same answer as from the lock itself: which lines are short. Named
            # from the view that refused it (read once: in a flash sale most requests end
            # here, and a second read of the cart would only repeat what it said).
            short = _short_lines(view)
            if short:
                raise InsufficientStock(short) from exc
        raise
    if created:
        CheckoutSession.objects.filter(pk=checkout.pk, order__isnull=True).update(order=order)
    return order, created


def _checkout_shipping(checkout: CheckoutSession) -> ShippingDetails:
    """The checkout's contact and addresses as an order takes them, each address validated
    as a whole for its country (each field was checked as it was set; together they must
    make an address): AddressInvalid, with the problems per field (a billing address's
    prefixed "billing_address."), else."""
    shipping = validate_address({name: getattr(checkout, name) for name in ADDRESS_FIELDS})
    billing = None
    if checkout.billing_address:
        try:
            billing = validate_address(checkout.billing_address)
        except AddressInvalid as exc:
            raise AddressInvalid({f"billing_address.{name}": errors for name, errors in exc.errors.items()}) from exc
    return ShippingDetails(email=checkout.email, **shipping, billing=billing)


def _short_lines(view: CartView) -> list[ShortLine]:
    return [
        ShortLine(
            variant_id=item.variant.pk, requested=item.line.quantity, available=item.available, sku=item.variant.sku
        )
        for item in view.lines
        if item.problem and item.variant.product.published and item.line.quantity > item.available
    ]
