"""The reports page in the back office: sales per day (paid or later, shop currency) with a
chart, orders by status, invoices and credit notes, top products, most viewed products, low
stock and reservations for a date range (the last 30 days by default); every table as CSV;
staff who may view orders only; a fixed number of queries however much data there is."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.services import product_view_record, product_views_flush
from inventory.models import Reservation, StockItem
from inventory.services import StockLine, stock_reserve
from orders.credit_notes import credit_note_for_refund
from orders.invoices import invoice_issue
from orders.models import Order
from orders.services import order_cancel, sweep_run
from payments.services import order_cancel_and_refund, payment_refund
from tests.factories import ProductFactory, UserFactory, stocked_variant
from tests.orders.helpers import place_order
from tests.payments.helpers import pay_by_dummy_webhook

pytestmark = pytest.mark.django_db

REPORTS = reverse("admin:orders_order_reports")


def pay(order: Order) -> Order:
    """Pays `order` the way the dummy gateway does: a payment, then its webhook."""
    pay_by_dummy_webhook(order)
    assert order.status == Order.Status.PAID
    return order


def refund(order: Order, amount: Decimal) -> None:
    payment_refund(payment=order.payments.get(), amount=amount, reason="Scratched")


def days_ago(order: Order, days: int) -> None:
    """Moves the order (placed, paid, and its stock holds) `days` back in time."""
    shift = timedelta(days=days)
    Order.objects.filter(pk=order.pk).update(
        created_at=order.created_at - shift, paid_at=order.paid_at - shift if order.paid_at else None
    )
    for reservation in Reservation.objects.filter(owner=order.reservation_owner):
        Reservation.objects.filter(pk=reservation.pk).update(created_at=reservation.created_at - shift)


def threshold(variant, units: int) -> None:
    StockItem.objects.filter(variant=variant).update(low_stock_threshold=units)


def view(product, times: int) -> None:
    for _ in range(times):
        product_view_record(product_id=product.pk)


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def shop():
    """Anorak (A, 30.00) and Beanie (B, 10.00), 10 of each on hand; shipping 5.00.

    today:      #1 2 × A = 65.00, paid
    yesterday:  #2 1 × A + 4 × B = 75.00, paid, 10.00 refunded
    today:      #3 1 × B, awaiting payment (holds 1 B); #4 1 × B, cancelled before payment
    40 days ago: #5 1 × A, paid (outside the default 30 days)
    B: available 10 − 4 − 1 = 5, threshold 5 → low; A: available 6, threshold 2 → fine.
    Views: Anorak 5, Beanie 2. Reservations besides the orders': a cart hold that lapsed
    and was swept (expired), and one that lapsed since (lapsed).
    """
    a = stocked_variant(on_hand=10, sku="SKU-A", price=Decimal("30.00"), product=ProductFactory(title="Anorak"))
    b = stocked_variant(on_hand=10, sku="SKU-B", price=Decimal("10.00"), product=ProductFactory(title="Beanie"))
    pay(place_order((a, 2)))
    second = pay(place_order((a, 1), (b, 4)))
    refund(second, Decimal("10.00"))
    days_ago(Order.objects.get(pk=second.pk), 1)
    place_order((b, 1))
    order_cancel(order=place_order((b, 1)), reason="Changed my mind")
    old = pay(place_order((a, 1)))
    days_ago(old, 40)
    threshold(a, 2)
    threshold(b, 5)

    past = timezone.now() - timedelta(seconds=1)
    stock_reserve(lines=[StockLine(a.pk, 1)], owner="cart:swept", ttl=timedelta(minutes=30))
    Reservation.objects.filter(owner="cart:swept").update(expires_at=past)
    sweep_run(trigger="command")
    stock_reserve(lines=[StockLine(a.pk, 1)], owner="cart:lapsed", ttl=timedelta(minutes=30))
    Reservation.objects.filter(owner="cart:lapsed").update(expires_at=past)

    view(a.product, 5)
    view(b.product, 2)
    product_views_flush()
    return a, b


# The figures --------------------------------------------------------------------------------


def test_sales_count_paid_orders_by_the_day_they_were_paid_with_refunds_and_net(staff_client, shop):
    response = staff_client.get(REPORTS)

    assert response.status_code == 200
    sales = response.context["sales"]
    assert len(sales) == 30  # every day of the default period, days without sales as zeros
    today = timezone.localdate()
    assert sales[-1].day == today
    assert [(d.day, d.orders, d.revenue, d.refunded, d.net) for d in sales if d.orders] == [
        (today - timedelta(days=1), 1, Decimal("75.00"), Decimal("10.00"), Decimal("65.00")),
        (today, 1, Decimal("65.00"), Decimal("0.00"), Decimal("65.00")),
    ]
    assert response.context["totals"] == {
        "orders": 2,
        "revenue": Decimal("140.00"),
        "refunded": Decimal("10.00"),
        "net": Decimal("130.00"),
    }


def test_orders_by_status_counts_every_order_placed_in_the_period(staff_client, shop):
    statuses = {row.status: (row.orders, row.total) for row in staff_client.get(REPORTS).context["statuses"]}

    assert statuses["paid"] == (1, Decimal("65.00"))
    assert statuses["partially_refunded"] == (1, Decimal("75.00"))
    assert statuses["pending_payment"] == (1, Decimal("15.00"))
    assert statuses["cancelled"] == (1, Decimal("15.00"))
    assert sum(orders for orders, _ in statuses.values()) == 4  # the order 40 days old is out


def test_top_products_rank_by_units_then_revenue_from_paid_lines(staff_client, shop):
    a, b = shop
    top = staff_client.get(REPORTS).context["top"]

    assert [(row["variant__product_id"], row["title"], row["units"], row["revenue"]) for row in top] == [
        (b.product_id, "Beanie", 4, Decimal("40.00")),
        (a.product_id, "Anorak", 3, Decimal("90.00")),
    ]


def test_most_viewed_products_come_from_the_flushed_view_counts(staff_client, shop):
    viewed = staff_client.get(REPORTS).context["viewed"]

    assert [(stat.product.title, stat.views) for stat in viewed] == [("Anorak", 5), ("Beanie", 2)]


def test_low_stock_lists_variants_whose_available_units_reached_their_threshold(staff_client, shop):
    low = staff_client.get(REPORTS).context["low_stock"]

    assert [(v.sku, v.on_hand, v.available, v.threshold) for v in low] == [("SKU-B", 6, 5, 5)]


def test_reservations_are_counted_by_state(staff_client, shop):
    counts = staff_client.get(REPORTS).context["reservations"]

    # Committed: #1 (one line) and #2 (two lines); #5 is older than the period.
    assert (counts.live, counts.live_units, counts.lapsed, counts.expired, counts.committed, counts.released) == (
        1,
        1,
        1,
        1,
        3,
        1,
    )


def test_a_chosen_period_narrows_every_per_period_table(staff_client, shop):
    old_day = timezone.localdate() - timedelta(days=40)
    response = staff_client.get(REPORTS, {"start": old_day.isoformat(), "end": old_day.isoformat()})

    assert [(d.day, d.orders, d.revenue) for d in response.context["sales"]] == [(old_day, 1, Decimal("35.00"))]
    assert [(row["title"], row["units"]) for row in response.context["top"]] == [("Anorak", 1)]
    assert response.context["status_total"] == 1
    assert response.context["reservations"].committed == 1


def test_orders_in_another_currency_are_not_added_to_the_shop_currency_revenue(staff_client, shop):
    Order.objects.filter(status=Order.Status.PAID).update(currency="EUR")

    assert staff_client.get(REPORTS).context["totals"]["revenue"] == Decimal("75.00")


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-02-10", "end": "2026-02-01"},  # backwards
        {"start": "2020-01-01", "end": "2026-01-01"},  # longer than a year
        {"start": "yesterday"},
        {"end": "2026-02-30"},
    ],
)
def test_a_bad_period_is_a_form_error_and_the_default_period_is_shown(staff_client, shop, params):
    response = staff_client.get(REPORTS, params)

    assert response.status_code == 200
    assert response.context["form"].errors
    assert len(response.context["sales"]) == 30
    assert staff_client.get(REPORTS, {**params, "export": "sales"}).status_code == 400


@pytest.fixture
def credited(shop):
    """The shop, where the refund of 10.00 on #2 (75.00) issued #2's invoice and a credit
    note of 10.00; then #1 (65.00) invoiced and cancelled (a credit note of 65.00)."""
    first, second = Order.objects.get(total=Decimal("65.00")), Order.objects.get(total=Decimal("75.00"))
    invoice_issue(order=first)
    order_cancel_and_refund(order=first, reason="Changed my mind")
    return first, second


def test_invoices_and_credit_notes_issued_in_the_period_are_shown_with_net_invoiced(staff_client, credited):
    first, second = credited
    year = timezone.localtime().year

    response = staff_client.get(REPORTS)

    documents = response.context["documents"]
    assert (documents.invoices, documents.first_invoice, documents.last_invoice, documents.invoiced) == (
        2,
        f"INV-{year}-000001",
        f"INV-{year}-000002",
        Decimal("140.00"),
    )
    assert (documents.credit_notes, documents.credited, documents.net) == (2, Decimal("75.00"), Decimal("65.00"))
    assert [(n.number, n.order, n.amount) for n in response.context["credit_notes"]] == [
        (f"CN-{year}-000001", second, Decimal("10.00")),
        (f"CN-{year}-000002", first, Decimal("65.00")),
    ]
    page = response.content.decode()
    assert f'href="{reverse("admin:orders_order_credit_note", args=[first.pk, f"CN-{year}-000002"])}"' in page
    assert "Net invoiced" in page


def test_invoices_and_credit_notes_download_as_csv(staff_client, credited):
    first, second = credited
    year = timezone.localtime().year
    today = timezone.localdate().isoformat()

    invoices = read_csv(staff_client.get(REPORTS, {"export": "invoices"}))
    notes = read_csv(staff_client.get(REPORTS, {"export": "credit_notes"}))

    assert invoices == [
        ["Invoice", "Issued", "Order", "Total (USD)"],
        [f"INV-{year}-000001", today, second.number, "75.00"],
        [f"INV-{year}-000002", today, first.number, "65.00"],
    ]
    assert notes == [
        ["Credit note", "Issued", "Order", "Invoice", "Credited (USD)", "Tax in it (USD)", "Reason"],
        [f"CN-{year}-000001", today, second.number, f"INV-{year}-000001", "10.00", "0.00", "Scratched"],
        [
            f"CN-{year}-000002",
            today,
            first.number,
            f"INV-{year}-000002",
            "65.00",
            "0.00",
            "Order cancelled: Changed my mind",
        ],
    ]


def test_documents_outside_the_period_are_left_out(staff_client, credited):
    old_day = (timezone.localdate() - timedelta(days=40)).isoformat()

    response = staff_client.get(REPORTS, {"start": old_day, "end": old_day})

    assert (response.context["documents"].invoices, response.context["documents"].credit_notes) == (0, 0)
    assert response.context["credit_notes"] == []


# The chart --------------------------------------------------------------------------------


def test_the_sales_chart_is_inline_svg_with_one_bar_a_day_scaled_to_the_best_day(staff_client, shop):
    response = staff_client.get(REPORTS)
    chart = response.context["chart"]
    page = response.content.decode()

    assert len(chart["bars"]) == 30
    assert chart["peak"] == Decimal("75.00")
    heights = [bar.height for bar in chart["bars"]]
    assert heights[-2] == chart["height"]  # yesterday, the best day, is the full height
    assert heights[-1] == Decimal("173.3")  # 65 / 75 of it
    assert heights.count(0) == 28
    assert '<svg id="sales-chart"' in page and page.count('<rect class="bar"') == 30
    assert "<script" not in page.split('<div id="shop-reports-page">')[1]  # no JS, no CDN


# CSV ----------------------------------------------------------------------------------------


def test_every_table_downloads_as_csv_with_the_same_figures(staff_client, shop):
    a, b = shop
    today = timezone.localdate()

    def export(name):
        response = staff_client.get(REPORTS, {"export": name})
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith(f'attachment; filename="{name}-')
        return read_csv(response)

    sales = export("sales")
    assert sales[0] == ["Day", "Orders", "Revenue (USD)", "Refunded (USD)", "Net (USD)"]
    assert len(sales) == 1 + 30
    assert sales[-2:] == [
        [(today - timedelta(days=1)).isoformat(), "1", "75.00", "10.00", "65.00"],
        [today.isoformat(), "1", "65.00", "0.00", "65.00"],
    ]
    assert ["paid", "Paid", "1", "65.00"] in export("status")
    assert export("top") == [
        ["Product id", "Product", "Units", "Revenue (USD)"],
        [str(b.product_id), "Beanie", "4", "40.00"],
        [str(a.product_id), "Anorak", "3", "90.00"],
    ]
    assert export("viewed")[1:] == [[str(a.product_id), "Anorak", "5"], [str(b.product_id), "Beanie", "2"]]
    assert export("low_stock") == [
        ["SKU", "Product", "Options", "On hand", "Available", "Low-stock threshold"],
        ["SKU-B", "Beanie", "", "6", "5", "5"],
    ]
    assert export("reservations")[1:] == [
        ["live", "1"],
        ["lapsed (awaiting sweep)", "1"],
        ["expired", "1"],
        ["committed", "3"],
        ["released", "1"],
    ]


def test_the_csv_follows_the_chosen_period(staff_client, shop):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    rows = read_csv(staff_client.get(REPORTS, {"start": yesterday, "end": yesterday, "export": "top"}))

    assert [row[1:] for row in rows[1:]] == [["Beanie", "4", "40.00"], ["Anorak", "1", "30.00"]]


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(staff_client):
    variant = stocked_variant(on_hand=5, product=ProductFactory(title="=HYPERLINK(1)"))
    pay(place_order((variant, 1)))

    assert read_csv(staff_client.get(REPORTS, {"export": "top"}))[1][1] == "'=HYPERLINK(1)"


def test_an_unknown_export_is_a_bad_request(staff_client, shop):
    assert staff_client.get(REPORTS, {"export": "passwords"}).status_code == 400


# Cost -----------------------------------------------------------------------------------------


def _queries(client, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(REPORTS, params or {})
        assert response.status_code == 200
        if params and "export" in params:
            b"".join(response.streaming_content)
    return len(ctx.captured_queries)


def _more_of_everything(n: int) -> None:
    for i in range(n):
        variant = stocked_variant(on_hand=3, product=ProductFactory(title=f"Extra {i}"))
        threshold(variant, 3)
        paid = pay(place_order((variant, 1)))
        invoice_issue(order=paid)
        credit_note_for_refund(order=paid, amount=Decimal("1.00"), reason="Goodwill", key=f"refund:more-{i}")
        place_order((variant, 1))
        view(variant.product, i + 1)
    product_views_flush()


def test_the_page_costs_the_same_queries_however_much_data_there_is(staff_client, shop):
    before = _queries(staff_client)
    _more_of_everything(12)

    after = _queries(staff_client)

    assert after == before
    # session, user, then one query per table: sales, statuses, top, viewed, low stock,
    # reservations; and invoice totals, credit note totals, the credit notes listed.
    assert before <= 11


@pytest.mark.parametrize(
    "export", ["sales", "status", "invoices", "credit_notes", "top", "viewed", "low_stock", "reservations"]
)
def test_each_csv_costs_the_same_queries_however_much_data_there_is(staff_client, shop, export):
    before = _queries(staff_client, {"export": export})
    _more_of_everything(5)

    assert _queries(staff_client, {"export": export}) == before


# Who may see it --------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"export": "sales"}])
def test_shoppers_and_visitors_are_sent_to_the_admin_login(client, shop, params):
    response = client.get(REPORTS, params)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    client.force_login(UserFactory())
    response = client.get(REPORTS, params)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("params", [{}, {"export": "sales"}])
def test_staff_who_may_not_view_orders_are_refused(client, shop, params):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(REPORTS, params).status_code == 403


def test_staff_who_may_view_orders_may_read_the_reports(client, shop):
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(clerk)

    assert client.get(REPORTS).status_code == 200
    assert f'href="{REPORTS}"' in client.get(reverse("admin:index")).content.decode()
