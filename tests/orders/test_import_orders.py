"""import_orders: Shopify's orders export as order history (orders.importer)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum
from django.urls import reverse

from inventory.models import Reservation, StockMovement
from kernel.csvfiles import ImportRejected
from orders.importer import orders_import
from orders.models import EmailLog, Invoice, Order, OrderEvent, OrderLine
from orders.reports import Period, sales_per_day
from orders.services import (
    ImportedOrderError,
    order_cancel,
    order_mark_paid,
    order_record_refund,
    order_ship,
    orders_expire_overdue,
)
from payments.models import Payment
from payments.services import PaymentError, payment_start
from tests.factories import UserFactory

from .helpers import place_order
from .shopify import order_rows, write_orders

pytestmark = pytest.mark.django_db

PROBLEM = re.compile(r'^(?P<file>.+):(?P<line>\d+): column "(?P<column>[^"]+)": .+$')


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Order, OrderLine, OrderEvent, StockMovement, Reservation, Invoice, EmailLog, Payment)
    }


# -- the shared sample -----------------------------------------------------------------------


def test_the_sample_imports_completely_and_moves_nothing_else(shopify_catalog, orders_csv):
    before = counts()
    result = orders_import(paths=[orders_csv])

    assert (result.created, result.updated, result.unchanged, result.skipped) == (62, 0, 0, 0)
    assert (result.lines, result.lines_without_variant) == (109, 3)
    imported = Order.objects.filter(imported_at__isnull=False)
    assert imported.count() == 62
    assert OrderLine.objects.count() == 109
    # The three lines whose products left the catalogs, with their old SKUs.
    assert sorted(
        OrderLine.objects.filter(variant__isnull=True).values_list("order__number", "product_title", "sku")
    ) == [
        ("#1017", "Canvas Tote Bag", "PD-TOTE-NAT"),
        ("#1038", "Linen Table Runner - Sage", "HSH-RUNNER-SAGE"),
        ("#1055", "Terracotta Herb Planter", "RL-HERB-3"),
    ]
    assert imported.aggregate(total=Sum("total"))["total"] == Decimal("13000.48")
    assert imported.aggregate(refunded=Sum("refunded_total"))["refunded"] == Decimal("692.42")
    per_year = {
        year: sum((o.total for o in imported if o.created_at.astimezone(UTC).year == year), Decimal(0))
        for year in (2024, 2025, 2026)
    }
    assert per_year == {2024: Decimal("5621.47"), 2025: Decimal("4888.54"), 2026: Decimal("2490.47")}
    assert Counter(imported.values_list("status", flat=True)) == {
        Order.Status.FULFILLED: 47,
        Order.Status.PAID: 1,
        Order.Status.PARTIALLY_FULFILLED: 2,
        Order.Status.PARTIALLY_REFUNDED: 4,
        Order.Status.REFUNDED: 3,
        Order.Status.PENDING_PAYMENT: 3,
        Order.Status.CANCELLED: 2,
    }
    assert Counter(o.source_data["Financial Status"] for o in imported) == {
        "paid": 50,
        "partially_refunded": 4,
        "refunded": 3,
        "pending": 3,
        "voided": 2,
    }
    # History only: no stock, reservation, event, invoice, payment or email.
    after = counts()
    assert {k: after[k] for k in after if k not in ("Order", "OrderLine")} == {
        k: before[k] for k in before if k not in ("Order", "OrderLine")
    }
    assert mail.outbox == []

    # A second import changes nothing.
    stamps = dict(imported.values_list("number", "updated_at"))
    line_ids = sorted(OrderLine.objects.values_list("pk", flat=True))
    again = orders_import(paths=[orders_csv])
    assert (again.created, again.updated, again.unchanged, again.skipped) == (0, 0, 62, 0)
    assert dict(imported.values_list("number", "updated_at")) == stamps
    assert sorted(OrderLine.objects.values_list("pk", flat=True)) == line_ids
    assert counts() == after


def test_an_order_keeps_its_number_dates_money_addresses_and_lines(shopify_catalog, orders_csv):
    orders_import(paths=[orders_csv])
    order = Order.objects.get(number="#1001")

    assert order.email == "zoe.martin@example.com"
    assert order.status == Order.Status.FULFILLED
    assert order.created_at == datetime(2024, 1, 9, 15, 14, 37, tzinfo=UTC)
    assert order.paid_at == datetime(2024, 1, 9, 15, 14, 40, tzinfo=UTC)
    # Ours is before the discount; Shopify's Subtotal (108.00) after it.
    assert (order.subtotal, order.discount_total, order.voucher_code) == (
        Decimal("120.00"),
        Decimal("12.00"),
        "WELCOME10",
    )
    assert (order.shipping_total, order.tax_total, order.total) == (
        Decimal("6.95"),
        Decimal("10.26"),
        Decimal("125.21"),
    )
    assert order.prices_include_tax is False
    assert order.shipping_method_name == "Standard Shipping"
    assert order.checkout_token == "import:#1001"
    assert (order.shipping_line1, order.shipping_line2, order.shipping_city) == (
        "2417 Sunset Blvd",
        "Apt 5",
        "Los Angeles",
    )
    assert (order.shipping_postal_code, order.shipping_country_area, str(order.shipping_country)) == (
        "90026",
        "CA",
        "US",
    )
    assert str(order.shipping_phone) == "+13235550147"
    assert order.source_data["Billing Phone"] == "(323) 555-0147"  # as typed, for the export
    assert order.source_data["Tax 1 Name"] == "CA State Tax 7.25%"
    assert order.source_data["Payment Reference"] == "rWPDNPU4Uducpzpxuh7arJUqi"
    assert "Notes" not in order.source_data  # only non-empty values
    assert order.user is None  # no account with that email
    lines = list(order.lines.all())
    assert [(x.product_title, x.variant_title, x.quantity, x.unit_price, x.line_total) for x in lines] == [
        ("Classic Varsity Top", "Medium", 1, Decimal("60.00"), Decimal("60.00")),
        ("White Cotton Shirt", "", 2, Decimal("30.00"), Decimal("60.00")),
    ]
    assert all(x.variant is not None and x.shipped_quantity == x.quantity for x in lines)
    assert lines[0].variant.title == "Medium" and lines[0].variant.product.title == "Classic Varsity Top"
    assert lines[1].source_data["Vendor"] == "partners-demo"


def test_orders_attach_to_the_account_with_that_email_in_any_case(shopify_catalog, orders_csv):
    marcus = UserFactory(email="MARCUS.BELL@EXAMPLE.NET")
    orders_import(paths=[orders_csv])
    mine = Order.objects.filter(user=marcus)
    assert mine.count() >= 2
    assert {o.email.lower() for o in mine} == {"marcus.bell@example.net"}
    assert Order.objects.get(number="#1007").user is None  # a guest stays a guest
    assert Order.objects.get(number="#1044").email == ""  # the POS sale has none


def test_a_changed_order_is_updated_and_its_lines_replaced(shopify_catalog, orders_csv, tmp_path):
    orders_import(paths=[orders_csv])
    text = orders_csv.read_text(encoding="utf-8")
    changed = tmp_path / "newer.csv"
    # #1002's note changes and its second line's compare-at price (a line column) too.
    old = '"Please leave with the doorman, not in the mailroom."'
    assert text.count(old) == 1
    text = text.replace(old, '"Leave it at the door."')
    text = text.replace("1,Copper Light,59.99,75.00,", "1,Copper Light,59.99,79.00,", 1)
    changed.write_text(text, encoding="utf-8")
    line_ids = list(Order.objects.get(number="#1002").lines.values_list("pk", flat=True))

    result = orders_import(paths=[changed])

    assert (result.created, result.updated, result.unchanged) == (0, 1, 61)
    order = Order.objects.get(number="#1002")
    assert order.source_data["Notes"] == "Leave it at the door."
    assert [x.source_data.get("Lineitem compare at price") for x in order.lines.all()] == ["30.00", "79.00"]
    assert set(order.lines.values_list("pk", flat=True)).isdisjoint(line_ids)


def test_a_dry_run_writes_nothing_and_says_what_it_would_do(shopify_catalog, orders_csv, capsys):
    before = counts()
    call_command("import_orders", str(orders_csv), "--dry-run")
    out = capsys.readouterr().out
    assert "would create #1001" in out
    assert "Dry run, nothing written. Orders: 62 created, 0 updated, 0 unchanged, 0 skipped." in out
    assert counts() == before


def test_an_imported_paid_order_counts_in_sales_by_its_paid_date(shopify_catalog, orders_csv):
    orders_import(paths=[orders_csv])
    # #1001 paid 2024-01-09 (UTC, the test time zone), 125.21.
    days = sales_per_day(Period(date(2024, 1, 9), date(2024, 1, 9)))
    assert [(d.orders, d.revenue) for d in days] == [(1, Decimal("125.21"))]


# -- small files written here ----------------------------------------------------------------


def test_an_identical_repeat_is_skipped(tmp_path):
    rows = order_rows("#1001") + order_rows("#1002") + order_rows("#1001")
    result = orders_import(paths=[write_orders(tmp_path / "o.csv", rows)])
    assert (result.created, result.skipped) == (2, 1)
    assert Order.objects.count() == 2


def _rejected(tmp_path, rows, *, columns=None) -> list[tuple[int, str]]:
    """Runs import_orders on `rows`; asserts it failed and wrote nothing; returns (line, column)."""
    kwargs = {"columns": columns} if columns else {}
    path = write_orders(tmp_path / "orders.csv", rows, **kwargs)
    before = counts()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_orders", str(path))
    assert counts() == before
    with pytest.raises(ImportRejected) as rejected:
        orders_import(paths=[path])
    found = []
    for problem in rejected.value.problems:
        match = PROBLEM.match(str(problem))
        assert match and match["file"] == str(path), str(problem)
        found.append((int(match["line"]), match["column"]))
    return found


def test_a_total_that_does_not_add_up_is_rejected(tmp_path):
    rows = order_rows("#1001") + order_rows("#1002")
    rows[2]["Total"] = "99.99"  # #1002's first row is line 4
    assert _rejected(tmp_path, rows) == [(4, "Total")]


def test_a_subtotal_that_is_not_the_lines_less_the_discount_is_rejected(tmp_path):
    rows = order_rows("#1001")
    rows[1]["Lineitem price"] = "6.50"
    assert _rejected(tmp_path, rows) == [(2, "Subtotal")]


@pytest.mark.parametrize("quantity", ["0", "two", "-1", "1.5"])
def test_a_quantity_that_is_not_a_positive_whole_number_is_rejected(tmp_path, quantity):
    rows = order_rows("#1001")
    rows[1]["Lineitem quantity"] = quantity
    assert _rejected(tmp_path, rows) == [(3, "Lineitem quantity")]


def test_a_date_that_is_not_a_date_is_rejected(tmp_path):
    rows = order_rows("#1001") + order_rows("#1002")
    rows[2]["Created at"] = "yesterday"
    assert _rejected(tmp_path, rows) == [(4, "Created at")]


def test_an_invalid_email_is_rejected(tmp_path):
    rows = order_rows("#1001", email="ada@")
    assert _rejected(tmp_path, rows) == [(2, "Email")]


def test_the_same_number_twice_with_other_data_is_rejected(tmp_path):
    rows = order_rows("#1001") + order_rows("#1002") + order_rows("#1001", shipping="6.00")
    assert _rejected(tmp_path, rows) == [(6, "Name")]


def test_a_missing_required_column_is_rejected(tmp_path):
    from orders.order_export import ORDER_COLUMNS

    columns = [c for c in ORDER_COLUMNS if c != "Total"]
    assert _rejected(tmp_path, order_rows("#1001"), columns=columns) == [(1, "Total")]


def test_a_row_continuing_another_order_is_rejected(tmp_path):
    rows = order_rows("#1001") + order_rows("#1002")
    rows[1]["Name"] = "#1009"
    # Only that: #1001, short of a line, is not also reported for its Subtotal.
    assert _rejected(tmp_path, rows) == [(3, "Name")]


@pytest.mark.parametrize("number", ["#10/01", "# 1001", "#1001?", "#10%01", "#" + "1" * 32])
def test_numbers_that_cannot_be_a_url_part_are_rejected(tmp_path, number):
    assert _rejected(tmp_path, order_rows(number)) == [(2, "Name")]


def test_a_number_of_an_order_placed_here_is_rejected(tmp_path, variant):
    ours = place_order((variant, 1))
    assert _rejected(tmp_path, order_rows(ours.number)) == [(2, "Name")]


@pytest.fixture
def variant():
    from tests.factories import stocked_variant

    return stocked_variant(on_hand=5)


def test_statuses_map_from_the_financial_and_fulfillment_status(tmp_path):
    rows = (
        order_rows("#1", financial="paid", fulfillment="unfulfilled")
        + order_rows("#2", financial="paid", fulfillment="partial")
        + order_rows("#3", financial="paid", fulfillment="fulfilled")
        + order_rows("#4", financial="pending", fulfillment="unfulfilled")
        + order_rows("#5", financial="voided", fulfillment="unfulfilled")
        + order_rows("#6", financial="refunded", fulfillment="fulfilled")
    )
    orders_import(paths=[write_orders(tmp_path / "o.csv", rows)])
    assert dict(Order.objects.values_list("number", "status")) == {
        "#1": Order.Status.PAID,
        "#2": Order.Status.PARTIALLY_FULFILLED,
        "#3": Order.Status.FULFILLED,
        "#4": Order.Status.PENDING_PAYMENT,
        "#5": Order.Status.CANCELLED,
        "#6": Order.Status.REFUNDED,
    }


def test_an_unknown_financial_status_is_rejected(tmp_path):
    assert _rejected(tmp_path, order_rows("#1", financial="authorized")) == [(2, "Financial Status")]


# -- imported orders are history ---------------------------------------------------------------


@pytest.fixture
def imported(tmp_path):
    """#1 paid and unfulfilled, #2 pending: the two an action could be tried on."""
    rows = order_rows("#1", financial="paid", fulfillment="unfulfilled") + order_rows(
        "#2", financial="pending", fulfillment="unfulfilled"
    )
    orders_import(paths=[write_orders(tmp_path / "o.csv", rows)])
    return Order.objects.get(number="#1"), Order.objects.get(number="#2")


def test_the_domain_refuses_to_pay_cancel_ship_refund_or_expire_an_imported_order(imported):
    paid, pending = imported
    before = counts()
    with pytest.raises(ImportedOrderError, match="imported from the previous shop"):
        order_mark_paid(order=pending, reference="x", reservation_ttl=timedelta(minutes=5))
    with pytest.raises(ImportedOrderError):
        order_cancel(order=pending, reason="no")
    with pytest.raises(ImportedOrderError):
        order_cancel(order=paid, reason="no")
    with pytest.raises(ImportedOrderError):
        order_ship(order=paid, lines={line.pk: 1 for line in paid.lines.all()}, carrier="UPS", tracking_number="1Z")
    with pytest.raises(ImportedOrderError):
        order_record_refund(order=paid, refunded_total=Decimal("1.00"))
    with pytest.raises(PaymentError, match="imported"):
        payment_start(order=pending, gateway="dummy")
    # The sweep leaves it alone even with a hold in the past.
    Order.objects.filter(pk=pending.pk).update(reservation_expires_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert orders_expire_overdue() == 0
    assert counts() == before
    pending.refresh_from_db()
    assert pending.status == Order.Status.PENDING_PAYMENT


def test_the_owner_sees_the_imported_order_in_their_history(client, shopify_catalog, orders_csv):
    zoe = UserFactory(email="zoe.martin@example.com")
    orders_import(paths=[orders_csv])
    client.force_login(zoe)

    listing = client.get(reverse("orders:list"))
    assert listing.status_code == 200
    assert "#1001" in listing.content.decode()
    url = reverse("orders:detail", args=["#1001"])
    assert "%231001" in url
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    for text in (
        "Order #1001",
        "9 January 2024",
        "Classic Varsity Top",
        "Medium",
        "White Cotton Shirt",
        "$125.21",
        "$10.26",
        "CA State Tax 7.25%",
        "$7.83",
        "Los Angeles County Tax 2.25%",
        "WELCOME10",
        "data-imported",
    ):
        assert text in html, text
    assert "Pay now" not in html
    assert "data-cancel-form" not in html


def test_an_imported_pending_order_offers_no_payment(client, imported):
    _, pending = imported
    owner = UserFactory(email="ada@example.com")
    Order.objects.filter(pk=pending.pk).update(user=owner)
    client.force_login(owner)
    html = client.get(reverse("orders:detail", args=["#2"])).content.decode()
    assert "Pay now" not in html and "data-cancel-form" not in html
    response = client.get(reverse("payments:pay", args=[pending.access_token]))
    assert response.status_code == 302 and response["Location"] == reverse("orders:detail", args=["#2"])


def test_the_api_shows_an_imported_order_and_refuses_to_cancel_it(imported):
    from rest_framework.test import APIClient

    paid, _ = imported
    owner = UserFactory(email="ada@example.com")
    Order.objects.filter(pk=paid.pk).update(user=owner)
    api = APIClient()
    api.force_authenticate(owner)
    response = api.get("/api/v1/orders/%231/")
    assert response.status_code == 200
    assert response.json()["number"] == "#1"
    cancel = api.post("/api/v1/orders/%231/cancel/", {"reason": "no"}, format="json")
    assert cancel.status_code == 409, cancel.content
    paid.refresh_from_db()
    assert paid.status == Order.Status.PAID


def test_the_admin_filters_imported_orders_and_shows_their_source_columns(admin_client, imported):
    paid, _ = imported
    listing = admin_client.get(reverse("admin:orders_order_changelist") + "?imported=yes")
    assert listing.status_code == 200, listing.get("Location")
    assert "#1" in listing.content.decode()
    page = admin_client.get(reverse("admin:orders_order_change", args=[paid.pk]))
    html = page.content.decode()
    assert "Payment Method: Shopify Payments" in html
    assert 'name="shipping_name"' not in html  # read-only: history


def test_the_order_page_lists_the_previous_shops_milestones_in_the_shop_time_zone(client, tmp_path, settings):
    settings.TIME_ZONE = "America/New_York"
    rows = order_rows("#7", created="2024-03-01 10:00:00 -0500", paid="2024-03-01 10:00:05 -0500")
    rows[0].update({"Fulfilled at": "2024-03-04 16:30:00 -0500", "Cancelled at": ""})
    orders_import(paths=[write_orders(tmp_path / "o.csv", rows)])
    owner = UserFactory(email="ada@example.com")
    Order.objects.filter(number="#7").update(user=owner)
    client.force_login(owner)

    page = client.get(reverse("orders:detail", args=["#7"]))

    history = [(event.type, event.created_at) for event in page.context["history"]]
    assert [kind for kind, _ in history] == ["placed", "paid", "shipped"]
    html = page.content.decode()
    for text in ("Order placed", "1 March 2024, 10:00", "Payment captured", "Shipped", "4 March 2024, 16:30"):
        assert text in html, text


def test_a_sale_made_in_person_shows_no_addresses_and_no_shipping_method(client, tmp_path):
    rows = order_rows("#8", shipping="0.00")
    for column in list(rows[0]):
        if column.startswith(("Billing ", "Shipping ")):
            rows[0][column] = ""
    rows[0]["Source"] = "pos"
    orders_import(paths=[write_orders(tmp_path / "o.csv", rows)])
    order = Order.objects.get(number="#8")

    html = client.get(order.get_guest_url()).content.decode()

    assert "Order #8" in html
    assert "Shipping to" not in html and "Billed to" not in html
    assert "Shipping ()" not in html and "Shipping <span" not in html
