"""export_customers: Shopify's customers export, read back by import_customers."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import Address, User
from kernel.addresses import phone_e164_or_as_is
from orders.customer_export import CUSTOMER_COLUMNS, customer_rows, customers_to_export
from orders.models import Order
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SHOPIFY_HEADER = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
    "Default Address Address1,Default Address Address2,Default Address City,Default Address Province Code,"
    "Default Address Country Code,Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,"
    "Total Spent,Total Orders,Note,Tax Exempt,Tags"
)
# Columns of the sample an export of the imported sample does not repeat as they are:
# - Total Spent, Total Orders: computed from our orders, and these tests import none (the
#   round trip with orders.csv is the orders importer's test);
# - Default Address Phone: stored in E.164 once the phone library reads it, as every address
#   phone is ("(323) 555-0147" comes back "'+13235550147"); one it cannot read is kept as typed;
# - Email: stored through normalize_email, which lower-cases the domain
#   ("MARCUS.BELL@EXAMPLE.NET" comes back "MARCUS.BELL@example.net"): same mailbox.
NOT_REPEATED = {"Total Spent", "Total Orders", "Default Address Phone", "Email"}


def export(path: Path | None = None) -> str:
    if path is None:
        out = io.StringIO()
        call_command("export_customers", stdout=out)
        return out.getvalue()
    call_command("export_customers", str(path), stderr=io.StringIO())
    return path.read_text(encoding="utf-8")


def read_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_header_is_shopifys():
    assert ",".join(CUSTOMER_COLUMNS) == SHOPIFY_HEADER


def test_the_round_trip_gives_the_same_file(customers_csv, tmp_path):
    call_command("import_customers", str(customers_csv), stdout=io.StringIO())
    first = export(tmp_path / "b.csv")

    User.objects.all().delete()
    assert Address.objects.count() == 0
    call_command("import_customers", str(tmp_path / "b.csv"), stdout=io.StringIO())
    second = export(tmp_path / "c.csv")

    assert second == first
    assert (tmp_path / "b.csv").read_bytes() == (tmp_path / "c.csv").read_bytes()
    assert first.startswith(SHOPIFY_HEADER + "\n")
    assert len(read_rows(first)) == 40


def test_the_export_repeats_the_sample_but_for_what_the_shop_normalises(customers_csv):
    call_command("import_customers", str(customers_csv), stdout=io.StringIO())
    sample = read_rows(customers_csv.read_text(encoding="utf-8"))

    exported = read_rows(export())

    assert [row["Customer ID"] for row in exported] == [row["Customer ID"] for row in sample]
    for ours, theirs in zip(exported, sample, strict=True):
        for column in CUSTOMER_COLUMNS:
            if column not in NOT_REPEATED:
                assert ours[column] == theirs[column], (theirs["Customer ID"], column)
        assert ours["Email"].lower() == theirs["Email"].lower()
        assert (ours["Total Spent"], ours["Total Orders"]) == ("0.00", "0")
        typed = theirs["Default Address Phone"].removeprefix("'")
        e164 = phone_e164_or_as_is(typed, theirs["Default Address Country Code"])
        assert ours["Default Address Phone"].removeprefix("'") == e164
    changed_emails = [t["Email"] for o, t in zip(exported, sample, strict=True) if o["Email"] != t["Email"]]
    assert changed_emails == ["MARCUS.BELL@EXAMPLE.NET"]


def order(email: str, status: str, total: str, refunded: str = "0.00", currency: str = "USD") -> Order:
    return Order.objects.create(
        checkout_token=uuid.uuid4().hex,
        email=email,
        status=status,
        currency=currency,
        subtotal=Decimal(total),
        shipping_total=Decimal("0.00"),
        total=Decimal(total),
        refunded_total=Decimal(refunded),
        shipping_method_name="Standard",
        shipping_name="Ann Lee",
        shipping_line1="1 Main St",
        shipping_country="US",
    )


def test_totals_count_every_order_of_the_email_and_spend_what_was_paid_and_kept(settings):
    settings.SHOP_CURRENCY = "USD"
    ann = UserFactory(email="Ann.Lee@example.com", first_name="Ann", external_id="7000000000001")
    UserFactory(email="bob@example.com")
    order("ann.lee@example.com", Order.Status.PAID, "100.00")
    order("ANN.LEE@EXAMPLE.COM", Order.Status.FULFILLED, "50.00")
    order("Ann.Lee@example.com", Order.Status.PARTIALLY_REFUNDED, "40.00", refunded="15.50")
    order("ann.lee@example.com", Order.Status.REFUNDED, "30.00", refunded="30.00")
    order("ann.lee@example.com", Order.Status.PENDING_PAYMENT, "999.00")
    order("ann.lee@example.com", Order.Status.CANCELLED, "888.00")
    order("someone.else@example.com", Order.Status.PAID, "77.00")

    rows = {row["Email"]: row for row in read_rows(export())}

    assert (rows[ann.email]["Total Spent"], rows[ann.email]["Total Orders"]) == ("174.50", "6")
    assert (rows["bob@example.com"]["Total Spent"], rows["bob@example.com"]["Total Orders"]) == ("0.00", "0")


def test_values_are_written_as_shopify_writes_them():
    ann = UserFactory(
        email="ann@example.com",
        first_name="Ann",
        last_name="Lee",
        phone="+13125550199",
        accepts_marketing=True,
        tax_exempt=True,
        note='Says "hi", twice.\nSecond line.',
        tags="VIP, newsletter",
    )
    Address.objects.create(
        user=ann,
        name="Ann Lee",
        line1="1 Main St",
        city="Boston",
        country_area="MA",
        postal_code="02116",
        country="US",
        phone="+16175550155",
        is_default=True,
    )
    Address.objects.create(user=ann, name="Ann Lee", line1="9 Other Rd", country="US", postal_code="10001")
    staff = UserFactory(email="boss@example.com", is_staff=True)

    text = export()

    rows = read_rows(text)
    assert [row["Email"] for row in rows] == ["ann@example.com"]
    row = rows[0]
    assert row["Customer ID"] == f"'{ann.pk}"  # not imported: our id
    assert (row["Default Address Address1"], row["Default Address Zip"]) == ("1 Main St", "'02116")
    assert (row["Default Address Phone"], row["Phone"]) == ("'+16175550155", "'+13125550199")
    assert (row["Accepts Email Marketing"], row["Accepts SMS Marketing"], row["Tax Exempt"]) == ("yes", "no", "yes")
    assert row["Note"] == 'Says "hi", twice.\nSecond line.'
    assert row["Tags"] == "VIP, newsletter"
    assert staff.email not in text


def test_an_indian_address_gets_its_iso_province_code():
    user = UserFactory(email="asha@example.in")
    Address.objects.create(
        user=user,
        name="Asha Rao",
        line1="12 MG Road",
        city="Bengaluru",
        country_area="Karnataka",
        postal_code="560001",
        country="IN",
        is_default=True,
    )

    row = read_rows(export())[0]

    assert (row["Default Address Province Code"], row["Default Address Country Code"]) == ("KA", "IN")


def test_the_rows_cost_a_fixed_number_of_queries(django_assert_max_num_queries):
    for i in range(30):
        user = UserFactory(email=f"c{i}@example.com")
        Address.objects.create(user=user, name="A B", line1="1 Main St", country="GB", is_default=True)
        order(user.email, Order.Status.PAID, "10.00")

    with django_assert_max_num_queries(4):
        rows = list(customer_rows(customers_to_export()))

    assert len(rows) == 30
    assert all(row[15:17] == ["10.00", "1"] for row in rows)
