"""Order emails: each event emails the shopper once (text and HTML, the confirmation with its
invoice attached), however often its task runs; a failed send is retried, never lost."""

import io
from datetime import timedelta

import pytest
from anymail.exceptions import AnymailAPIError, AnymailError
from celery.exceptions import Retry
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from inventory.models import BackInStockRequest
from inventory.services import back_in_stock_notify
from orders.emails import email_send_once, order_email_send
from orders.models import EmailLog, Invoice, Order, OrderEvent, Shipment, ShipmentLine
from orders.services import order_mark_paid
from orders.tasks import order_paid_followups, send_order_email
from payments.models import Payment
from tests.factories import ShippingMethodFactory, UserFactory, stocked_variant
from tests.orders.helpers import place_order
from tests.storefront.conftest import Shopper

pytestmark = pytest.mark.django_db

TTL = timedelta(minutes=15)
YEAR = timezone.localtime().year


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


class AnymailRefusingBackend(BaseEmailBackend):
    """An email service provider answering with an error."""

    def send_messages(self, email_messages):
        raise AnymailAPIError("ESP API response 503: Service Unavailable")


def paid(order: Order) -> Order:
    # Outside django_capture_on_commit_callbacks nothing commits here: the follow-ups of
    # "paid" do not run unless a test runs them.
    return order_mark_paid(order=order, reference="pay_1", reservation_ttl=TTL)


def html_of(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


@pytest.fixture
def order():
    variant = stocked_variant(sku="SHIRT-L", product__title="Linen Shirt")
    return place_order((variant, 2))


class TestThePaidFlow:
    def test_paying_through_the_dummy_gateway_yields_one_invoice_and_one_confirmation_with_the_pdf(
        self, client, mailoutbox, django_capture_on_commit_callbacks
    ):
        shopper = Shopper(client)
        variant = stocked_variant(sku="SHIRT-L", product__title="Linen Shirt")
        placed = shopper.buy(variant, ShippingMethodFactory(), quantity=2)

        with django_capture_on_commit_callbacks(execute=True):
            shopper.pay(placed)
        # The provider's answer again (a second webhook, the return page reloaded).
        with django_capture_on_commit_callbacks(execute=True):
            client.post(f"/payments/dummy/{Payment.objects.get().reference}/complete/", {"outcome": "pay"})

        order = Order.objects.get()
        invoice = Invoice.objects.get()
        assert order.status == Order.Status.PAID and invoice.order == order
        [email] = mailoutbox
        assert email.to == [order.email]
        assert order.number in email.subject
        assert invoice.number in email.body and "Linen Shirt" in email.body
        assert order.get_guest_url() in email.body
        assert invoice.number in html_of(email)
        [(filename, content, mimetype)] = email.attachments
        assert (filename, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
        assert invoice.number in text and "SHIRT-L" in text
        assert EmailLog.objects.get(kind="order_confirmation", key=order.number).sent_at is not None
        assert order.events.filter(type=OrderEvent.Type.EMAIL_SENT).count() == 1

    def test_a_failed_payment_emails_the_shopper_once(self, client, mailoutbox, django_capture_on_commit_callbacks):
        shopper = Shopper(client)
        placed = shopper.buy(stocked_variant(product__title="Linen Shirt"), ShippingMethodFactory())

        with django_capture_on_commit_callbacks(execute=True):
            shopper.pay(placed, outcome="fail")
        with django_capture_on_commit_callbacks(execute=True):
            client.post(f"/payments/dummy/{Payment.objects.get().reference}/complete/", {"outcome": "fail"})

        order = Order.objects.get()
        assert order.status == Order.Status.PENDING_PAYMENT  # held for another try
        [email] = mailoutbox
        assert email.subject == f"Order {order.number}: the payment did not go through"
        assert "Nothing was charged" in email.body and "Linen Shirt" in email.body
        # While the reservation lasts the email offers to pay again, for the same order.
        assert "We are still holding these items for you until" in email.body
        assert f"http://localhost:8000/payments/order/{order.access_token}/" in email.body
        assert email.attachments == []
        assert not Invoice.objects.exists()

    def test_the_followups_run_twice_send_one_confirmation(self, order, mailoutbox):
        paid(order)

        first = order_paid_followups.delay(order.pk).get()
        second = order_paid_followups.delay(order.pk).get()

        assert first == second == f"INV-{YEAR}-000001"
        assert len(mailoutbox) == 1
        assert Invoice.objects.count() == 1

    def test_nothing_is_sent_for_a_paid_order_rolled_back(self, order, mailoutbox, django_capture_on_commit_callbacks):
        with (
            pytest.raises(RuntimeError),
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            transaction.atomic(),
        ):
            paid(order)
            raise RuntimeError("the payment's transaction fails after marking the order paid")

        assert callbacks == []
        assert mailoutbox == []
        assert not Invoice.objects.exists()


class TestSendingOnce:
    def test_the_task_run_twice_sends_the_email_once(self, order, mailoutbox):
        paid(order)

        assert send_order_email.delay("order_confirmation", order.pk).get() == "sent"
        assert send_order_email.delay("order_confirmation", order.pk).get() == "already sent"

        assert len(mailoutbox) == 1
        log = EmailLog.objects.get()
        assert (log.kind, log.key, log.to, log.order) == ("order_confirmation", order.number, order.email, order)
        assert log.sent_at is not None

    def test_a_failed_send_leaves_no_claim_and_the_next_run_sends(self, order, mailoutbox, settings):
        paid(order)
        settings.EMAIL_BACKEND = "tests.orders.test_emails.RefusingBackend"

        with pytest.raises(ConnectionRefusedError):
            order_email_send(kind="order_confirmation", order=order)
        assert not EmailLog.objects.exists()

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert order_email_send(kind="order_confirmation", order=order) is True
        assert len(mailoutbox) == 1

    @pytest.mark.parametrize("backend", ["RefusingBackend", "AnymailRefusingBackend"])
    def test_the_task_asks_to_be_retried_when_the_mail_server_fails_and_sends_once_later(
        self, order, mailoutbox, settings, backend
    ):
        settings.EMAIL_BACKEND = f"tests.orders.test_emails.{backend}"

        # Eager here, so Celery hands the retry back as an exception instead of queueing it.
        with pytest.raises(Retry) as retry:
            send_order_email.delay("order_cancelled", order.pk)

        assert isinstance(retry.value.exc, (OSError, AnymailError))
        assert not EmailLog.objects.exists()
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert send_order_email.delay("order_cancelled", order.pk).get() == "sent"
        assert send_order_email.delay("order_cancelled", order.pk).get() == "already sent"
        assert len(mailoutbox) == 1

    def test_an_email_being_sent_by_another_run_is_not_sent_again(self, mailoutbox):
        EmailLog.objects.create(kind="order_cancelled", key="ABC", to="ada@example.com", subject="…")

        sent = email_send_once(
            kind="order_cancelled",
            key="ABC",
            to="ada@example.com",
            subject="Hi",
            template="order_cancelled",
            context={},
        )

        assert sent is False and mailoutbox == []

    def test_a_claim_left_by_a_dead_sender_is_taken_over(self, order, mailoutbox):
        log = EmailLog.objects.create(kind="order_cancelled", key=order.number, to=order.email, subject="…")
        EmailLog.objects.filter(pk=log.pk).update(created_at=timezone.now() - timedelta(hours=1))

        assert order_email_send(kind="order_cancelled", order=order) is True

        assert len(mailoutbox) == 1
        assert EmailLog.objects.get().sent_at is not None

    def test_an_unknown_kind_is_refused(self, order):
        with pytest.raises(ValueError, match="unknown order email"):
            order_email_send(kind="order_teleported", order=order)


class TestEachEmail:
    def test_every_email_has_a_text_and_an_html_part_from_the_shop(self, order, mailoutbox, settings):
        settings.DEFAULT_FROM_EMAIL = "Small Shop <shop@example.com>"
        paid(order)

        send_order_email.delay("order_confirmation", order.pk).get()

        [email] = mailoutbox
        assert email.from_email == "Small Shop <shop@example.com>"
        html = html_of(email)
        assert html.startswith("<!doctype html>") or "<html" in html
        assert "Linen Shirt" in html and "&lt;" not in email.body

    def test_the_cancellation_email_says_nothing_was_charged_for_an_unpaid_order(self, order, mailoutbox):
        Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)

        send_order_email.delay("order_cancelled", order.pk).get()

        [email] = mailoutbox
        assert email.subject == f"Order {order.number} has been cancelled"
        assert "Nothing was charged" in email.body

    def test_the_cancellation_email_of_a_paid_order_speaks_of_the_refund(self, order, mailoutbox):
        paid(order)
        Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)

        send_order_email.delay("order_cancelled", order.pk).get()

        assert "is being refunded" in mailoutbox[0].body

    def test_each_shipment_is_emailed_once_with_its_tracking(self, order, mailoutbox):
        paid(order)
        line = order.lines.get()
        first = Shipment.objects.create(
            order=order,
            carrier="DHL",
            tracking_number="JD014600006281",
            tracking_url="https://track.example/JD014600006281",
        )
        ShipmentLine.objects.create(shipment=first, line=line, quantity=1)
        second = Shipment.objects.create(order=order, carrier="DHL", tracking_number="JD014600006299")
        ShipmentLine.objects.create(shipment=second, line=line, quantity=1)

        send_order_email.delay("order_shipped", order.pk, first.pk).get()
        send_order_email.delay("order_shipped", order.pk, first.pk).get()
        send_order_email.delay("order_shipped", order.pk, str(second.pk)).get()

        assert len(mailoutbox) == 2
        email = mailoutbox[0]
        assert email.subject == f"Order {order.number} is on its way"
        assert "JD014600006281" in email.body and "https://track.example/JD014600006281" in email.body
        assert "1 × Linen Shirt" in email.body
        assert 'href="https://track.example/JD014600006281"' in html_of(email)
        assert "JD014600006299" in mailoutbox[1].body
        assert sorted(EmailLog.objects.filter(kind="order_shipped").values_list("key", flat=True)) == sorted(
            [str(first.pk), str(second.pk)]
        )

    def test_a_shipment_of_another_order_is_refused(self, order):
        other = place_order((stocked_variant(), 1))
        shipment = Shipment.objects.create(order=other, carrier="DHL", tracking_number="X1")

        with pytest.raises(Shipment.DoesNotExist):
            order_email_send(kind="order_shipped", order=order, key=str(shipment.pk))

    def test_a_payment_failed_email_is_not_sent_once_the_order_was_paid_after_all(self, order, mailoutbox):
        paid(order)

        assert send_order_email.delay("payment_failed", order.pk).get() == "already sent"
        assert mailoutbox == []


class TestStaff:
    @pytest.fixture
    def staff_client(self, client):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        return client

    def test_resend_confirmation_sends_it_again_with_the_same_invoice(
        self, staff_client, order, mailoutbox, django_capture_on_commit_callbacks
    ):
        paid(order)
        order_paid_followups.delay(order.pk).get()

        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(
                reverse("admin:orders_order_changelist"),
                {"action": "resend_confirmation", "_selected_action": [order.pk]},
                follow=True,
            )

        assert response.status_code == 200
        assert len(mailoutbox) == 2
        assert mailoutbox[1].attachments[0][0] == mailoutbox[0].attachments[0][0] == f"INV-{YEAR}-000001.pdf"
        keys = sorted(EmailLog.objects.filter(kind="order_confirmation").values_list("key", flat=True))
        assert keys[0] == order.number and keys[1].startswith(f"{order.number}:resend:")
        assert Invoice.objects.count() == 1

    def test_resend_refuses_an_unpaid_order(self, staff_client, order, mailoutbox):
        response = staff_client.post(
            reverse("admin:orders_order_changelist"),
            {"action": "resend_confirmation", "_selected_action": [order.pk]},
            follow=True,
        )

        assert "is not paid" in response.content.decode()
        assert mailoutbox == []

    def test_restore_action_keeps_the_number_and_reports_unpaid_orders(self, staff_client, order):
        paid(order)
        unpaid = place_order((stocked_variant(), 1))

        response = staff_client.post(
            reverse("admin:orders_order_changelist"),
            {"action": "restore_invoice_pdfs", "_selected_action": [order.pk, unpaid.pk]},
            follow=True,
        )

        page = response.content.decode()
        assert f"Rendered the missing PDF of INV-{YEAR}-000001." in page
        assert f"Order {unpaid.number} is pending payment: it has no invoice." in page
        assert list(Invoice.objects.values_list("order_id", flat=True)) == [order.pk]

    def test_the_order_page_links_the_invoice_pdf_and_lists_the_emails(self, staff_client, order, mailoutbox):
        paid(order)
        order_paid_followups.delay(order.pk).get()

        page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
        download = staff_client.get(reverse("admin:orders_order_invoice", args=[order.pk]))

        invoice_url = reverse("admin:orders_order_invoice", args=[order.pk])
        assert f'href="{invoice_url}"' in page and f"INV-{YEAR}-000001" in page
        assert "order confirmation" in page and order.email in page
        assert download.status_code == 200 and download["Content-Type"] == "application/pdf"

    def test_the_staff_download_is_for_staff_only(self, client, order):
        paid(order)
        client.force_login(UserFactory())

        response = client.get(reverse("admin:orders_order_invoice", args=[order.pk]))

        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        assert not Invoice.objects.exists()


class TestTheCommonLayout:
    def test_back_in_stock_emails_come_in_text_and_html_like_the_order_emails(self, mailoutbox):
        variant = stocked_variant(on_hand=1, product__title="Linen Shirt")
        BackInStockRequest.objects.create(variant=variant, email="ada@example.com")

        assert back_in_stock_notify(variant=variant) == 1

        [email] = mailoutbox
        assert "Linen Shirt" in email.body and "Small Shop" in email.body
        assert "Order it while it lasts" in html_of(email)
