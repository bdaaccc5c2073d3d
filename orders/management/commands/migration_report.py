"""
manage.py migration_report [--orders FILE.csv ...] [--customers FILE.csv ...]: what a merchant
checks after switching shops. Exit status 1 when anything differs from the files given.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Sum
from django.db.models.functions import ExtractYear

from accounts.importer import customers_differences, customers_parse
from kernel.csvfiles import CsvFile, ImportRejected
from orders.customer_export import order_totals_by_email
from orders.importer import YearFigures, orders_differences, orders_file_figures
from orders.models import Order, OrderLine


def _money(value) -> str:
    return f"{Decimal(value or 0):.2f}"


class Command(BaseCommand):
    help = (
        "Reports what came over from the previous shop: customers (imported / all), orders and "
        "order lines, and per year (by order date, in the shop's time zone) the imported orders, "
        "their revenue (sum of totals) and refunds. With --orders, the same figures read from "
        "the orders export files and every difference per order (missing, totals, status, "
        "lines, dates, emails); with --customers, every difference per customer. Exits with "
        "status 1 when there is any difference, 0 when there is none."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orders", nargs="+", default=[], metavar="FILE.csv", help="Shopify orders exports")
        parser.add_argument("--customers", nargs="+", default=[], metavar="FILE.csv", help="Shopify customers exports")

    def handle(self, *args, **options):
        out = self.stdout.write
        users = get_user_model().objects
        imported_orders = Order.objects.filter(imported_at__isnull=False)
        out("Migration report")
        out(f"Customers: {users.filter(imported_at__isnull=False).count()} imported, {users.count()} accounts in all")
        out(f"Orders: {imported_orders.count()} imported, {Order.objects.count()} in all")
        out(
            f"Order lines: {OrderLine.objects.filter(order__imported_at__isnull=False).count()} of imported orders, "
            f"{OrderLine.objects.count()} in all"
        )
        here = self._years_here(imported_orders)
        out("Imported orders per year (year: orders, revenue, refunds):")
        self._write_years(here)
        differences: list[str] = []
        try:
            if options["orders"]:
                differences += self._orders(options["orders"], here)
            if options["customers"]:
                differences += self._customers(options["customers"])
        except ImportRejected as rejected:
            for problem in rejected.problems:
                self.stderr.write(str(problem))
            raise CommandError(f"The files have {len(rejected.problems)} problem(s); nothing compared.") from rejected
        if differences:
            out(f"Differences: {len(differences)}")
            for line in differences:
                out(f"  {line}")
            raise CommandError(f"{len(differences)} difference(s) between the files and this shop.", returncode=1)
        if options["orders"] or options["customers"]:
            out(self.style.SUCCESS("No differences: nothing was lost."))

    def _years_here(self, orders) -> dict[int, YearFigures]:
        # ExtractYear works in the current time zone (settings.TIME_ZONE).
        rows = (
            orders.annotate(year=ExtractYear("created_at"))
            .values("year")
            .annotate(orders=Count("pk"), revenue=Sum("total"), refunds=Sum("refunded_total"))
            .order_by("year")
        )
        return {
            row["year"]: YearFigures(row["orders"], Decimal(row["revenue"] or 0), Decimal(row["refunds"] or 0))
            for row in rows
        }

    def _write_years(self, years: dict[int, YearFigures]) -> None:
        for year, figures in sorted(years.items()):
            self.stdout.write(
                f"  {year}: {figures.orders} orders, revenue {_money(figures.revenue)}, "
                f"refunds {_money(figures.refunds)}"
            )
        total = YearFigures(
            sum(f.orders for f in years.values()),
            sum((f.revenue for f in years.values()), Decimal(0)),
            sum((f.refunds for f in years.values()), Decimal(0)),
        )
        self.stdout.write(
            f"  all: {total.orders} orders, revenue {_money(total.revenue)}, refunds {_money(total.refunds)}"
        )

    def _orders(self, paths: list[str], here: dict[int, YearFigures]) -> list[str]:
        figures = orders_file_figures(paths=paths)
        self.stdout.write(f"Orders file(s): {figures.orders} orders, {figures.lines} lines")
        self.stdout.write("Orders in the file(s) per year:")
        self._write_years(figures.years)
        differences = []
        for year, theirs in sorted(figures.years.items()):
            ours = here.get(year, YearFigures())
            for label, a, b in (
                ("orders", theirs.orders, ours.orders),
                ("revenue", _money(theirs.revenue), _money(ours.revenue)),
                ("refunds", _money(theirs.refunds), _money(ours.refunds)),
            ):
                if a != b:
                    differences.append(f"{year}: {label} {a} in the file(s), {b} here")
        return differences + orders_differences(paths=paths)

    def _customers(self, paths: list[str]) -> list[str]:
        customers = customers_parse(paths=paths)
        self.stdout.write(f"Customers file(s): {len(customers)} customers")
        return customers_differences(paths=paths) + _order_totals_differences(paths)


def _order_totals_differences(paths: list[str]) -> list[str]:
    """Where Shopify's Total Orders and Total Spent of a customer (export-only columns, which
    the import does not store) differ from the orders here with that email: the order history
    did not all come over. Files without those columns (the generic format) say nothing.
    Compared as Shopify writes them ("424.13", "4"); the files were checked by
    customers_parse already."""
    theirs: dict[str, tuple[str, str, str]] = {}
    for path in paths:
        for _, row in CsvFile(path, []).rows():
            email = row.get("Email", "")
            if email and (row.get("Total Orders") or row.get("Total Spent")):
                theirs[email.lower()] = (email, row.get("Total Spent", ""), row.get("Total Orders", ""))
    ours = order_totals_by_email(theirs)
    differences = []
    for key, (email, spent, count) in theirs.items():
        here_spent, here_count = ours.get(key, (Decimal(0), 0))
        if count and count != str(here_count):
            differences.append(f"{email}: Total Orders {count} in the file, {here_count} here")
        if spent and spent != _money(here_spent):
            differences.append(f"{email}: Total Spent {spent} in the file, {_money(here_spent)} here")
    return differences
