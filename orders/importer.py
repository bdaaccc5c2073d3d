"""
Order history import from Shopify's orders export (orders_export.csv, one row per line
item; see orders.order_export for the layout). Each order becomes a historical order of ours:
imported_at set, its number ("#1001"), dates, status, money, addresses and lines kept; it
moves no stock, reserves nothing, takes no payment, issues no invoice and sends no email.

The import keeps the contract of every import (kernel.csvfiles): the whole file is checked
first and nothing is written if any row has a problem, re-importing the same file changes
nothing, and an order whose data changed in a newer export is updated (its lines replaced).

It reads the file twice so that 20,000 orders never sit in memory together:
1. validate every order, keeping per order only its first line and a digest of its rows
   (to tell an identical repeat, skipped, from a conflicting one, a problem);
2. read it again and write the orders in batches of BATCH (bulk_create of orders and lines)
   inside one transaction.

Columns with a field of ours are read into it; every other non-empty column goes to
Order.source_data / OrderLine.source_data by column name, and so does the source's text of
a column our field would write differently on export ("38" for "38.00", a phone as typed, a
date in another offset), so that the export (orders.order_export) gives the source back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from catalog.models import ProductVariant
from kernel.addresses import is_country, phone_e164_or_as_is
from kernel.csvfiles import (
    CsvFile,
    ImportRejected,
    InvalidValue,
    Problem,
    ProgressCallback,
    apostrophe_strip,
    count_parse,
    datetime_parse,
    money_parse,
    problems_reject,
)
from kernel.locking import advisory_lock

from .models import Order, OrderLine
from .order_export import (
    LINE_COLUMNS,
    ORDER_COLUMNS,
    TAX_COLUMNS,
    date_format,
    line_values_computed,
    money_format,
    order_values_computed,
)

NAME = "Name"
EMAIL = "Email"
FINANCIAL = "Financial Status"
FULFILLMENT = "Fulfillment Status"
CREATED = "Created at"
PAID = "Paid at"
QUANTITY = "Lineitem quantity"
LINE_NAME = "Lineitem name"
PRICE = "Lineitem price"
LINE_SKU = "Lineitem sku"
LINE_FULFILLMENT = "Lineitem fulfillment status"
SUBTOTAL = "Subtotal"
SHIPPING = "Shipping"
TAXES = "Taxes"
TOTAL = "Total"
DISCOUNT = "Discount Amount"
REFUNDED = "Refunded Amount"
CURRENCY = "Currency"

REQUIRED_COLUMNS = (NAME, EMAIL, FINANCIAL, CREATED, QUANTITY, LINE_NAME, PRICE, TOTAL)
# Financial Status -> our status (paid is refined by the Fulfillment Status).
FINANCIAL_STATUSES = {
    "paid": Order.Status.PAID,
    "partially_refunded": Order.Status.PARTIALLY_REFUNDED,
    "refunded": Order.Status.REFUNDED,
    "pending": Order.Status.PENDING_PAYMENT,
    "voided": Order.Status.CANCELLED,
}
FULFILLMENT_STATUSES = {
    "fulfilled": Order.Status.FULFILLED,
    "partial": Order.Status.PARTIALLY_FULFILLED,
    "unfulfilled": None,
    "restocked": None,
    "": None,
}
# Columns always kept in source_data (when not empty) although a field is derived from them.
ALWAYS_SOURCE = (FINANCIAL, FULFILLMENT)
LINE_ALWAYS_SOURCE = (LINE_FULFILLMENT,)
BATCH = 500
TOLERANCE = Decimal("0.01")
NUMBER_MAX: int = Order._meta.get_field("number").max_length or 32
_BAD_NUMBER = re.compile(r"[/\s?%]")
DEFAULT_TITLE = "Default Title"
ZERO = Decimal("0.00")
T = TypeVar("T")


def _limit(model, name: str) -> int:
    return model._meta.get_field(name).max_length


# Text columns checked against the field they land in.
_ORDER_TEXT = {
    "Discount Code": "voucher_code",
    "Shipping Method": "shipping_method_name",
    EMAIL: "email",
    **{
        f"{prefix} {column}": f"{kind}_{name}"
        for prefix, kind in (("Billing", "billing"), ("Shipping", "shipping"))
        for column, name in (
            ("Name", "name"),
            ("Address1", "line1"),
            ("Address2", "line2"),
            ("Company", "company"),
            ("City", "city"),
            ("Zip", "postal_code"),
            ("Province", "country_area"),
        )
    },
}


@dataclass
class OrdersImportResult:
    """What an import did (or, with dry_run, would do)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    lines: int = 0
    lines_without_variant: int = 0
    dry_run: bool = False
    numbers_created: list[str] = field(default_factory=list)
    numbers_updated: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[str]:
        """What was (or would be) done, one line per order: "create #1001", then "update
        #1002" for each order updated."""
        return [f"create {number}" for number in self.numbers_created] + [
            f"update {number}" for number in self.numbers_updated
        ]

    def summary(self) -> str:
        """One line of counts, for people and for logs."""
        prefix = "Dry run, nothing written. " if self.dry_run else ""
        return (
            f"{prefix}Orders: {self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped} skipped. Lines: {self.lines} ({self.lines_without_variant} without a variant)."
        )


@dataclass
class ParsedOrder:
    """One order of the file as our fields: `fields` for Order, `lines` for OrderLine (each a
    dict with its own source_data), `user_email` the email to look the account up by."""

    number: str
    line: int
    fields: dict
    lines: list[dict]
    digest: str


class VariantLookup:
    """Our variants by SKU and by Shopify's Lineitem name ("Title", "Title - V1 / V2"),
    loaded once. A name shared by two variants matches neither."""

    def __init__(self, *, load: bool = True) -> None:
        self.by_sku: dict[str, tuple[int, str, str]] = {}
        self.by_name: dict[str, tuple[int, str, str] | None] = {}
        if load:
            self.load()

    @classmethod
    def empty(cls) -> VariantLookup:
        """A lookup that matches nothing (for reading figures, not lines)."""
        return cls(load=False)

    def load(self) -> None:
        rows = ProductVariant.objects.values_list(
            "pk", "sku", "product__title", "option1_value", "option2_value", "option3_value"
        )
        for pk, sku, title, *options in rows.iterator(chunk_size=2000):
            values = [v for v in options if v]
            variant_title = "" if values == [DEFAULT_TITLE] else " / ".join(values)
            entry = (pk, title, variant_title)
            if sku:
                self.by_sku[sku] = entry
            name = f"{title} - {variant_title}" if variant_title else title
            self.by_name[name] = None if name in self.by_name else entry

    def match(self, sku: str, name: str) -> tuple[int, str, str] | None:
        """(variant pk, product title, variant title) or None."""
        if sku and sku in self.by_sku:
            return self.by_sku[sku]
        return self.by_name.get(name)


class _OrderParser:
    """Turns the rows of one order into a ParsedOrder, reporting problems."""

    def __init__(self, csv_file: CsvFile, header: list[str]):
        self.file = csv_file
        self.header = header

    def problem(self, line: int, column: str | None, message: str) -> None:
        self.file.problem(line, column, message)

    def cell(
        self, line: int, row: dict[str, str], column: str, parse: Callable[[str], T], *, required: bool, blank: T | None
    ) -> T | None:
        """`row`'s `column` read by `parse`, or `blank` when it is empty; None, with the
        problem reported, when `parse` refuses it (InvalidValue) or it is empty and
        `required`."""
        text = row.get(column, "")
        if not text:
            if required:
                self.problem(line, column, "required")
                return None
            return blank
        try:
            return parse(text)
        except InvalidValue as exc:
            self.problem(line, column, str(exc))
            return None

    def money(self, line: int, row: dict[str, str], column: str, *, required: bool = False) -> Decimal | None:
        return self.cell(line, row, column, money_parse, required=required, blank=ZERO)

    def date(self, line: int, row: dict[str, str], column: str, *, required: bool = False) -> datetime | None:
        return self.cell(line, row, column, datetime_parse, required=required, blank=None)

    def parse(
        self, rows: list[tuple[int, dict[str, str]]], variants: VariantLookup | None, *, broken: bool = False
    ) -> ParsedOrder | None:
        """The order whose rows are `rows` (first: the order's own row), or None when it has
        a problem (reported). `variants` None: validate only, no variant matching. `broken`:
        a row of the order was left out (reported already); its rows are checked, not its
        money, and None is returned."""
        count = len(self.file.problems)
        line, first = rows[0]
        number = first[NAME]
        if len(number) > NUMBER_MAX:
            self.problem(line, NAME, f"longer than {NUMBER_MAX} characters")
        elif _BAD_NUMBER.search(number):
            self.problem(line, NAME, f'"{number}" is not an order number: no "/", "?", "%" or spaces')

        email = first.get(EMAIL, "")
        if email:
            try:
                validate_email(email)
            except ValidationError:
                self.problem(line, EMAIL, f'not an email address: "{email}"')

        financial = first.get(FINANCIAL, "").lower()
        fulfillment = first.get(FULFILLMENT, "").lower()
        status = FINANCIAL_STATUSES.get(financial)
        if status is None:
            known = ", ".join(FINANCIAL_STATUSES)
            self.problem(line, FINANCIAL, f'unknown financial status "{first.get(FINANCIAL)}" (known: {known})')
        if fulfillment not in FULFILLMENT_STATUSES:
            known = ", ".join(s for s in FULFILLMENT_STATUSES if s)
            self.problem(line, FULFILLMENT, f'unknown fulfillment status "{first.get(FULFILLMENT)}" (known: {known})')
        elif status == Order.Status.PAID and FULFILLMENT_STATUSES[fulfillment]:
            status = FULFILLMENT_STATUSES[fulfillment]

        created_at = self.date(line, first, CREATED, required=True)
        paid_at = self.date(line, first, PAID)
        for column in ("Fulfilled at", "Cancelled at", "Next Payment Due At"):
            self.date(line, first, column)
        currency = first.get(CURRENCY, "") or settings.SHOP_CURRENCY
        if not re.fullmatch(r"[A-Z]{3}", currency):
            self.problem(line, CURRENCY, f'not a currency code: "{currency}"')

        money = {
            column: self.money(line, first, column, required=column == TOTAL)
            for column in (SUBTOTAL, SHIPPING, TAXES, TOTAL, DISCOUNT, REFUNDED)
        }
        tax_values: list[Decimal | None] = []
        for _name, value_col in TAX_COLUMNS:
            if first.get(value_col):
                tax_values.append(self.money(line, first, value_col))

        for column, model_field in _ORDER_TEXT.items():
            if len(first.get(column, "")) > (limit := _limit(Order, model_field)):
                self.problem(line, column, f"longer than {limit} characters")
        for prefix in ("Billing", "Shipping"):
            country = first.get(f"{prefix} Country", "")
            if country and not is_country(country.upper()):
                self.problem(line, f"{prefix} Country", f'"{country}" is not a country: give its ISO code, e.g. US')

        lines: list[dict] = []
        for row_line, row in rows:
            parsed_line = self.parse_line(row_line, row, variants)
            if parsed_line is not None:
                lines.append(parsed_line)

        amounts = {column: value for column, value in money.items() if value is not None}
        taxes_given = [value for value in tax_values if value is not None]
        if broken or len(self.file.problems) > count or len(amounts) < len(money) or len(taxes_given) < len(tax_values):
            return None
        assert created_at is not None and status is not None
        items_total = sum((item["line_total"] for item in lines), ZERO)
        prices_include_tax = self.check_money(line, amounts, items_total, taxes_given)
        if prices_include_tax is None:
            return None
        discount, refunded = amounts[DISCOUNT], amounts[REFUNDED]
        shipping, taxes, total = amounts[SHIPPING], amounts[TAXES], amounts[TOTAL]

        fields = {
            "number": number,
            "email": email,
            "status": status,
            "currency": currency,
            "subtotal": items_total,
            "discount_total": discount,
            "shipping_total": shipping,
            "tax_total": taxes,
            "total": total,
            "refunded_total": refunded,
            "prices_include_tax": prices_include_tax,
            "voucher_code": first.get("Discount Code", ""),
            "shipping_method_name": first.get("Shipping Method", ""),
            "created_at": created_at,
            "paid_at": paid_at,
            "checkout_token": f"import:{number}",
        }
        for prefix, kind in (("Billing", "billing"), ("Shipping", "shipping")):
            country = first.get(f"{prefix} Country", "").upper()
            fields.update(
                {
                    f"{kind}_name": first.get(f"{prefix} Name", ""),
                    f"{kind}_company": first.get(f"{prefix} Company", ""),
                    f"{kind}_line1": first.get(f"{prefix} Address1", "") or first.get(f"{prefix} Street", ""),
                    f"{kind}_line2": first.get(f"{prefix} Address2", ""),
                    f"{kind}_city": first.get(f"{prefix} City", ""),
                    f"{kind}_postal_code": apostrophe_strip(first.get(f"{prefix} Zip", "")),
                    f"{kind}_country_area": first.get(f"{prefix} Province", ""),
                    f"{kind}_country": country,
                    f"{kind}_phone": phone_e164_or_as_is(first.get(f"{prefix} Phone", ""), country or None),
                }
            )
        digest = hashlib.sha1(repr([row for _, row in rows]).encode()).hexdigest()
        return ParsedOrder(number=number, line=line, fields=fields, lines=lines, digest=digest)

    def check_money(
        self, line: int, amounts: dict[str, Decimal], items_total: Decimal, tax_values: list[Decimal]
    ) -> bool | None:
        """Whether the order's prices include tax (Total = Subtotal + Shipping) or not (Total =
        Subtotal + Shipping + Taxes); None, with the problems reported, when its money does
        not add up to within a cent: Subtotal = Σ price × quantity − Discount Amount, Taxes =
        Σ Tax n Value when tax lines are given, Refunded Amount ≤ Total."""
        discount, refunded = amounts[DISCOUNT], amounts[REFUNDED]
        subtotal, shipping, taxes, total = amounts[SUBTOTAL], amounts[SHIPPING], amounts[TAXES], amounts[TOTAL]
        ok = True
        if abs(items_total - discount - subtotal) > TOLERANCE:
            message = (
                f"{subtotal} does not add up: the lines come to {items_total}, less the discount "
                f"{discount} makes {items_total - discount}"
            )
            self.problem(line, SUBTOTAL, message)
            ok = False
        tax_sum = sum(tax_values, ZERO)
        if tax_values and abs(tax_sum - taxes) > TOLERANCE:
            self.problem(line, TAXES, f"{taxes} does not add up: the tax lines come to {tax_sum}")
            ok = False
        excluded = subtotal + shipping + taxes
        prices_include_tax = False
        if abs(total - excluded) <= TOLERANCE:
            prices_include_tax = False
        elif abs(total - (subtotal + shipping)) <= TOLERANCE:
            prices_include_tax = True
        else:
            message = (
                f"{total} does not add up: Subtotal {subtotal} + Shipping {shipping} + Taxes {taxes} makes {excluded}"
            )
            self.problem(line, TOTAL, message)
            ok = False
        if refunded > total:
            self.problem(line, REFUNDED, f"{refunded} is more than the order's total {total}")
            ok = False
        return prices_include_tax if ok else None

    def parse_line(self, line: int, row: dict[str, str], variants: VariantLookup | None) -> dict | None:
        ok = True
        text = row.get(QUANTITY, "")
        quantity = None
        try:
            quantity = count_parse(text, minimum=1)
        except InvalidValue:
            self.problem(line, QUANTITY, f'must be a whole number of at least 1, not "{text}"')
            ok = False
        name = row.get(LINE_NAME, "")
        if not name:
            self.problem(line, LINE_NAME, "required")
            ok = False
        elif len(name) > (limit := _limit(OrderLine, "product_title")):
            self.problem(line, LINE_NAME, f"longer than {limit} characters")
            ok = False
        price = self.money(line, row, PRICE, required=True)
        sku = row.get(LINE_SKU, "")
        if len(sku) > (limit := _limit(OrderLine, "sku")):
            self.problem(line, LINE_SKU, f"longer than {limit} characters")
            ok = False
        if not ok or price is None or quantity is None:
            return None
        match = variants.match(sku, name) if variants is not None else None
        if match is not None:
            variant_id, product_title, variant_title = match
            if variant_title and name == f"{product_title} - {variant_title}":
                pass
            elif name == product_title:
                variant_title = ""
            else:  # matched by SKU under another name: keep the name as the file says it
                product_title, variant_title = name, ""
        else:
            variant_id, product_title, variant_title = None, name, ""
        fulfilled = row.get(LINE_FULFILLMENT, "").lower() == "fulfilled"
        return {
            "variant_id": variant_id,
            "product_title": product_title,
            "variant_title": variant_title,
            "sku": sku,
            "quantity": quantity,
            "unit_price": price,
            "line_total": price * quantity,
            "shipped_quantity": quantity if fulfilled else 0,
            "row": row,
        }


def _order_groups(csv_file: CsvFile) -> Iterator[tuple[list[tuple[int, dict[str, str]]], bool]]:
    """The rows of the file grouped by order (an order starts where Financial Status is
    filled), each with True when a row of it was left out: a row that continues no order, or
    another order than the current one, is a problem and left out (and the order's money is
    then not checked, since its lines are not all there)."""
    group: list[tuple[int, dict[str, str]]] = []
    broken = False
    for line, row in csv_file.rows():
        if not row.get(NAME):
            csv_file.problem(line, NAME, "required")
            broken = True
            continue
        if row.get(FINANCIAL):
            if group:
                yield group, broken
            group, broken = [(line, row)], False
            continue
        if not group:
            csv_file.problem(line, FINANCIAL, f'required on the first row of order "{row[NAME]}"')
            continue
        current = group[0][1][NAME]
        if row[NAME] != current:
            message = (
                f'"{row[NAME]}" continues order "{current}" (no Financial Status): the first row of '
                f'order "{row[NAME]}" is missing, or the rows of an order are not together'
            )
            csv_file.problem(line, NAME, message)
            broken = True
            continue
        group.append((line, row))
    if group:
        yield group, broken


@dataclass
class _Seen:
    file: str
    line: int
    digest: str


def _validate(paths: Sequence[str | Path], progress: ProgressCallback | None) -> tuple[list[Problem], int]:
    """Pass 1: every problem of every file, and the number of orders."""
    problems: list[Problem] = []
    seen: dict[str, _Seen] = {}
    for path in paths:
        csv_file = CsvFile(path, problems, required=REQUIRED_COLUMNS)
        for rows, broken in _order_groups(csv_file):
            assert csv_file.header is not None
            parsed = _OrderParser(csv_file, csv_file.header).parse(rows, None, broken=broken)
            if parsed is None:
                continue
            before = seen.get(parsed.number)
            if before is None:
                seen[parsed.number] = _Seen(csv_file.name, parsed.line, parsed.digest)
            elif before.digest != parsed.digest:
                message = f'order "{parsed.number}" is already in the file at line {before.line}, with other data'
                csv_file.problem(parsed.line, NAME, message)
    # Numbers of orders placed in this shop are not ours to overwrite.
    numbers = list(seen)
    for start in range(0, len(numbers), 2000):
        chunk = numbers[start : start + 2000]
        for number in Order.objects.filter(number__in=chunk, imported_at__isnull=True).values_list("number", flat=True):
            where = seen[number]
            message = f'order number "{number}" belongs to an order placed in this shop'
            problems.append(Problem(where.file, where.line, NAME, message))
    return problems, len(seen)


def _parsed_orders(paths: Sequence[str | Path], variants: VariantLookup) -> Iterator[tuple[ParsedOrder, bool]]:
    """Pass 2: every order of the files, parsed, with True when it repeats an order of the
    file (identical, as pass 1 checked)."""
    seen: set[str] = set()
    problems: list[Problem] = []
    for path in paths:
        csv_file = CsvFile(path, problems, required=REQUIRED_COLUMNS)
        for rows, broken in _order_groups(csv_file):
            assert csv_file.header is not None
            parsed = _OrderParser(csv_file, csv_file.header).parse(rows, variants, broken=broken)
            if parsed is None:  # the file changed between the passes
                raise ImportRejected(problems)
            yield parsed, parsed.number in seen
            seen.add(parsed.number)
    if problems:
        raise ImportRejected(problems)


# Compared to tell an unchanged order from an updated one.
_ORDER_COMPARED = (
    "email",
    "status",
    "currency",
    "subtotal",
    "discount_total",
    "shipping_total",
    "tax_total",
    "total",
    "refunded_total",
    "prices_include_tax",
    "voucher_code",
    "shipping_method_name",
    "created_at",
    "paid_at",
    "user_id",
    "source_data",
    *(
        f"{kind}_{name}"
        for kind in ("billing", "shipping")
        for name in ("name", "company", "line1", "line2", "city", "postal_code", "country_area", "country", "phone")
    ),
)
_LINE_COMPARED = (
    "variant_id",
    "product_title",
    "variant_title",
    "sku",
    "quantity",
    "unit_price",
    "line_total",
    "shipped_quantity",
    "source_data",
)


def _comparable(obj, names: Sequence[str]) -> tuple:
    return tuple(
        str(getattr(obj, name) or "") if name.endswith(("_phone", "_country")) else getattr(obj, name) for name in names
    )


def _build(parsed: ParsedOrder, user_id: int | None, now: datetime) -> tuple[Order, list[OrderLine]]:
    """The unsaved Order and lines of `parsed`, with their source_data (see module doc)."""
    order = Order(**parsed.fields, user_id=user_id, imported_at=now)
    first = parsed.lines[0]["row"] if parsed.lines else {}
    # Every column of the file (Shopify's 79 and any other), so that nothing is lost.
    columns = [column for column in dict.fromkeys([*ORDER_COLUMNS, *first]) if column not in LINE_COLUMNS]
    order.source_data = _source_data(first, columns, order_values_computed(order), ALWAYS_SOURCE)
    lines = []
    for item in parsed.lines:
        line = OrderLine(**{k: v for k, v in item.items() if k != "row"})
        computed = line_values_computed(line, imported=True)
        line.source_data = _source_data(item["row"], LINE_COLUMNS, computed, LINE_ALWAYS_SOURCE)
        lines.append(line)
    return order, lines


def _source_data(
    row: dict[str, str], columns: Sequence[str], computed: dict[str, str], always: Sequence[str]
) -> dict[str, str]:
    """The cells of `row` in `columns` that the export would not write from our fields: a
    non-empty cell of a column in `always` or with no field of ours (not in `computed`), and
    a cell our field would write differently."""
    source = {}
    for column in columns:
        value = row.get(column, "")
        if column in always or column not in computed:
            if value:
                source[column] = value
        elif value != computed[column]:
            source[column] = value
    return source


def _users_by_email(emails: set[str]) -> dict[str, int]:
    if not emails:
        return {}
    users = (
        get_user_model()
        .objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails)
        .values_list("email_lower", "pk")
    )
    return dict(users)


def _write_batch(batch: list[ParsedOrder], result: OrdersImportResult, now: datetime) -> None:
    users = _users_by_email({p.fields["email"].lower() for p in batch if p.fields["email"]})
    existing = {
        o.number: o
        for o in Order.objects.filter(number__in=[p.number for p in batch], imported_at__isnull=False).prefetch_related(
            "lines"
        )
    }
    to_create: list[tuple[Order, list[OrderLine]]] = []
    for parsed in batch:
        order, lines = _build(parsed, users.get(parsed.fields["email"].lower()), now)
        result.lines += len(lines)
        result.lines_without_variant += sum(1 for line in lines if line.variant_id is None)
        current = existing.get(parsed.number)
        if current is None:
            to_create.append((order, lines))
            result.created += 1
            result.numbers_created.append(parsed.number)
            continue
        same_order = _comparable(current, _ORDER_COMPARED) == _comparable(order, _ORDER_COMPARED)
        current_lines = list(current.lines.all())
        same_lines = [_comparable(x, _LINE_COMPARED) for x in current_lines] == [
            _comparable(x, _LINE_COMPARED) for x in lines
        ]
        if same_order and same_lines:
            result.unchanged += 1
            continue
        for name in _ORDER_COMPARED:
            setattr(current, name, getattr(order, name))
        current.imported_at = now
        current.save()
        if not same_lines:
            OrderLine.objects.filter(order=current).delete()
            for line in lines:
                line.order = current
            OrderLine.objects.bulk_create(lines)
        result.updated += 1
        result.numbers_updated.append(parsed.number)
    if to_create:
        Order.objects.bulk_create([order for order, _ in to_create])
        new_lines = []
        for order, lines in to_create:
            for line in lines:
                line.order = order
                new_lines.append(line)
        OrderLine.objects.bulk_create(new_lines)


def orders_import(
    *, paths: Sequence[str | Path], dry_run: bool = False, progress: ProgressCallback | None = None
) -> OrdersImportResult:
    """Imports Shopify orders export files (see the module doc) as imported orders.

    Every file is validated first; on any problem nothing is written and ImportRejected is
    raised with every problem (FILE:LINE: column "COLUMN": message). Then all orders are
    written in one transaction: new numbers created, imported orders whose data changed
    updated (lines replaced), the rest unchanged; an identical repeat of an order within the
    files is skipped. `dry_run`: the same, rolled back, so the counts say what would happen.
    An order is linked to the account whose email matches case-insensitively, if any.
    `progress(stage, done, total)` is called with "checking" then "orders".
    Nothing else happens: no stock, reservation, payment, invoice or email.
    """
    problems, total = _validate(paths, progress)
    problems_reject(problems, paths=paths)
    result = OrdersImportResult(dry_run=dry_run)
    variants = VariantLookup()
    now = timezone.now()
    with transaction.atomic():
        advisory_lock("import:orders")  # the same import run twice at once writes once
        batch: list[ParsedOrder] = []
        done = 0
        for parsed, repeated in _parsed_orders(paths, variants):
            if repeated:
                result.skipped += 1
                continue
            batch.append(parsed)
            if len(batch) >= BATCH:
                _write_batch(batch, result, now)
                done += len(batch)
                batch = []
                if progress:
                    progress("orders", done, total)
        if batch:
            _write_batch(batch, result, now)
            done += len(batch)
            if progress:
                progress("orders", done, total)
        if dry_run:
            transaction.set_rollback(True)
    return result


# -- figures and differences -------------------------------------------------------------------


@dataclass
class YearFigures:
    """Orders placed in one year (shop time), their revenue (Σ total) and refunds."""

    orders: int = 0
    revenue: Decimal = ZERO
    refunds: Decimal = ZERO


@dataclass
class OrdersFileFigures:
    """What orders export files hold: orders (an identical repeat counted once), lines, and
    per year of Created at in settings.TIME_ZONE."""

    orders: int = 0
    lines: int = 0
    years: dict[int, YearFigures] = field(default_factory=dict)


def _file_problems_reject(paths: Sequence[str | Path]) -> None:
    """Raises ImportRejected with the problems of the files themselves, in the order they
    were found; a number of an order placed here is not one (reading the files' figures or
    differences is no import)."""
    problems, _ = _validate(paths, None)
    problems = [p for p in problems if "placed in this shop" not in p.message]
    if problems:
        raise ImportRejected(problems)


def orders_file_figures(*, paths: Sequence[str | Path]) -> OrdersFileFigures:
    """The figures of the files (see OrdersFileFigures), read as the import reads them.
    Raises ImportRejected when the files have problems. Writes nothing."""
    _file_problems_reject(paths)
    figures = OrdersFileFigures()
    for parsed, repeated in _parsed_orders(paths, VariantLookup.empty()):
        if repeated:
            continue
        figures.orders += 1
        figures.lines += len(parsed.lines)
        year = timezone.localtime(parsed.fields["created_at"]).year
        entry = figures.years.setdefault(year, YearFigures())
        entry.orders += 1
        entry.revenue += parsed.fields["total"]
        entry.refunds += parsed.fields["refunded_total"]
    return figures


def orders_differences(*, paths: Sequence[str | Path]) -> list[str]:
    """What the database says differently from the files about each order of the files:
    orders missing here, and for each imported one its total, status, refunded amount, dates,
    email, and its lines (count, quantities, prices, names). One message per difference,
    e.g. '#1001: total 125.21 in the file, 120.00 here'; [] when there is none.
    Raises ImportRejected when the files themselves have problems."""
    _file_problems_reject(paths)
    differences: list[str] = []
    variants = VariantLookup()
    batch: list[ParsedOrder] = []
    for parsed, repeated in _parsed_orders(paths, variants):
        if repeated:
            continue
        batch.append(parsed)
        if len(batch) >= BATCH:
            differences += _batch_differences(batch)
            batch = []
    if batch:
        differences += _batch_differences(batch)
    return differences


_DIFF_FIELDS = (
    ("email", "email"),
    ("status", "status"),
    ("total", "total"),
    ("subtotal", "subtotal"),
    ("discount_total", "discount"),
    ("shipping_total", "shipping"),
    ("tax_total", "taxes"),
    ("refunded_total", "refunded amount"),
    ("currency", "currency"),
    ("created_at", "created at"),
    ("paid_at", "paid at"),
)


def _show(value) -> str:
    if isinstance(value, datetime):
        return date_format(value)
    if isinstance(value, Decimal):
        return money_format(value)
    return repr(value) if isinstance(value, str) else str(value)


def _batch_differences(batch: list[ParsedOrder]) -> list[str]:
    found = {o.number: o for o in Order.objects.filter(number__in=[p.number for p in batch]).prefetch_related("lines")}
    out: list[str] = []
    for parsed in batch:
        order = found.get(parsed.number)
        if order is None:
            out.append(f"{parsed.number}: in the file, not here")
            continue
        for name, label in _DIFF_FIELDS:
            theirs, ours = parsed.fields[name], getattr(order, name)
            if name == "email":
                theirs, ours = theirs.lower(), ours.lower()
            if theirs != ours:
                out.append(f"{parsed.number}: {label} {_show(theirs)} in the file, {_show(ours)} here")
        lines = list(order.lines.all())
        if len(lines) != len(parsed.lines):
            out.append(f"{parsed.number}: {len(parsed.lines)} lines in the file, {len(lines)} here")
            continue
        for index, (item, line) in enumerate(zip(parsed.lines, lines, strict=True), start=1):
            for name, label in (
                ("quantity", "quantity"),
                ("unit_price", "price"),
                ("product_title", "product"),
                ("variant_title", "variant"),
                ("sku", "SKU"),
            ):
                if item[name] != getattr(line, name):
                    theirs, ours = _show(item[name]), _show(getattr(line, name))
                    out.append(f"{parsed.number} line {index}: {label} {theirs} in the file, {ours} here")
    return out
