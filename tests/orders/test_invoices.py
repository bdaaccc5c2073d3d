"""Invoices: one per paid order, numbered INV-<year>-<6 digits> without gaps or repeats, a PDF
that says what was sold and for how much, downloads for whoever may see the order."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from kernel.money import format_money
from orders.invoices import InvoiceNotAllowed, invoice_generate, invoice_issue, invoice_render_pdf
from orders.models import Invoice, InvoiceCounter, Order, OrderEvent
from orders.services import order_mark_paid
from orders.tasks import generate_invoice
from tests.factories import UserFactory, stocked_variant
from tests.inventory.helpers import run_together
from tests.orders.helpers import place_order

TTL = timedelta(minutes=15)
YEAR = timezone.localtime().year


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def paid_order(*variants_and_quantities, user=None) -> Order:
    order = place_order(*variants_and_quantities)
    if user is not None:
        Order.objects.filter(pk=order.pk).update(user=user)
    return order_mark_paid(order=order, reference="pay_1", reservation_ttl=TTL)


def with_tax(order: Order, *, rate: str, discount: str = "0.00", voucher: str = "") -> Order:
    """Gives the order's lines tax at `rate`, contained in their totals (prices include tax),
    as checkout's pricing would have, and an optional voucher discount."""
    rate = Decimal(rate)
    tax_total = Decimal("0")
    for line in order.lines.all():
        line.tax_rate = rate
        line.tax_amount = (line.line_total * rate / (1 + rate)).quantize(Decimal("0.01"))
        line.save(update_fields=["tax_rate", "tax_amount"])
        tax_total += line.tax_amount
    discount = Decimal(discount)
    Order.objects.filter(pk=order.pk).update(
        tax_total=tax_total,
        discount_total=discount,
        voucher_code=voucher,
        total=order.subtotal - discount + order.shipping_total,
    )
    order.refresh_from_db()
    return order


@pytest.mark.django_db
class TestIssuing:
    def test_a_paid_order_gets_the_first_number_of_the_year(self):
        order = paid_order((stocked_variant(), 1))

        invoice = invoice_issue(order=order)

        assert invoice.number == f"INV-{YEAR}-000001"
        assert (invoice.year, invoice.sequence) == (YEAR, 1)
        assert InvoiceCounter.objects.get(year=YEAR).last_number == 1
        assert order.events.filter(type=OrderEvent.Type.INVOICED, note=invoice.number).count() == 1

    def test_issuing_twice_returns_the_same_invoice_and_takes_no_second_number(self):
        order = paid_order((stocked_variant(), 1))

        first = invoice_issue(order=order)
        second = invoice_issue(order=order)

        assert first.pk == second.pk and first.number == second.number
        assert Invoice.objects.count() == 1
        assert InvoiceCounter.objects.get(year=YEAR).last_number == 1

    def test_orders_are_numbered_one_after_the_other(self):
        variant = stocked_variant()
        numbers = [invoice_issue(order=paid_order((variant, 1))).number for _ in range(3)]

        assert numbers == [f"INV-{YEAR}-000001", f"INV-{YEAR}-000002", f"INV-{YEAR}-000003"]

    @pytest.mark.parametrize("status", ["pending_payment", "payment_failed", "expired", "cancelled"])
    def test_an_order_that_was_not_paid_gets_no_invoice(self, status):
        order = place_order((stocked_variant(), 1))
        Order.objects.filter(pk=order.pk).update(status=status)
        order.refresh_from_db()

        with pytest.raises(ValueError, match="has no invoice"):
            invoice_issue(order=order)
        with pytest.raises(InvoiceNotAllowed):
            invoice_generate(order=order)
        assert not Invoice.objects.exists()
        assert not InvoiceCounter.objects.filter(last_number__gt=0).exists()

    @pytest.mark.parametrize(
        "status", ["partially_fulfilled", "fulfilled", "delivered", "partially_refunded", "refunded"]
    )
    def test_orders_past_payment_can_be_invoiced(self, status):
        order = paid_order((stocked_variant(), 1))
        Order.objects.filter(pk=order.pk).update(status=status)
        order.refresh_from_db()

        assert invoice_issue(order=order).number == f"INV-{YEAR}-000001"

    def test_a_rolled_back_issue_gives_its_number_back(self):
        variant = stocked_variant()
        first, second = paid_order((variant, 1)), paid_order((variant, 1))

        with pytest.raises(RuntimeError), transaction.atomic():
            invoice_issue(order=first)
            raise RuntimeError("the caller's transaction fails after the number was taken")

        assert invoice_issue(order=second).number == f"INV-{YEAR}-000001"
        assert invoice_issue(order=first).number == f"INV-{YEAR}-000002"

    def test_an_invoice_keeps_its_order_after_the_order_is_cancelled(self):
        order = paid_order((stocked_variant(), 1))
        invoice = invoice_issue(order=order)
        Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
        order.refresh_from_db()

        assert invoice_issue(order=order).pk == invoice.pk


@pytest.mark.django_db(transaction=True)
class TestConcurrentIssuing:
    def test_12_orders_invoiced_at_once_get_numbers_1_to_12_without_gaps_or_repeats(self):
        variant = stocked_variant(on_hand=12)
        orders = [place_order((variant, 1)) for _ in range(12)]
        # Paid by a plain UPDATE: order_mark_paid would invoice them already, on commit.
        Order.objects.filter(pk__in=[o.pk for o in orders]).update(status=Order.Status.PAID, paid_at=timezone.now())

        outcomes = run_together(12, lambda i: invoice_issue(order=orders[i]).number)

        assert [o.error for o in outcomes] == [None] * 12
        sequences = sorted(Invoice.objects.values_list("sequence", flat=True))
        assert sequences == list(range(1, 13))
        assert sorted(o.value for o in outcomes) == [f"INV-{YEAR}-{n:06d}" for n in range(1, 13)]
        assert InvoiceCounter.objects.get(year=YEAR).last_number == 12
        assert set(Invoice.objects.values_list("order_id", flat=True)) == {o.pk for o in orders}

    def test_the_same_order_invoiced_from_8_threads_at_once_gets_one_invoice(self):
        order = place_order((stocked_variant(), 1))
        Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID, paid_at=timezone.now())

        outcomes = run_together(8, lambda i: invoice_issue(order=order).number)

        assert [o.error for o in outcomes] == [None] * 8
        assert {o.value for o in outcomes} == {f"INV-{YEAR}-000001"}
        assert Invoice.objects.count() == 1
        assert InvoiceCounter.objects.get(year=YEAR).last_number == 1

    def test_paying_an_order_invoices_it_and_emails_the_pdf_once_committed(self, mailoutbox):
        order = place_order((stocked_variant(), 2))

        order_mark_paid(order=order, reference="pay_1", reservation_ttl=TTL)

        invoice = Invoice.objects.get(order=order)
        assert invoice.pdf and invoice.pdf.storage.exists(invoice.pdf.name)
        [email] = mailoutbox
        assert email.attachments[0][0] == f"{invoice.number}.pdf"


@pytest.mark.django_db
class TestThePdf:
    def test_it_shows_the_seller_the_buyer_the_lines_the_tax_and_the_totals(self, settings):
        settings.SITE_NAME = "Small Shop"
        settings.SHOP_ADDRESS = "Small Shop Ltd\n1 High Street\nLondon N1 1AA"
        settings.SHOP_TAX_ID = "GB123456789"
        shirt = stocked_variant(sku="SHIRT-L", price=Decimal("24.00"), product__title="Linen Shirt")
        mug = stocked_variant(sku="MUG-BLUE", price=Decimal("12.00"), product__title="Blue Mug")
        order = with_tax(paid_order((shirt, 2), (mug, 1)), rate="0.2000", discount="6.00", voucher="SPRING")

        text = pdf_text(invoice_render_pdf(invoice=invoice_issue(order=order)))

        assert f"INV-{YEAR}-000001" in text
        assert order.number in text
        assert "Small Shop Ltd" in text and "1 High Street" in text and "GB123456789" in text
        # In the United Kingdom's format: the post town, then the postcode on a line of its own.
        assert "Ada Lovelace" in text and "12 Analytical Row" in text and "London\nN1 9GU\nUnited Kingdom" in text
        assert "Linen Shirt" in text and "SHIRT-L" in text and "MUG-BLUE" in text
        assert "24.00" in text and "48.00" in text  # unit price and line total of the shirts
        assert "20 %" in text
        assert "8.00" in text and "2.00" in text  # the tax in each line (48.00 and 12.00 at 20 %)
        assert "60.00" in text  # subtotal
        assert "SPRING" in text and "6.00" in text  # the voucher's discount
        assert "5.00" in text  # shipping
        assert "Tax included in the total" in text and "10.00" in text
        assert "$59.00" in text  # 60.00 − 6.00 + 5.00
        assert "Page 1 of 1" in text

    def test_a_long_invoice_runs_over_pages_with_the_table_header_on_each(self):
        variants = [stocked_variant(sku=f"LONG-{n:03d}") for n in range(65)]
        order = paid_order(*[(variant, 1) for variant in variants])

        pages = pdf_pages(invoice_render_pdf(invoice=invoice_issue(order=order)))

        assert len(pages) >= 2
        for number, page in enumerate(pages, start=1):
            assert "SKU" in page and "Unit price" in page, f"page {number} lacks the table header"
            assert f"Page {number} of {len(pages)}" in page
            assert f"INV-{YEAR}-000001" in page
        text = "\n".join(pages)
        assert all(f"LONG-{n:03d}" in text for n in range(65))
        assert format_money(order.total, "USD") in pages[-1]  # "$1,305.00"


@pytest.mark.django_db
class TestGeneratingAndRegenerating:
    def test_generating_stores_the_pdf_once(self):
        order = paid_order((stocked_variant(), 1))

        invoice = invoice_generate(order=order)
        name = invoice.pdf.name
        again = invoice_generate(order=order)

        assert name.startswith("invoices/") and name.endswith(".pdf")
        assert again.pdf.name == name
        assert invoice.pdf.read().startswith(b"%PDF")

    def test_the_task_run_twice_leaves_one_invoice_and_one_file(self):
        order = paid_order((stocked_variant(), 1))

        assert generate_invoice.delay(order.pk).get() == f"INV-{YEAR}-000001"
        assert generate_invoice.delay(order.pk).get() == f"INV-{YEAR}-000001"

        invoice = Invoice.objects.get()
        assert len(invoice.pdf.storage.listdir(f"invoices/{YEAR}")[1]) == 1

    def test_the_task_does_nothing_for_an_unpaid_order(self):
        order = place_order((stocked_variant(), 1))

        assert generate_invoice.delay(order.pk).get() == ""
        assert not Invoice.objects.exists()

    def test_a_lost_file_is_rendered_again(self):
        order = paid_order((stocked_variant(), 1))
        invoice = invoice_generate(order=order)
        invoice.pdf.storage.delete(invoice.pdf.name)

        again = invoice_generate(order=order)

        assert again.pdf.storage.exists(again.pdf.name)
        assert again.number == invoice.number


def staff_corrects(client, order: Order, **changes) -> None:
    """Staff correct the order's contact or address on its admin page (the form as the page
    gives it, with `changes`): what the back office lets them edit."""
    url = reverse("admin:orders_order_change", args=[order.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: form[name].value() if form[name].value() is not None else "" for name in form.fields}
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({f"{management.prefix}-{key}": value for key, value in management.initial.items()})
        data.update({f"{formset.formset.prefix}-{i}-id": f.instance.pk for i, f in enumerate(formset.formset.forms)})
        data.update({f"{formset.formset.prefix}-{i}-order": order.pk for i, _ in enumerate(formset.formset.forms)})
    data.update(changes)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response


@pytest.mark.django_db
class TestAnIssuedInvoiceNeverChanges:
    """An issued invoice states what it stated when it was issued: staff corrections of the
    order never reach it, and a lost PDF comes back with the same content."""

    @pytest.fixture
    def staff_client(self, client):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        return client

    @pytest.fixture
    def invoiced(self):
        order = paid_order((stocked_variant(sku="SHIRT-L", product__title="Linen Shirt"), 2))
        invoice = invoice_generate(order=order)
        return order, invoice, invoice.pdf.read()

    def test_the_snapshot_holds_what_the_invoice_states(self, settings):
        settings.SHOP_ADDRESS = "Small Shop Ltd\n1 High Street"
        order = with_tax(paid_order((stocked_variant(sku="SHIRT-L", price=Decimal("24.00")), 2)), rate="0.2000")

        snapshot = invoice_issue(order=order).snapshot

        assert snapshot["version"] == 1 and snapshot["number"] == f"INV-{YEAR}-000001"
        assert snapshot["seller"]["address"] == "Small Shop Ltd\n1 High Street"
        assert (snapshot["buyer"]["email"], snapshot["buyer"]["name"]) == ("ada@example.com", "Ada Lovelace")
        assert snapshot["ship_to"]["line1"] == "12 Analytical Row" and snapshot["ship_to"]["method"] == "Standard"
        assert snapshot["order"]["number"] == order.number
        [line] = snapshot["lines"]
        assert (line["sku"], line["quantity"], line["unit_price"], line["line_total"]) == (
            "SHIRT-L",
            2,
            "24.00",
            "48.00",
        )
        assert (line["tax_rate"], line["tax_amount"]) == ("0.2000", "8.00")
        assert (snapshot["subtotal"], snapshot["shipping"]["price"], snapshot["tax_total"], snapshot["total"]) == (
            "48.00",
            "5.00",
            "8.00",
            "53.00",
        )

    def test_a_lost_pdf_restored_by_the_command_after_staff_corrected_the_order_says_what_it_said(
        self, staff_client, invoiced
    ):
        order, invoice, original = invoiced
        staff_corrects(
            staff_client,
            order,
            shipping_name="Augusta Ada King",
            email="countess@example.com",
            shipping_line1="1 Ockham Park",
        )
        assert Order.objects.get(pk=order.pk).shipping_name == "Augusta Ada King"
        invoice.pdf.storage.delete(invoice.pdf.name)
        out = io.StringIO()

        call_command("regenerate_invoice", order.number, stdout=out)

        invoice.refresh_from_db()
        restored = invoice.pdf.read()
        assert invoice.pdf.name == f"invoices/{YEAR}/INV-{YEAR}-000001.pdf"
        assert pdf_text(restored) == pdf_text(original)
        assert "Ada Lovelace" in pdf_text(restored) and "12 Analytical Row" in pdf_text(restored)
        assert "Augusta" not in pdf_text(restored) and "countess@" not in pdf_text(restored)
        assert restored == original  # the same snapshot renders to the same bytes
        assert f"Invoice INV-{YEAR}-000001 of order {order.number}: {invoice.pdf.name} was missing" in out.getvalue()
        assert order.events.filter(note=f"INV-{YEAR}-000001: missing PDF rendered again").count() == 1

    def test_the_command_leaves_a_stored_pdf_as_it_is(self, staff_client, invoiced):
        order, invoice, original = invoiced
        staff_corrects(staff_client, order, shipping_name="Augusta Ada King")
        out = io.StringIO()

        call_command("regenerate_invoice", order.number, stdout=out)
        call_command("regenerate_invoice", order.number, stdout=out)

        again = Invoice.objects.get()
        assert again.pdf.name == invoice.pdf.name and again.pdf.read() == original
        assert again.pdf.storage.listdir(f"invoices/{YEAR}")[1] == [f"INV-{YEAR}-000001.pdf"]
        assert out.getvalue().count(f"{invoice.pdf.name} stored, left as it is") == 2

    def test_the_admin_action_restores_only_missing_pdfs_and_never_replaces_one(self, staff_client):
        variant = stocked_variant()
        kept_order, lost_order = paid_order((variant, 1)), paid_order((variant, 1))
        kept, lost = invoice_generate(order=kept_order), invoice_generate(order=lost_order)
        kept_bytes, lost_bytes = kept.pdf.read(), lost.pdf.read()
        staff_corrects(staff_client, lost_order, shipping_name="Augusta Ada King")
        staff_corrects(staff_client, kept_order, shipping_name="Someone Else")
        lost.pdf.storage.delete(lost.pdf.name)

        response = staff_client.post(
            reverse("admin:orders_order_changelist"),
            {"action": "restore_invoice_pdfs", "_selected_action": [kept_order.pk, lost_order.pk]},
            follow=True,
        )

        page = response.content.decode()
        assert f"Rendered the missing PDF of {lost.number}." in page
        assert f"Already stored, left as they are: {kept.number}." in page
        kept.refresh_from_db()
        lost.refresh_from_db()
        assert kept.pdf.read() == kept_bytes
        assert lost.pdf.read() == lost_bytes and "Augusta" not in pdf_text(lost_bytes)
        assert sorted(kept.pdf.storage.listdir(f"invoices/{YEAR}")[1]) == [f"{kept.number}.pdf", f"{lost.number}.pdf"]

    def test_a_download_after_a_correction_is_the_invoice_as_issued(self, client, staff_client):
        owner = UserFactory()
        order = paid_order((stocked_variant(), 1), user=owner)
        invoice_issue(order=order)  # issued when the order was paid; its PDF not stored yet
        staff_corrects(staff_client, order, shipping_name="Augusta Ada King", email="countess@example.com")

        text = pdf_text(
            b"".join(Client().get(f"/orders/{order.number}/{order.access_token}/invoice/").streaming_content)
        )

        assert "Ada Lovelace" in text and "ada@example.com" in text
        assert "Augusta" not in text and "countess" not in text

    def test_invoices_issued_before_snapshots_get_one_from_their_order_at_the_migration(self):
        from importlib import import_module

        from django.db import connection
        from django.db.migrations.executor import MigrationExecutor

        migration = import_module("orders.migrations.0006_invoice_snapshots_fill")
        # The models as they were at that migration (its country and phone plain text).
        state = MigrationExecutor(connection).loader.project_state(("orders", "0006_invoice_snapshots_fill"))
        order = with_tax(paid_order((stocked_variant(), 2)), rate="0.2000", discount="3.00", voucher="SPRING")
        invoice = invoice_issue(order=order)
        expected = invoice.snapshot
        Invoice.objects.filter(pk=invoice.pk).update(snapshot={})

        migration.fill_snapshots(state.apps, None)

        filled = Invoice.objects.get(pk=invoice.pk).snapshot
        # Version 1 stated the address's name, lines, postcode, city, country and phone: those
        # are what an invoice issued now states too (it states the rest of the address also).
        for party in ("buyer", "ship_to"):
            assert filled[party] == {key: expected[party][key] for key in filled[party]}
            filled[party] = expected[party]
        assert filled == expected


@pytest.mark.django_db
class TestTheRegenerateCommand:
    def test_it_stores_the_invoice_of_a_paid_order_not_yet_invoiced(self):
        order = paid_order((stocked_variant(), 1))
        out = io.StringIO()

        call_command("regenerate_invoice", order.number.lower(), stdout=out)

        invoice = Invoice.objects.get(order=order)
        assert (
            f"Invoice {invoice.number} of order {order.number}: {invoice.pdf.name} rendered and stored"
            in out.getvalue()
        )
        assert invoice.pdf.storage.exists(invoice.pdf.name)

    def test_it_keeps_the_number_when_run_again(self):
        order = paid_order((stocked_variant(), 1))
        call_command("regenerate_invoice", order.number, stdout=io.StringIO())
        call_command("regenerate_invoice", order.number, stdout=io.StringIO())

        assert list(Invoice.objects.values_list("number", flat=True)) == [f"INV-{YEAR}-000001"]

    def test_an_unknown_number_is_an_error_with_exit_status_1(self):
        with pytest.raises(CommandError, match="No order NOSUCH99") as exc_info:
            call_command("regenerate_invoice", "NOSUCH99")
        assert exc_info.value.returncode == 1

    def test_an_unpaid_order_is_an_error_with_exit_status_1(self):
        order = place_order((stocked_variant(), 1))

        with pytest.raises(CommandError, match="pending payment: it has no invoice") as exc_info:
            call_command("regenerate_invoice", order.number)
        assert exc_info.value.returncode == 1
        assert not Invoice.objects.exists()


@pytest.mark.django_db
class TestDownloads:
    @pytest.fixture
    def owner(self):
        return UserFactory()

    @pytest.fixture
    def order(self, owner):
        return paid_order((stocked_variant(), 1), user=owner)

    def test_the_owner_downloads_the_pdf_generated_on_the_fly(self, client, owner, order):
        client.force_login(owner)

        response = client.get(f"/orders/{order.number}/invoice/")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        invoice = Invoice.objects.get(order=order)
        assert f'filename="{invoice.number}.pdf"' in response["Content-Disposition"]
        assert invoice.number in pdf_text(b"".join(response.streaming_content))

    def test_a_guest_downloads_it_with_the_order_link(self, order):
        response = Client().get(f"/orders/{order.number}/{order.access_token}/invoice/")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"

    def test_another_user_gets_404(self, client, order):
        client.force_login(UserFactory())

        assert client.get(f"/orders/{order.number}/invoice/").status_code == 404
        assert not Invoice.objects.exists()

    def test_a_wrong_token_gets_404(self, order):
        assert Client().get(f"/orders/{order.number}/not-the-token/invoice/").status_code == 404

    def test_an_anonymous_visitor_is_sent_to_log_in(self, order):
        response = Client().get(f"/orders/{order.number}/invoice/")

        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_an_unpaid_order_has_no_invoice_to_download(self, client, owner):
        order = place_order((stocked_variant(), 1))
        Order.objects.filter(pk=order.pk).update(user=owner)
        client.force_login(owner)

        assert client.get(f"/orders/{order.number}/invoice/").status_code == 404
        assert Client().get(f"/orders/{order.number}/{order.access_token}/invoice/").status_code == 404
        assert "data-invoice-link" not in client.get(f"/orders/{order.number}/").content.decode()

    def test_the_order_page_links_to_the_invoice(self, client, owner, order):
        client.force_login(owner)

        owner_page = client.get(f"/orders/{order.number}/").content.decode()
        guest_page = Client().get(order.get_guest_url()).content.decode()

        assert f'href="/orders/{order.number}/invoice/"' in owner_page
        assert f'href="/orders/{order.number}/{order.access_token}/invoice/"' in guest_page
