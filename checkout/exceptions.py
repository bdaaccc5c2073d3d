"""Checkout's domain errors. User-facing wording lives in MESSAGES, in one place."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from http import HTTPStatus

from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kernel.errors import DomainError
from kernel.money import format_money


class _Wording(Mapping[str, str]):
    """The messages by key, each read in the language active when it is read (a str)."""

    def __init__(self, texts: dict[str, Promise]):
        self._texts = texts

    def __getitem__(self, key: str) -> str:
        return str(self._texts[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)


MESSAGES = _Wording(
    {
        "cart_empty": _("Your cart is empty."),
        "cart_problems": _("Some items in your cart are not available as they are; please review your cart."),
        "changed": _(
            "Your order changed since you reviewed it (prices, stock, tax, shipping or your code). "
            "Please check the new total and place the order again."
        ),
        "shipping_unavailable": _(
            "{method} does not ship to {country} for this cart; please choose another shipping method."
        ),
        "shipping_inactive": _("That shipping method is no longer offered; please choose another."),
        "checkout_incomplete": _("Please fill in: {fields}."),
        "checkout_placed": _("This checkout has been placed already; open a new checkout to order again."),
        "busy": _("Many people are checking out right now. Please try again in a moment."),
        "idempotency_key_reused": _(
            "The Idempotency-Key “{key}” has already placed an order for a different request "
            "(another fingerprint); nothing was placed. Send a new key to place this checkout as it is now."
        ),
        "placed_meanwhile": _(
            "This checkout was placed just now, as it was reviewed in another window; your cart has "
            "changed since. Please review it and place the order again."
        ),
        # Vouchers
        "voucher_invalid": _("“{code}” is not a valid code."),
        # {starts_at}: the start in UTC, written in the reader's language (VoucherError).
        "voucher_not_yet_valid": _("The code “{code}” is not valid yet: it starts on {starts_at} UTC."),
        "voucher_expired": _("The code “{code}” has expired."),
        "voucher_min_spend": _("The code “{code}” needs goods of at least {min_spend}; add {missing} more to use it."),
        "voucher_exhausted": _("The code “{code}” has been used up."),
        "voucher_customer_exhausted": _("You have already used the code “{code}” as often as it allows."),
    }
)


class CheckoutError(DomainError):
    """The cart cannot be ordered as it is; `message` is for the shopper, `code` names why.
    Input is validated first, so what reaches this is the state of the cart or checkout
    disagreeing with the request."""

    code = "checkout_error"
    http_status = HTTPStatus.CONFLICT
    message: str

    def __init__(self, message: str, *, code: str | None = None):
        self.message = message
        if code:
            self.code = code
        super().__init__(message)


class ShippingUnavailable(CheckoutError):
    """The chosen shipping method cannot ship this cart to this country (or was switched off)."""

    code = "shipping_unavailable"


class CheckoutBusy(CheckoutError):
    """A row checkout needs (a voucher's) stayed locked past the lock timeout: try again."""

    code = "busy"

    def __init__(self):
        super().__init__(MESSAGES["busy"])


class VoucherError(CheckoutError):
    """The code cannot be used for this checkout; `code` is one of the voucher_* keys of
    MESSAGES (voucher_invalid, voucher_not_yet_valid, voucher_expired, voucher_min_spend,
    voucher_exhausted, voucher_customer_exhausted), `voucher_code` what the shopper typed."""

    def __init__(self, code: str, *, voucher_code: str, **details):
        self.voucher_code = voucher_code
        self.details = details
        # A moment is written as the active language writes dates ("1 June 2099, 09:00",
        # "1. Juni 2099, 09:00"), as given: voucher_problem passes it in UTC, as the text says;
        # an amount as it writes prices in `currency` ("$50.00", "50,00 $").
        currency = details.get("currency")
        shown = {name: self._shown(value, currency) for name, value in details.items()}
        super().__init__(MESSAGES[code].format(code=voucher_code, **shown), code=code)

    @staticmethod
    def _shown(value, currency: str | None):
        if isinstance(value, datetime):
            return date_format(value, "DATETIME_FORMAT")
        if isinstance(value, Decimal) and currency:
            return format_money(value, currency)
        return value


class CheckoutCartEmpty(CheckoutError):
    """There is nothing to check out: the cart is empty (or gone)."""

    code = "cart_empty"
    http_status = HTTPStatus.BAD_REQUEST  # the request, not the state, is short

    def __init__(self):
        super().__init__(MESSAGES["cart_empty"])


class CheckoutIncomplete(CheckoutError):
    """A checkout placed before its details are all there; `fields` names what is missing."""

    code = "checkout_incomplete"
    http_status = HTTPStatus.BAD_REQUEST  # the request, not the state, is short

    def __init__(self, fields: list[str]):
        self.fields = fields
        self.field = fields[0] if fields else None
        super().__init__(MESSAGES["checkout_incomplete"].format(fields=", ".join(fields)))


class CheckoutChanged(CheckoutError):
    """The checkout priced now is not the one the shopper reviewed (its fingerprint differs)."""

    code = "checkout_changed"

    def __init__(self):
        super().__init__(MESSAGES["changed"])


class IdempotencyKeyReused(CheckoutError):
    """The key (an API client's Idempotency-Key, the web shop's checkout token) has already
    placed an order for a different request: the same checkout with another reviewed
    fingerprint. Nothing was written; the earlier order is not the answer to this request.
    Stripe's contract (docs.stripe.com/idempotency): the same key with other parameters is
    an error, never the first request's result. `key` is the key as the client sent it."""

    code = "idempotency_key_reused"
    # Retrying cannot help: the client must send a new key (as Stripe answers).
    http_status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, *, key: str):
        self.key = key
        super().__init__(MESSAGES["idempotency_key_reused"].format(key=key))
