"""The stock report in the back office: every variant's on hand, live reservations and
available units, with a low-stock flag, as a page and as CSV; staff only; a fixed number of
queries however many variants there are."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inventory.models import Reservation, StockItem
from inventory.services import StockLine, stock_reserve
from tests.factories import ProductFactory, UserFactory, VariantFactory, stocked_variant

pytestmark = pytest.mark.django_db

REPORT = reverse("admin:catalog_productvariant_stock_report")
CSV = reverse("admin:catalog_productvariant_stock_report_csv")
HEADER = ["SKU", "Product", "Options", "On hand", "Reserved (live)", "Available", "Low-stock threshold", "Low stock"]


def reserve(variant, quantity: int, owner: str, *, lapsed: bool = False) -> None:
    stock_reserve(lines=[StockLine(variant.pk, quantity)], owner=owner, ttl=timedelta(minutes=15))
    if lapsed:
        Reservation.objects.filter(owner=owner).update(expires_at=timezone.now() - timedelta(seconds=1))


def set_threshold(variant, units: int | None) -> None:
    StockItem.objects.filter(variant=variant).update(low_stock_threshold=units)


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def shop():
    """SKU-A: 10 on hand, 3 held live, 2 in a lapsed hold (not counted), threshold 8 → low.
    SKU-B: 20 on hand, nothing held, threshold 5 → fine. SKU-C: never stocked."""
    a = stocked_variant(on_hand=10, sku="SKU-A", product=ProductFactory(title="Anorak"))
    reserve(a, 3, "order:LIVE")
    reserve(a, 2, "cart:gone", lapsed=True)
    set_threshold(a, 8)
    b = stocked_variant(on_hand=20, sku="SKU-B", product=ProductFactory(title="Beanie"))
    set_threshold(b, 5)
    c = VariantFactory(sku="SKU-C", product=ProductFactory(title="Cap"))
    return a, b, c


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def rows(response) -> list[tuple]:
    return [
        (v.sku, v.product.title, v.on_hand, v.reserved, v.available, v.threshold, v.low_stock)
        for v in response.context["page"]
    ]


def test_staff_see_every_variant_with_on_hand_live_reservations_available_and_low_stock(staff_client, shop):
    response = staff_client.get(REPORT)

    assert response.status_code == 200
    assert rows(response) == [
        ("SKU-A", "Anorak", 10, 3, 7, 8, True),
        ("SKU-B", "Beanie", 20, 0, 20, 5, False),
        ("SKU-C", "Cap", 0, 0, 0, None, False),
    ]


def test_the_page_costs_the_same_queries_for_3_variants_as_for_33(staff_client, shop):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert staff_client.get(REPORT).status_code == 200
        return len(ctx.captured_queries)

    with_three = queries()
    for i in range(30):
        variant = stocked_variant(on_hand=5)
        reserve(variant, 1, f"cart:{i}")
        set_threshold(variant, 2)

    assert queries() == with_three
    assert with_three <= 5  # session, user, count, the page's rows (and nothing per row)


def test_search_keeps_the_skus_that_contain_it(staff_client, shop):
    assert [r[0] for r in rows(staff_client.get(REPORT, {"q": "sku-b"}))] == ["SKU-B"]


def test_low_stock_only_keeps_variants_at_or_below_their_threshold(staff_client, shop):
    _, b, _ = shop
    set_threshold(b, 20)  # available 20: exactly at the threshold counts as low

    assert [r[0] for r in rows(staff_client.get(REPORT, {"low": "1"}))] == ["SKU-A", "SKU-B"]


def test_a_variant_without_a_threshold_is_never_low_stock(staff_client, shop):
    a, _, _ = shop
    set_threshold(a, None)

    assert rows(staff_client.get(REPORT, {"low": "1"})) == []
    assert rows(staff_client.get(REPORT, {"q": "SKU-A"})) == [("SKU-A", "Anorak", 10, 3, 7, None, False)]


def test_columns_sort_both_ways_and_an_unknown_sort_falls_back_to_sku(staff_client, shop):
    assert [r[0] for r in rows(staff_client.get(REPORT, {"o": "-available"}))] == ["SKU-B", "SKU-A", "SKU-C"]
    assert [r[0] for r in rows(staff_client.get(REPORT, {"o": "reserved"}))] == ["SKU-B", "SKU-C", "SKU-A"]
    assert [r[0] for r in rows(staff_client.get(REPORT, {"o": "password"}))] == ["SKU-A", "SKU-B", "SKU-C"]


def test_the_report_shows_100_variants_a_page(staff_client):
    VariantFactory.create_batch(101)

    first = staff_client.get(REPORT)
    second = staff_client.get(REPORT, {"p": "2"})

    assert len(first.context["page"]) == 100
    assert len(second.context["page"]) == 1
    assert first.context["page"].paginator.count == 101


def test_the_csv_has_a_header_and_one_row_per_variant_with_the_same_figures(staff_client, shop):
    response = staff_client.get(CSV)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="stock-report-')
    assert read_csv(response) == [
        HEADER,
        ["SKU-A", "Anorak", "", "10", "3", "7", "8", "yes"],
        ["SKU-B", "Beanie", "", "20", "0", "20", "5", "no"],
        ["SKU-C", "Cap", "", "0", "0", "0", "", "no"],
    ]


def test_the_csv_reads_every_row_in_one_query(staff_client, shop):
    VariantFactory.create_batch(40)
    response = staff_client.get(CSV)

    with CaptureQueriesContext(connection) as ctx:
        lines = read_csv(response)

    assert len(lines) == 1 + 43
    assert len(ctx.captured_queries) == 1


def test_the_csv_keeps_the_page_filters(staff_client, shop):
    assert [line[0] for line in read_csv(staff_client.get(CSV, {"low": "1"}))] == ["SKU", "SKU-A"]


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(staff_client):
    VariantFactory(sku="=HYPERLINK(1)", product=ProductFactory(title="@SUM(A1)"))

    assert read_csv(staff_client.get(CSV))[1][:2] == ["'=HYPERLINK(1)", "'@SUM(A1)"]


@pytest.mark.parametrize("url", [REPORT, CSV])
def test_shoppers_and_visitors_are_sent_to_the_admin_login(client, shop, url):
    assert client.get(url).url.startswith(reverse("admin:login"))
    client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", [REPORT, CSV])
def test_staff_who_may_not_view_variants_are_refused(client, shop, url):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(url).status_code == 403


def test_staff_who_may_view_variants_may_read_the_report(client, shop):
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_productvariant"))
    client.force_login(clerk)

    assert client.get(REPORT).status_code == 200
    assert len(read_csv(client.get(CSV))) == 4


def test_the_admin_home_and_the_variant_list_link_the_report(staff_client, shop):
    for page in (reverse("admin:index"), reverse("admin:catalog_productvariant_changelist")):
        assert f'href="{REPORT}"' in staff_client.get(page).content.decode()
    assert f'href="{CSV}"' in staff_client.get(REPORT).content.decode()


def test_the_filter_form_keeps_the_chosen_sort(staff_client, shop):
    page = staff_client.get(REPORT, {"o": "-available"}).content.decode()
    assert '<input type="hidden" name="o" value="-available">' in page
    assert 'name="o"' not in staff_client.get(REPORT).content.decode()


def test_only_the_admin_home_lists_the_reports_not_each_app_page(staff_client, shop):
    assert 'id="shop-reports"' in staff_client.get(reverse("admin:index")).content.decode()
    assert 'id="shop-reports"' not in staff_client.get(reverse("admin:app_list", args=["inventory"])).content.decode()
