"""Credit notes: money going back on an invoice is a document of its own, CN-<year>-<6 digits>
without gaps, referring to the invoice, never adding up to more than it; a paid order's
cancellation issues one (attached to its email), a refund issues one (emailed once); the
shopper downloads them wherever the invoice is, staff on the order's admin page."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.credit_notes import credit_note_for_refund, credit_note_generate, credit_note_render_pdf
from orders.models import CreditNote, CreditNoteCounter, EmailLog, Invoice, Order, OrderEvent
from orders.services import order_cancel
from orders.tasks import send_order_email
from payments.services import order_cancel_and_refund
from tests.factories import ShippingMethodFactory, UserFactory, stocked_variant
from tests.inventory.helpers import run_together
from tests.orders.helpers import place_order
from tests.orders.test_invoices import paid_order, pdf_text, with_tax
from tests.payments.helpers import pay_by_dummy_webhook
from tests.storefront.conftest import Shopper

YEAR = timezone.localtime().year


def refund(order: Order, amount: str, *, key: str, reason: str = "Scratched", **kwargs) -> CreditNote | None:
    return credit_note_for_refund(order=order, amount=Decimal(amount), reason=reason, key=key, **kwargs)


def taxed_order(*, user=None, sku: str = "SHIRT-L") -> Order:
    """2 × 24.00 with 20 % tax included (8.00), shipping 5.00: total 53.00, tax 8.00."""
    variant = stocked_variant(sku=sku, price=Decimal("24.00"), product__title="Linen Shirt")
    return with_tax(paid_order((variant, 2), user=user), rate="0.2000")


@pytest.mark.django_db
class TestCancellingAPaidOrder:
    def test_cancelling_on_the_order_page_issues_a_credit_note_attached_to_the_email_and_listed(
        self, client, mailoutbox, django_capture_on_commit_callbacks
    ):
        shopper = Shopper(client)
        variant = stocked_variant(on_hand=5, sku="SHIRT-L", price=Decimal("23.00"), product__title="Linen Shirt")
        placed = shopper.buy(variant, ShippingMethodFactory(name="Standard", price=Decimal("5.00")), quantity=2)
        with django_capture_on_commit_callbacks(execute=True):
            shopper.pay(placed)
        order = Order.objects.get()
        del mailoutbox[:]

        with django_capture_on_commit_callbacks(execute=True):
            client.post(f"/payments/order/{order.access_token}/cancel/", {"reason": "Ordered the wrong size"})

        order.refresh_from_db()
        invoice = Invoice.objects.get()
        note = CreditNote.objects.get()
        assert (order.status, order.refunded_total) == (Order.Status.CANCELLED, Decimal("51.00"))
        assert (note.number, note.invoice, note.order, note.amount) == (
            f"CN-{YEAR}-000001",
            invoice,
            order,
            Decimal("51.00"),
        )
        assert note.reason == "Order cancelled: By the customer: Ordered the wrong size"
        assert order.events.filter(type=OrderEvent.Type.CREDITED, note__startswith=note.number).count() == 1
        [email] = mailoutbox
        assert email.subject == f"Order {order.number} has been cancelled"
        assert f"Credit note {note.number} for invoice {invoice.number} ($51.00) is attached." in email.body
        [(filename, content, mimetype)] = email.attachments
        assert (filename, mimetype) == (f"{note.number}.pdf", "application/pdf")
        text = pdf_text(content)
        assert f"Credit note {note.number} for invoice {invoice.number}" in text
        assert "Linen Shirt" in text and "SHIRT-L" in text and "$51.00" in text
        page = client.get(order.get_guest_url()).content.decode()
        guest_link = f"/orders/{order.number}/{order.access_token}/credit-notes/{note.number}/"
        assert f'href="/orders/{order.number}/{order.access_token}/invoice/"' in page
        assert f'href="{guest_link}"' in page and "$51.00 credited on invoice" in page
        download = client.get(guest_link)
        assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
        assert b"".join(download.streaming_content) == content

    def test_a_paid_order_not_yet_invoiced_is_invoiced_then_credited_in_full(self):
        order = taxed_order()
        assert not Invoice.objects.exists()

        order_cancel(order=order, reason="Changed my mind")

        invoice, note = Invoice.objects.get(), CreditNote.objects.get()
        assert invoice.number == f"INV-{YEAR}-000001" and note.invoice == invoice
        assert (note.amount, note.tax_amount) == (Decimal("53.00"), Decimal("8.00"))
        assert note.key == f"cancel:{order.pk}"
        rows = [
            (row["kind"], row["title"], row["quantity"], row["amount"], row["tax_amount"])
            for row in note.snapshot["rows"]
        ]
        assert rows == [
            ("line", "Linen Shirt", 2, "48.00", "8.00"),
            ("shipping", "Shipping (Standard)", None, "5.00", "0.00"),
        ]

    def test_after_partial_refunds_the_cancellation_credits_what_is_left_to_the_cent(self):
        order = taxed_order()
        first = refund(order, "10.00", key="refund:1")

        order_cancel(order=order, reason="Rest not needed")

        invoice = Invoice.objects.get()
        second = CreditNote.objects.get(key=f"cancel:{order.pk}")
        assert (first.number, second.number) == (f"CN-{YEAR}-000001", f"CN-{YEAR}-000002")
        assert (second.amount, second.tax_amount) == (Decimal("43.00"), Decimal("8.00") - first.tax_amount)
        assert second.snapshot["rows"][-1]["title"] == f"Already credited ({first.number})"
        assert second.snapshot["credited_before"] == "10.00"
        assert sum(n.amount for n in CreditNote.objects.all()) == Decimal(invoice.snapshot["total"])
        assert sum(n.tax_amount for n in CreditNote.objects.all()) == Decimal(invoice.snapshot["tax_total"])

    def test_cancelling_an_unpaid_order_issues_nothing(self):
        order_cancel(order=place_order((stocked_variant(), 1)), reason="Changed my mind")

        assert not CreditNote.objects.exists() and not Invoice.objects.exists()

    def test_cancelling_twice_issues_one_credit_note(self):
        order = pay_by_dummy_webhook(place_order((stocked_variant(on_hand=5), 1))).order

        order_cancel_and_refund(order=order, reason="first")
        order_cancel_and_refund(order=order, reason="second")

        assert CreditNote.objects.count() == 1
        assert CreditNoteCounter.objects.get(year=YEAR).last_number == 1


@pytest.mark.django_db
class TestRefunds:
    def test_a_refund_credits_its_amount_with_the_tax_in_the_invoices_proportion(self):
        order = taxed_order()

        note = refund(order, "10.00", key="refund:1", reason="One was scratched")

        # 10.00 × 8.00 / 53.00 = 1.509… → 1.51, half up to the cent.
        assert (note.number, note.amount, note.tax_amount) == (f"CN-{YEAR}-000001", Decimal("10.00"), Decimal("1.51"))
        [row] = note.snapshot["rows"]
        assert (row["kind"], row["title"], row["amount"], row["tax_amount"], row["tax_rate"]) == (
            "refund",
            "One was scratched",
            "10.00",
            "1.51",
            "0.2000",
        )
        assert note.invoice == Invoice.objects.get(order=order)

    def test_the_credit_notes_never_add_up_to_more_than_the_invoice(self):
        order = taxed_order()

        notes = [
            refund(order, amount, key=f"refund:{n}") for n, amount in enumerate(["10.00", "10.00", "40.00", "5.00"])
        ]

        assert [n.amount if n else None for n in notes] == [Decimal("10.00"), Decimal("10.00"), Decimal("33.00"), None]
        # The one that credits all that is left takes all the tax that is left.
        assert [n.tax_amount for n in notes[:3]] == [Decimal("1.51"), Decimal("1.51"), Decimal("4.98")]
        assert sum(n.tax_amount for n in notes[:3]) == Decimal("8.00")

    def test_the_same_refund_asked_twice_issues_one_credit_note_and_one_email(
        self, mailoutbox, django_capture_on_commit_callbacks
    ):
        order = taxed_order()

        with django_capture_on_commit_callbacks(execute=True):
            first = refund(order, "10.00", key="refund:7")
        with django_capture_on_commit_callbacks(execute=True):
            second = refund(order, "10.00", key="refund:7")

        assert first.pk == second.pk and CreditNote.objects.count() == 1
        [email] = mailoutbox
        assert email.subject == f"Order {order.number}: we refunded $10.00"
        assert "We refunded $10.00 of order" in email.body
        assert f"Credit note {first.number} for invoice INV-{YEAR}-000001 is attached." in email.body
        [(filename, content, _mimetype)] = email.attachments
        assert filename == f"{first.number}.pdf" and first.number in pdf_text(content)
        assert EmailLog.objects.get(kind="order_refunded").key == first.number

    def test_the_refund_email_task_sends_once_however_often_it_runs(self, mailoutbox):
        order = taxed_order()
        note = refund(order, "10.00", key="refund:1")  # its email waits for a commit that never comes here

        assert send_order_email.delay("order_refunded", order.pk, note.number).get() == "sent"
        assert send_order_email.delay("order_refunded", order.pk, note.number).get() == "already sent"

        assert len(mailoutbox) == 1

    def test_a_refund_of_a_cancelled_order_is_covered_by_the_cancellations_credit_note(self):
        order = taxed_order()
        order_cancel(order=order, reason="Changed my mind")

        assert refund(Order.objects.get(pk=order.pk), "53.00", key="refund:after-cancel") is None
        assert CreditNote.objects.count() == 1

    def test_an_order_never_paid_gets_no_credit_note(self):
        order = place_order((stocked_variant(), 1))

        assert refund(order, "5.00", key="refund:unpaid") is None
        assert not Invoice.objects.exists()

    @pytest.mark.parametrize("amount", ["0.00", "-1.00"])
    def test_an_amount_that_is_not_positive_is_refused(self, amount):
        with pytest.raises(ValueError, match="credits more than 0"):
            refund(taxed_order(), amount, key="refund:x")

    def test_units_returned_with_the_refund_are_listed(self):
        order = taxed_order()
        line = order.lines.get()

        note = refund(order, "24.00", key="refund:1", restocked_lines={line.pk: 1})

        assert note.snapshot["returned"] == [
            {"title": "Linen Shirt", "variant": line.variant_title, "sku": "SHIRT-L", "quantity": 1}
        ]
        assert "Items returned to stock with this refund: 1 × Linen Shirt" in pdf_text(
            credit_note_render_pdf(credit_note=note)
        )

    def test_a_rolled_back_credit_note_gives_its_number_back(self):
        order = taxed_order()

        with pytest.raises(RuntimeError), transaction.atomic():
            refund(order, "10.00", key="refund:rolled-back")
            raise RuntimeError("the refund's transaction fails after the credit note was issued")

        assert refund(order, "10.00", key="refund:2").number == f"CN-{YEAR}-000001"


@pytest.mark.django_db
class TestThePdf:
    def test_it_says_credit_note_for_which_invoice_with_the_seller_buyer_and_amounts(self, settings):
        settings.SITE_NAME = "Small Shop"
        settings.SHOP_ADDRESS = "Small Shop Ltd\n1 High Street"
        order = taxed_order()
        note = refund(order, "10.00", key="refund:1", reason="One was scratched")

        text = pdf_text(credit_note_render_pdf(credit_note=note))

        assert f"Credit note {note.number} for invoice INV-{YEAR}-000001" in text
        assert "Small Shop Ltd" in text and "Ada Lovelace" in text and order.number in text
        assert "One was scratched" in text and "Total credited" in text and "$10.00" in text
        assert "Tax included in the credit" in text and "1.51" in text
        assert "Page 1 of 1" in text

    def test_a_lost_pdf_is_restored_by_the_command_with_the_same_bytes(self):
        order = taxed_order()
        note = credit_note_generate(credit_note=refund(order, "10.00", key="refund:1"))
        original = note.pdf.read()
        Order.objects.filter(pk=order.pk).update(shipping_name="Augusta Ada King")
        note.pdf.storage.delete(note.pdf.name)
        out = io.StringIO()

        call_command("regenerate_invoice", order.number, stdout=out)

        note.refresh_from_db()
        assert note.pdf.name == f"credit_notes/{YEAR}/{note.number}.pdf"
        assert note.pdf.read() == original
        assert f"Credit note {note.number} of order {order.number}: {note.pdf.name} was missing" in out.getvalue()


@pytest.mark.django_db
class TestDownloads:
    @pytest.fixture
    def owner(self):
        return UserFactory()

    @pytest.fixture
    def note(self, owner):
        return refund(taxed_order(user=owner), "10.00", key="refund:1")

    def test_the_owner_downloads_it_from_the_order_page(self, client, owner, note):
        client.force_login(owner)
        page = client.get(f"/orders/{note.order.number}/").content.decode()
        link = f"/orders/{note.order.number}/credit-notes/{note.number}/"

        response = client.get(link)

        assert f'href="{link}"' in page
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert f'filename="{note.number}.pdf"' in response["Content-Disposition"]
        assert note.number in pdf_text(b"".join(response.streaming_content))

    def test_a_guest_downloads_it_with_the_order_link(self, note):
        order = note.order
        response = Client().get(f"/orders/{order.number}/{order.access_token}/credit-notes/{note.number}/")

        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"

    def test_anyone_else_gets_404(self, client, note):
        order = note.order
        other = refund(taxed_order(sku="OTHER"), "5.00", key="refund:other")
        client.force_login(UserFactory())

        assert client.get(f"/orders/{order.number}/credit-notes/{note.number}/").status_code == 404
        assert Client().get(f"/orders/{order.number}/not-the-token/credit-notes/{note.number}/").status_code == 404
        # A credit note of another order, through this order's link.
        assert (
            Client().get(f"/orders/{order.number}/{order.access_token}/credit-notes/{other.number}/").status_code == 404
        )
        assert Client().get(f"/orders/{order.number}/credit-notes/{note.number}/").status_code == 302  # log in

    def test_staff_see_and_download_it_on_the_orders_admin_page(self, client, note):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        url = reverse("admin:orders_order_credit_note", args=[note.order.pk, note.number])

        page = client.get(reverse("admin:orders_order_change", args=[note.order.pk])).content.decode()
        download = client.get(url)

        assert f'href="{url}"' in page and f"{note.number} (PDF)" in page and "10.00 USD credited on" in page
        assert download.status_code == 200 and download["Content-Type"] == "application/pdf"

    def test_the_staff_download_is_for_staff_only(self, client, note):
        client.force_login(UserFactory())

        response = client.get(reverse("admin:orders_order_credit_note", args=[note.order.pk, note.number]))

        assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db(transaction=True)
class TestConcurrentCredits:
    def test_the_same_refund_credited_from_8_threads_at_once_is_one_credit_note(self):
        order = taxed_order()

        outcomes = run_together(8, lambda i: refund(order, "10.00", key="refund:same").number)

        assert [o.error for o in outcomes] == [None] * 8
        assert {o.value for o in outcomes} == {f"CN-{YEAR}-000001"}
        assert CreditNote.objects.count() == 1
        assert CreditNoteCounter.objects.get(year=YEAR).last_number == 1

    def test_6_orders_credited_at_once_get_numbers_1_to_6_without_gaps_or_repeats(self):
        orders = [taxed_order(sku=f"SHIRT-{n}") for n in range(6)]

        outcomes = run_together(6, lambda i: refund(orders[i], "10.00", key=f"refund:{i}").number)

        assert [o.error for o in outcomes] == [None] * 6
        assert sorted(o.value for o in outcomes) == [f"CN-{YEAR}-{n:06d}" for n in range(1, 7)]
        assert sorted(CreditNote.objects.values_list("sequence", flat=True)) == list(range(1, 7))

    def test_a_full_refund_and_the_cancellation_at_once_credit_the_invoice_once(self):
        order = taxed_order()

        def work(i: int):
            if i == 0:
                return refund(order, "53.00", key="refund:full")
            return order_cancel(order=order, reason="Changed my mind")

        outcomes = run_together(2, work)

        assert [o.error for o in outcomes] == [None, None]
        assert CreditNote.objects.count() == 1
        assert CreditNote.objects.get().amount == Decimal("53.00")
