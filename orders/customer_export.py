"""
Customer export in Shopify's customers export format (the 20 columns of CUSTOMER_COLUMNS), the
format accounts.importer reads back: exporting, importing the file into an empty database and
exporting again gives the same file.

It lives in orders because Total Spent and Total Orders come from the orders, by the rule the
shared sample follows (Shopify does not document its own): Total Orders = every order with the
customer's email, compared case-insensitively, in any status; Total Spent = Σ (total −
refunded_total) over those paid or later (orders.selectors.PAID_OR_LATER: paid, shipped,
delivered, refunded in part or in full) in the shop currency.

Values are written as Shopify writes them: "yes"/"no", money with 2 places, the province as
its ISO 3166-2 code ("MH", "ON"), and a "'" before the Customer ID, before phones that start
with "+" or are all digits, and before all-digit postcodes. Phones are written as stored:
E.164 once validated, as typed when they never parsed. The Default Address is the account's
default address.

Rows are read through .iterator(chunk_size=CHUNK), and each chunk's totals and addresses take
one query each: 100,000 customers never sit in memory and cost no query per customer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import islice

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    F,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Length, Lower, NullIf

from accounts.models import Address, User
from kernel.addresses import country_area_code

from .models import Order
from .selectors import PAID_OR_LATER

CUSTOMER_COLUMNS = (
    "Customer ID",
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "Default Address Company",
    "Default Address Address1",
    "Default Address Address2",
    "Default Address City",
    "Default Address Province Code",
    "Default Address Country Code",
    "Default Address Zip",
    "Default Address Phone",
    "Phone",
    "Accepts SMS Marketing",
    "Total Spent",
    "Total Orders",
    "Note",
    "Tax Exempt",
    "Tags",
)

CHUNK = 2000
ZERO = Decimal("0.00")
_DIGITS = re.compile(r"[0-9]+")


def customers_to_export(users: QuerySet[User] | None = None) -> QuerySet[User]:
    """The customers of `users` (default: every account) without staff accounts, in
    Shopify's order: by Customer ID (the ID the previous shop knew them by, else our pk),
    numerically, so that an export and the export of its re-import list them alike."""
    users = User.objects.all() if users is None else users
    customer_id = Coalesce(NullIf("external_id", Value("")), Cast("pk", CharField()))
    return (
        users.filter(is_staff=False, is_superuser=False)
        .annotate(export_id=customer_id)
        .order_by(Length("export_id"), "export_id", "pk")
    )


def customer_rows(users: QuerySet[User]) -> Iterator[list[str]]:
    """One row of CUSTOMER_COLUMNS per user of `users`, in the queryset's order (see
    customers_to_export for Shopify's). Two queries per CHUNK users besides reading them."""
    stream = users.iterator(chunk_size=CHUNK)
    while chunk := list(islice(stream, CHUNK)):
        totals = order_totals_by_email(u.email for u in chunk)
        addresses = {
            address.user_id: address
            for address in Address.objects.filter(user_id__in=[u.pk for u in chunk], is_default=True)
        }
        for user in chunk:
            spent, count = totals.get(user.email.lower(), (ZERO, 0))
            yield _row(user, addresses.get(user.pk), spent, count)


def order_totals_by_email(emails: Iterable[str]) -> dict[str, tuple[Decimal, int]]:
    """Shopify's (Total Spent, Total Orders) of each email, by the email lower-cased: Total
    Orders counts every order with that email in any case, whatever its status; Total Spent
    (Decimal, the shop currency) adds total − refunded_total over the paid-or-later orders in
    the shop currency. Emails without an order are left out. One query."""
    money: DecimalField = DecimalField(max_digits=14, decimal_places=2)
    paid = When(
        status__in=PAID_OR_LATER,
        currency=settings.SHOP_CURRENCY,
        then=F("total") - F("refunded_total"),
    )
    rows = (
        Order.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in={email.lower() for email in emails})
        .values("email_lower")
        .annotate(
            orders=Count("pk"),
            spent=Coalesce(Sum(Case(paid, default=Value(ZERO), output_field=money)), Value(ZERO), output_field=money),
        )
        .values_list("email_lower", "spent", "orders")
    )
    return {email: (spent, count) for email, spent, count in rows}


def _row(user: User, address: Address | None, spent: Decimal, orders: int) -> list[str]:
    if address is not None:
        country = str(address.country)
        default_address = [
            address.company,
            address.line1,
            address.line2,
            address.city,
            country_area_code(country, address.country_area),
            country,
            _zip(address.postal_code),
            _phone(address.phone),
        ]
    else:
        default_address = [""] * 8
    return [
        "'" + (user.external_id or str(user.pk)),
        user.first_name,
        user.last_name,
        user.email,
        _yes_no(user.accepts_marketing),
        *default_address,
        _phone(user.phone),
        _yes_no(user.accepts_sms_marketing),
        f"{spent.quantize(Decimal('0.01')):.2f}",
        str(orders),
        user.note,
        _yes_no(user.tax_exempt),
        user.tags,
    ]


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _phone(value: object) -> str:
    """As Shopify writes a phone: "'" before one that starts with "+" or is all digits."""
    text = str(value or "")
    return "'" + text if text.startswith("+") or _DIGITS.fullmatch(text) else text


def _zip(value: str) -> str:
    """As Shopify writes a postcode: "'" before an all-digit one (leading zeros kept)."""
    return "'" + value if _DIGITS.fullmatch(value) else value
