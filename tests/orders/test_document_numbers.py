"""Invoice and credit note numbers never repeat, even after the database is restored from a
dump: the PDFs of the documents issued since are still in storage (media is not in the dump),
and the next number goes above them, above the counter and above every row. check_documents
lists what a restore left to look at."""

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from orders.models import CreditNote, CreditNoteCounter, Invoice, InvoiceCounter, Order, OrderEvent
from payments.services import order_cancel_and_refund
from tests.factories import stocked_variant
from tests.orders.helpers import place_order
from tests.payments.helpers import pay_by_dummy_webhook

pytestmark = pytest.mark.django_db

YEAR = timezone.localtime().year


def invoice_files() -> list[str]:
    return sorted(default_storage.listdir(f"invoices/{YEAR}")[1])


@pytest.fixture
def pay(django_capture_on_commit_callbacks):
    """Pays a new order of one unit through the dummy gateway's webhook, with its follow-ups
    (invoice PDF, confirmation) run as they are once the payment commits."""
    variant = stocked_variant(on_hand=50)

    def pay() -> Order:
        with django_capture_on_commit_callbacks(execute=True):
            return pay_by_dummy_webhook(place_order((variant, 1))).order

    return pay


def restore_dump_taken_after(number: int, *, counter, documents) -> None:
    """What restoring a dump taken when `number` documents had been issued does to the
    database: later rows are gone, the counter is back at `number`. Stored files stay."""
    documents.objects.filter(year=YEAR, sequence__gt=number).delete()
    counter.objects.filter(year=YEAR).update(last_number=number)


def test_after_a_restore_a_new_invoice_takes_the_number_after_the_last_stored_pdf(pay):
    for _ in range(5):
        pay()
    assert invoice_files() == [f"INV-{YEAR}-{n:06d}.pdf" for n in range(1, 6)]
    restore_dump_taken_after(3, counter=InvoiceCounter, documents=Invoice)

    order = pay()

    invoice = Invoice.objects.get(order=order)
    assert invoice.number == f"INV-{YEAR}-000006"
    assert invoice_files() == [f"INV-{YEAR}-{n:06d}.pdf" for n in (1, 2, 3, 4, 5, 6)]
    numbers = list(Invoice.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) == 4
    assert InvoiceCounter.objects.get(year=YEAR).last_number == 6
    event = order.events.get(type=OrderEvent.Type.INVOICED)
    assert f"INV-{YEAR}-000004 to INV-{YEAR}-000005 skipped" in event.note
    # And from there on, one after the other again.
    assert Invoice.objects.get(order=pay()).number == f"INV-{YEAR}-000007"


def test_a_counter_behind_the_table_never_gives_a_number_twice(pay):
    pay(), pay()
    InvoiceCounter.objects.filter(year=YEAR).delete()  # the counter's row lost, the invoices kept
    Invoice.objects.update(pdf="")
    for name in invoice_files():
        default_storage.delete(f"invoices/{YEAR}/{name}")

    order = pay()

    assert Invoice.objects.get(order=order).number == f"INV-{YEAR}-000003"


def test_a_pdf_filed_under_the_next_years_folder_counts_too():
    # Before PDFs were filed by their document's year, a December invoice rendered in January
    # went to the new year's folder.
    default_storage.save(
        f"invoices/{YEAR + 1}/INV-{YEAR}-000001.pdf", ContentFile(b"%PDF-1.7 issued before the restore")
    )
    order = pay_by_dummy_webhook(place_order((stocked_variant(), 1))).order

    from orders.invoices import invoice_issue

    assert invoice_issue(order=order).number == f"INV-{YEAR}-000002"


def test_after_a_restore_a_new_credit_note_takes_the_number_after_the_last_stored_pdf(
    pay, django_capture_on_commit_callbacks
):
    orders = [pay() for _ in range(4)]
    for order in orders[:3]:
        with django_capture_on_commit_callbacks(execute=True):  # the cancellation email stores its PDF
            order_cancel_and_refund(order=order, reason="Changed my mind")
    assert sorted(default_storage.listdir(f"credit_notes/{YEAR}")[1]) == [f"CN-{YEAR}-{n:06d}.pdf" for n in (1, 2, 3)]
    restore_dump_taken_after(1, counter=CreditNoteCounter, documents=CreditNote)

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel_and_refund(order=orders[3], reason="Changed my mind")

    note = CreditNote.objects.get(order=orders[3])
    assert note.number == f"CN-{YEAR}-000004"
    assert sorted(default_storage.listdir(f"credit_notes/{YEAR}")[1]) == [
        f"CN-{YEAR}-{n:06d}.pdf" for n in (1, 2, 3, 4)
    ]
    assert CreditNoteCounter.objects.get(year=YEAR).last_number == 4
    assert f"CN-{YEAR}-000002 to CN-{YEAR}-000003 skipped" in orders[3].events.get(type=OrderEvent.Type.CREDITED).note


class TestCheckDocuments:
    def test_it_lists_the_pdfs_issued_after_the_dump_and_the_rows_missing_their_pdf(self, pay):
        orders = [pay() for _ in range(4)]
        restore_dump_taken_after(3, counter=InvoiceCounter, documents=Invoice)
        lost = Invoice.objects.get(order=orders[0])
        default_storage.delete(lost.pdf.name)
        out = io.StringIO()

        with pytest.raises(CommandError, match="2 problem") as exc_info:
            call_command("check_documents", stdout=out)

        report = out.getvalue()
        assert exc_info.value.returncode == 1
        assert f"INV-{YEAR}-000004: stored as invoices/{YEAR}/INV-{YEAR}-000004.pdf but not in the database" in report
        assert f"{lost.number} (order {orders[0].number}): PDF missing: python manage.py regenerate_invoice" in report

    def test_it_notices_a_stored_pdf_that_is_not_the_one_issued(self, pay):
        invoice = Invoice.objects.get(order=pay())
        default_storage.delete(invoice.pdf.name)
        default_storage.save(invoice.pdf.name, ContentFile(b"%PDF-1.7 something else"))

        with pytest.raises(CommandError):
            call_command("check_documents", stdout=(out := io.StringIO()))

        assert "is not the file stored when it was issued" in out.getvalue()

    def test_all_in_order_exits_0(self, pay):
        pay()
        out = io.StringIO()

        call_command("check_documents", stdout=out)

        assert "Every invoice and credit note has its PDF, and every PDF its row." in out.getvalue()
