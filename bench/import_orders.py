#!/usr/bin/env python
"""
Importing a shop's order history: generates a Shopify orders export (the 79 columns of the
header in ../shared/data/shopify/README.md, one row per line item) of N orders (default
20,000) against the demo catalog (catalog/fixtures/demo-catalog.csv), then times

    manage.py import_orders FILE

in a subprocess against a throwaway database, and prints its wall time, orders per second
and peak memory (the resident set of the import process, from wait4's rusage). Exits 1 when
the import fails, when what it wrote does not match the file (orders, lines, lines linked to
a variant, Σ Total, Σ Refunded Amount), or when the peak is 300 MB or more (--max-rss-mb).

    .venv/bin/python bench/import_orders.py                    # 20,000 orders
    .venv/bin/python bench/import_orders.py --orders 2000 --again

The generated orders follow the README's rules, so every one is valid: 1–4 lines (quantity
1–3) of the demo catalog's variants, each named "Title" or "Title - Value / Value" and carrying
its SKU on about half of the lines and a blank Lineitem sku on the rest (matched by name, as
Shopify exports catalogs without SKUs), plus about 2% of lines of discontinued products with
an old SKU (kept as lines without a variant); discount codes (percentages and fixed) and
automatic discounts split over the lines' Lineitem discount; shipping by country and
subtotal; 0–3 tax lines whose values are round-half-up(base × rate), base the subtotal plus
shipping where the jurisdiction taxes shipping; Taxes = Σ Tax n Value; Total = Subtotal +
Shipping + Taxes; paid, partially refunded, refunded, pending and voided orders with their
dates (in America/New_York, the offset of the date) and refunded amounts. The same --seed
gives the same file.

Steps, each a subprocess with the development settings and DEBUG off (DEBUG would keep every
query in memory): drop and create the database `bench_import_orders` (--database) on
DATABASE_URL's server, migrate, import_products the demo catalog (images are not fetched:
.invalid hosts, placeholders drawn into a temporary MEDIA_ROOT), then import_orders, timed;
with --again, import_orders a second time (it must change nothing). The database is dropped
at the end unless --keep-database. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

# The file's layout (Shopify's 79 columns, the order columns a following row repeats, the date
# format, the zips' apostrophe) is orders.order_export's: Django is configured so that it can
# be imported (the development settings; this process opens no database, the import runs in
# a child process).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
import django
from django.apps import apps

if not apps.ready:
    django.setup()

from orders.order_export import DATE_FORMAT, ORDER_COLUMNS, REPEATED_COLUMNS, zip_format

DEMO_CATALOG = common.ROOT / "catalog" / "fixtures" / "demo-catalog.csv"
MANAGE = common.ROOT / "manage.py"
SHOP_TIME = ZoneInfo("America/New_York")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Item:
    """A variant an order line can name: `name` is Shopify's Lineitem name."""

    name: str
    sku: str
    price: Decimal
    compare_at: Decimal | None
    vendor: str
    in_catalog: bool = True


@dataclass(frozen=True)
class Region:
    city: str
    province: str
    province_name: str
    country: str
    zip: str
    phone: str
    # (title with rate, rate, taxes shipping)
    taxes: tuple[tuple[str, Decimal, bool], ...]


REGIONS = (
    Region(
        "Brooklyn",
        "NY",
        "New York",
        "US",
        "11211",
        "(718) 555-0142",
        (
            ("NY State Tax 4%", Decimal("0.04"), True),
            ("New York City Tax 4.5%", Decimal("0.045"), True),
            ("Metropolitan Commuter Transportation District 0.375%", Decimal("0.00375"), True),
        ),
    ),
    Region(
        "Los Angeles",
        "CA",
        "California",
        "US",
        "90026",
        "(323) 555-0147",
        (
            ("CA State Tax 6%", Decimal("0.06"), False),
            ("Los Angeles County Tax 0.25%", Decimal("0.0025"), False),
            ("Los Angeles Municipal Tax 3.25%", Decimal("0.0325"), False),
        ),
    ),
    Region("Portland", "OR", "Oregon", "US", "97205", "503.555.0162", ()),
    Region(
        "Austin",
        "TX",
        "Texas",
        "US",
        "78701",
        "512-555-0188",
        (("TX State Tax 6.25%", Decimal("0.0625"), True), ("Austin City Tax 2%", Decimal("0.02"), True)),
    ),
    Region(
        "Chicago", "IL", "Illinois", "US", "60614", "312.555.0199", (("IL State Tax 6.25%", Decimal("0.0625"), False),)
    ),
    Region("Toronto", "ON", "Ontario", "CA", "M5V 3X5", "+1 416 555 0175", (("HST 13%", Decimal("0.13"), True),)),
    Region(
        "Montréal",
        "QC",
        "Quebec",
        "CA",
        "H2X 1Y4",
        "+1 514 555 0133",
        (("GST 5%", Decimal("0.05"), True), ("QST 9.975%", Decimal("0.09975"), True)),
    ),
    Region("London", "", "", "GB", "NW1 7BT", "020 7946 0321", (("VAT 20%", Decimal("0.20"), True),)),
    Region("Berlin", "", "", "DE", "10119", "+49 30 23125047", (("MwSt 19%", Decimal("0.19"), True),)),
    Region("Mumbai", "MH", "Maharashtra", "IN", "400001", "+91 22 5555 0101", ()),
)
REGION_WEIGHTS = (22, 16, 8, 10, 8, 8, 4, 10, 8, 6)
FIRST_NAMES = ("Ann", "Ben", "Chloé", "Dev", "Eva", "Finn", "Grace", "Hiro", "Inés", "Jon", "Kai", "Lena", "Łukasz")
LAST_NAMES = ("Archer", "Bell", "Cruz", "Dunn", "Evans", "Fox", "Gray", "Hale", "Ito", "Jones", "Khan", "Müller")
STREETS = {
    "US": ("Main St", "Bedford Ave", "Oak Rd", "Market St"),
    "CA": ("Queen St W", "Rue Sainte-Catherine", "King St E"),
    "GB": ("High Street", "Camden Road", "Baker Street"),
    "DE": ("Lindenstraße", "Torstraße", "Kastanienallee"),
    "IN": ("Linking Road", "Marine Drive", "Hill Road"),
}
PERCENT_CODES = (("WELCOME10", 10), ("SPRING15", 15), ("VIP25", 25), ("BFCM30", 30))
FIXED_CODES = (("GARDEN5", Decimal("5.00")), ("SAVE20", Decimal("20.00")))
PAYMENT_METHODS = ("Shopify Payments", "Shopify Payments", "Shopify Payments", "PayPal Express Checkout")
# Products no longer in the catalog, with the SKU they had (lines kept without a variant).
DISCONTINUED = (
    Item("Canvas Tote Bag", "PD-TOTE-NAT", Decimal("28.00"), None, "Northwind Knits", in_catalog=False),
    Item("Linen Table Runner - Sage", "HSH-RUNNER-SAGE", Decimal("42.00"), None, "Slow Morning Co.", in_catalog=False),
    Item("Terracotta Herb Planter", "RL-HERB-3", Decimal("36.50"), None, "Ridgeline Outfitters", in_catalog=False),
)


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):.2f}"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def shop_date(value: datetime) -> str:
    return value.astimezone(SHOP_TIME).strftime(DATE_FORMAT)


def catalog_items(path: Path = DEMO_CATALOG) -> list[Item]:
    """The variants of a Shopify product CSV as order lines name them: "Title" for a product
    whose only option value is "Default Title", else "Title - V1 / V2 / V3"."""
    items: list[Item] = []
    title = vendor = ""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Title"]:
                title, vendor = row["Title"], row["Vendor"]
            if not row["Variant Price"]:
                continue  # an extra image row
            values = [row[f"Option{i} Value"] for i in (1, 2, 3) if row[f"Option{i} Value"]]
            name = title if values in ([], ["Default Title"]) else f"{title} - {' / '.join(values)}"
            compare_at = Decimal(row["Variant Compare At Price"]) if row["Variant Compare At Price"] else None
            items.append(Item(name, row["Variant SKU"], Decimal(row["Variant Price"]), compare_at, vendor))
    names = [item.name for item in items]
    if len(set(names)) != len(names):
        raise SystemExit(f"{path}: two variants share a Lineitem name; lines could not be matched by name")
    return items


def order_rows(count: int, items: list[Item], *, seed: int = 15, first_number: int = 1001) -> Iterator[list[str]]:
    """The rows (in ORDER_COLUMNS order) of `count` orders, oldest first, numbered from
    `first_number`. One generator, nothing kept: any `count` streams in constant memory."""
    rng = random.Random(seed)
    customers = max(count // 4, 1)
    start = datetime(2023, 1, 2, 9, 0, tzinfo=SHOP_TIME)
    # Spread the orders over about four years.
    step = timedelta(days=4 * 365) / max(count, 1)
    created = start
    for index in range(count):
        created = created + step * rng.uniform(0.2, 1.8) if index else created
        yield from _order(rng, first_number + index, created, items, customers)


def _order(rng: random.Random, number: int, created: datetime, items: list[Item], customers: int) -> list[list[str]]:
    who = rng.randrange(customers)
    first, last = FIRST_NAMES[who % len(FIRST_NAMES)], LAST_NAMES[(who // len(FIRST_NAMES)) % len(LAST_NAMES)]
    email = f"{first.lower().replace('é', 'e').replace('ł', 'l')}.{last.lower().replace('ü', 'u')}{who}@example.com"
    if rng.random() < 0.1:  # some write their email in another case
        email = email.capitalize()
    region = rng.choices(REGIONS, REGION_WEIGHTS)[0]

    chosen = rng.sample(items, rng.choices((1, 2, 3, 4), (50, 30, 14, 6))[0])
    if rng.random() < 0.02:
        chosen[-1] = rng.choice(DISCONTINUED)
    quantities = [rng.choices((1, 2, 3), (80, 15, 5))[0] for _ in chosen]
    items_total = sum((item.price * q for item, q in zip(chosen, quantities, strict=True)), ZERO)

    code, discount, line_discounts = "", ZERO, [ZERO] * len(chosen)
    roll = rng.random()
    if roll < 0.12:
        code, percent = rng.choice(PERCENT_CODES)
        discount = cents(items_total * percent / 100)
    elif roll < 0.15:
        code, amount = rng.choice(FIXED_CODES)
        discount = min(amount, items_total)
    elif roll < 0.17:
        # An automatic discount (no code): 10% of each line, on the lines' Lineitem discount.
        line_discounts = [cents(item.price * q / 10) for item, q in zip(chosen, quantities, strict=True)]
        discount = sum(line_discounts, ZERO)
    subtotal = items_total - discount

    domestic = region.country == "US"
    if domestic and subtotal >= 150:
        method, shipping = "Free Shipping", ZERO
    elif domestic:
        method, shipping = rng.choice((("Standard Shipping", Decimal("6.95")), ("Express Shipping", Decimal("14.95"))))
    else:
        method, shipping = "International Shipping", Decimal("24.95")
    exempt = rng.random() < 0.03
    tax_lines = (
        []
        if exempt
        else [
            (name, cents((subtotal + (shipping if on_shipping else ZERO)) * rate))
            for name, rate, on_shipping in region.taxes
        ]
    )
    taxes = sum((value for _, value in tax_lines), ZERO)
    total = subtotal + shipping + taxes

    financial = rng.choices(("paid", "partially_refunded", "refunded", "pending", "voided"), (84, 5, 4, 4, 3))[0]
    paid_at = created + timedelta(seconds=rng.randint(5, 90)) if financial not in ("pending", "voided") else None
    refunded = {"refunded": total, "partially_refunded": cents(total * Decimal("0.3"))}.get(financial, ZERO)
    cancelled_at = created + timedelta(hours=rng.randint(1, 48)) if financial == "voided" else None
    if financial in ("paid", "partially_refunded"):
        fulfillment = rng.choices(("fulfilled", "unfulfilled", "partial"), (90, 7, 3))[0]
    else:
        fulfillment = "unfulfilled"
    if fulfillment == "partial" and len(chosen) == 1:
        fulfillment = "fulfilled"
    fulfilled_at = created + timedelta(days=rng.randint(1, 5)) if fulfillment == "fulfilled" else None
    reference = "".join(rng.choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=25))
    paid = paid_at is not None
    name = f"#{number}"
    street = f"{rng.randint(1, 999)} {rng.choice(STREETS[region.country])}"
    unit = rng.choice(("", "", "Apt 4", "Suite 200"))
    full_name = f"{first} {last}"
    address = {
        "Name": full_name,
        "Street": f"{street}, {unit}" if unit else street,
        "Address1": street,
        "Address2": unit,
        "Company": "",
        "City": region.city,
        "Zip": zip_format(region.zip),
        "Province": region.province,
        "Country": region.country,
        "Phone": region.phone,
        "Province Name": region.province_name,
    }
    order = {
        "Name": name,
        "Email": email,
        "Financial Status": financial,
        "Paid at": shop_date(paid_at) if paid_at else "",
        "Fulfillment Status": fulfillment,
        "Fulfilled at": shop_date(fulfilled_at) if fulfilled_at else "",
        "Accepts Marketing": rng.choice(("yes", "no")),
        "Currency": "USD",
        "Subtotal": money(subtotal),
        "Shipping": money(shipping),
        "Taxes": money(taxes),
        "Total": money(total),
        "Discount Code": code,
        "Discount Amount": money(discount),
        "Shipping Method": method,
        "Created at": shop_date(created),
        "Notes": "Leave it with the neighbour, please." if rng.random() < 0.03 else "",
        "Note Attributes": "gift_wrap: yes\ngift_message: Happy birthday!" if rng.random() < 0.02 else "",
        "Cancelled at": shop_date(cancelled_at) if cancelled_at else "",
        "Payment Method": rng.choice(PAYMENT_METHODS),
        "Payment Reference": reference if paid else "",
        "Refunded Amount": money(refunded),
        "Outstanding Balance": money(total) if financial == "pending" else "0.00",
        "Id": str(5_000_000_000_000 + number),
        "Tags": "",
        "Risk Level": rng.choices(("Low", "Medium", "High"), (90, 8, 2))[0],
        "Source": "web",
        "Phone": "",
        "Payment ID": reference if paid else f"{name}.1",
        "Payment References": reference if paid else "",
    }
    for prefix in ("Billing", "Shipping"):
        for column, value in address.items():
            order[f"{prefix} {column}"] = value
    for n, (tax_name, value) in enumerate(tax_lines, start=1):
        order[f"Tax {n} Name"], order[f"Tax {n} Value"] = tax_name, money(value)

    rows = []
    for position, (item, quantity) in enumerate(zip(chosen, quantities, strict=True)):
        shipped = fulfillment == "fulfilled" or (fulfillment == "partial" and position == 0)
        use_sku = not item.in_catalog or rng.random() < 0.5
        line = {
            "Lineitem quantity": str(quantity),
            "Lineitem name": item.name,
            "Lineitem price": money(item.price),
            "Lineitem compare at price": money(item.compare_at) if item.compare_at is not None else "",
            "Lineitem sku": item.sku if use_sku else "",
            "Lineitem requires shipping": "true",
            "Lineitem taxable": "true",
            "Lineitem fulfillment status": "fulfilled" if shipped else "pending",
            "Vendor": item.vendor,
            "Lineitem discount": money(line_discounts[position]),
        }
        values = {**order, **line} if position == 0 else {**{c: order[c] for c in REPEATED_COLUMNS}, **line}
        rows.append([values.get(column, "") for column in ORDER_COLUMNS])
    return rows


def generate(path: Path, count: int, *, seed: int = 15) -> dict[str, Decimal | int]:
    """Writes `count` orders to `path` and returns what an import must find: orders, rows
    (= order lines), lines of catalog variants, Σ Total, Σ Refunded Amount."""
    items = catalog_items()
    catalog_names = {item.name for item in items}
    figures: dict[str, Decimal | int] = {"orders": 0, "lines": 0, "matched": 0, "total": ZERO, "refunded": ZERO}
    index = {column: i for i, column in enumerate(ORDER_COLUMNS)}
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ORDER_COLUMNS)
        for row in order_rows(count, items, seed=seed):
            writer.writerow(row)
            figures["lines"] += 1  # type: ignore[operator]
            figures["matched"] += row[index["Lineitem name"]] in catalog_names  # type: ignore[operator]
            if row[index["Financial Status"]]:
                figures["orders"] += 1  # type: ignore[operator]
                figures["total"] += Decimal(row[index["Total"]])  # type: ignore[operator]
                figures["refunded"] += Decimal(row[index["Refunded Amount"]])  # type: ignore[operator]
    return figures


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True, cwd=common.ROOT
    )
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"manage.py {' '.join(args)} failed ({done.returncode})")
    return done


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str


def timed_import(env: dict[str, str], path: Path, log: Path) -> Measured:
    """manage.py import_orders `path` in a child process: wall time, and the peak resident set
    of that process alone (os.wait4's rusage; ru_maxrss is in KiB on Linux)."""
    with log.open("w") as out:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, str(MANAGE), "import_orders", str(path)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=common.ROOT,
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return Measured(seconds, usage.ru_maxrss / 1024, child.returncode, log.read_text())


def imported_figures(url: str) -> dict[str, Decimal | int]:
    import psycopg

    with psycopg.connect(common.psycopg_dsn(url)) as conn:
        orders, total, refunded = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(total), 0), COALESCE(SUM(refunded_total), 0) "
            "FROM orders_order WHERE imported_at IS NOT NULL"
        ).fetchone()
        lines, matched = conn.execute(
            "SELECT COUNT(*), COUNT(l.variant_id) FROM orders_orderline l "
            "JOIN orders_order o ON o.id = l.order_id WHERE o.imported_at IS NOT NULL"
        ).fetchone()
    return {"orders": orders, "lines": lines, "matched": matched, "total": total, "refunded": refunded}


def drop_database(name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(common.psycopg_dsn(common.database_url("postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=20_000, help="orders to generate (default 20,000)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--database", default="bench_import_orders", help="dropped and created again")
    parser.add_argument("--max-rss-mb", type=float, default=300.0, help="fail at this peak or above (default 300)")
    parser.add_argument("--again", action="store_true", help="import the same file a second time (a no-op)")
    parser.add_argument("--file", type=Path, help="keep the generated file here (default: a temporary file)")
    parser.add_argument("--generate-only", action="store_true", help="write --file and stop")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-import-orders-") as tmp:
        path = args.file or Path(tmp) / "orders_export.csv"
        started = time.perf_counter()
        expected = generate(path, args.orders, seed=args.seed)
        size_mb = path.stat().st_size / 1e6
        print(
            f"Generated {expected['orders']:,} orders, {expected['lines']:,} lines "
            f"({expected['matched']:,} of catalog variants) in {time.perf_counter() - started:.1f} s: "
            f"{path} ({size_mb:.1f} MB), Σ Total {expected['total']}, Σ Refunded {expected['refunded']}"
        )
        if args.generate_only:
            return 0

        url = common.recreate_database(args.database)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "MEDIA_ROOT": str(Path(tmp) / "media"),
            "IMPORT_IMAGE_TIMEOUT_SECONDS": "1",
        }
        try:
            manage(env, "migrate", "--verbosity", "0")
            manage(env, "import_products", str(DEMO_CATALOG))
            runs = [("import", timed_import(env, path, Path(tmp) / "import.log"))]
            if args.again and runs[0][1].returncode == 0:
                runs.append(("again", timed_import(env, path, Path(tmp) / "again.log")))
            found = imported_figures(url)
        finally:
            if not args.keep_database:
                drop_database(args.database)

    failed = False
    for label, run in runs:
        rate = expected["orders"] / run.seconds if run.seconds else 0.0
        print(
            f"{label}: manage.py import_orders: {run.seconds:.1f} s wall, {rate:,.0f} orders/s, "
            f"peak RSS {run.peak_rss_mb:.0f} MB (limit {args.max_rss_mb:.0f} MB), exit {run.returncode}"
        )
        print("  " + run.output.strip().replace("\n", "\n  ")[-2000:])
        if run.returncode:
            print(f"FAILED: import_orders exited {run.returncode}")
            failed = True
        if run.peak_rss_mb >= args.max_rss_mb:
            print(f"FAILED: peak RSS {run.peak_rss_mb:.0f} MB >= {args.max_rss_mb:.0f} MB")
            failed = True
    for key in ("orders", "lines", "matched", "total", "refunded"):
        ok = found[key] == expected[key]
        print(
            f"  {key:<9} in the file {expected[key]!s:>14}   imported {found[key]!s:>14}   "
            + ("ok" if ok else "DIFFERENT")
        )
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
