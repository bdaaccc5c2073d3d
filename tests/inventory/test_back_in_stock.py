"""Back in stock: a shopper leaves an address on a sold-out variant's page and is emailed
once when stock comes in. Bad input is a form error, never a server error."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import translation

from inventory.models import BackInStockRequest, StockItem, StockMovement
from inventory.services import (
    StockLine,
    back_in_stock_notify,
    stock_adjust,
    stock_commit,
    stock_policy_set,
    stock_reserve,
)
from inventory.tasks import send_back_in_stock_emails
from tests.factories import ProductFactory, UserFactory, VariantFactory, stocked_variant
from tests.i18n import german

pytestmark = pytest.mark.django_db

NOTIFY_URL = reverse("inventory:back_in_stock")
RECEIPT = StockMovement.Reason.RECEIPT


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


@pytest.fixture
def sold_out(db):
    """A variant that sold its last unit."""
    variant = stocked_variant(on_hand=1, product__title="Linen Shirt", option1_value="Small")
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:A", ttl=timedelta(minutes=15))
    stock_commit(owner="order:A", reference="A")
    return variant


def ask(client, variant, email):
    return client.post(NOTIFY_URL, {"variant": variant.pk, "email": email})


def pending(variant) -> list[str]:
    return sorted(
        BackInStockRequest.objects.filter(variant=variant, notified_at__isnull=True).values_list("email", flat=True)
    )


# The form on the product page ---------------------------------------------------------


def test_the_product_page_has_one_form_for_the_chosen_variant_shown_while_it_is_sold_out(client):
    product = ProductFactory(option1_name="Size")
    gone = stocked_variant(on_hand=0, product=product, option1_value="Small")
    large = stocked_variant(on_hand=4, product=product, option1_value="Large")

    # Large, in stock, is chosen: the one form is there for product.js, hidden.
    page = client.get(product.get_absolute_url()).content.decode()
    assert page.count('action="/stock/notify/"') == 1
    assert re.search(r'<form class="notify[^>]*data-notify hidden>', page)
    assert f'name="variant" value="{large.pk}" data-notify-variant' in page

    # Small, sold out, is chosen: the form asks about Small and shows.
    page = client.get(f"{product.get_absolute_url()}?variant={gone.pk}").content.decode()
    assert page.count('action="/stock/notify/"') == 1
    assert re.search(r'<form class="notify[^>]*data-notify>', page)
    assert f'name="variant" value="{gone.pk}" data-notify-variant' in page
    assert "Email me when Small is back" in page


def test_a_product_with_nothing_sold_out_has_no_notify_form(client):
    variant = stocked_variant(on_hand=4)
    assert 'action="/stock/notify/"' not in client.get(variant.product.get_absolute_url()).content.decode()


def test_the_form_is_prefilled_with_a_signed_in_shoppers_address(client, sold_out):
    client.force_login(UserFactory(email="ada@example.com"))

    page = client.get(sold_out.product.get_absolute_url()).content.decode()

    assert 'value="ada@example.com"' in page


# Asking -------------------------------------------------------------------------------


def test_a_shopper_can_ask_to_be_emailed_and_is_sent_back_to_the_product(client, sold_out):
    response = ask(client, sold_out, "ada@example.com")

    assert response.status_code == 302
    assert response.url == sold_out.product.get_absolute_url()
    assert pending(sold_out) == ["ada@example.com"]
    page = client.get(response.url).content.decode()
    assert "We&#x27;ll email ada@example.com once" in page


def test_asking_twice_with_different_case_keeps_one_request(client, sold_out):
    ask(client, sold_out, "ada@example.com")
    response = ask(client, sold_out, "ADA@example.com")

    assert response.status_code == 302
    assert BackInStockRequest.objects.count() == 1


def test_an_invalid_address_is_a_form_error(client, sold_out):
    response = ask(client, sold_out, "not-an-address")

    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert not BackInStockRequest.objects.exists()


@pytest.mark.parametrize("variant_id", ["999999", "abc", ""])
def test_an_unknown_variant_is_a_form_error(client, variant_id):
    response = client.post(NOTIFY_URL, {"variant": variant_id, "email": "ada@example.com"})

    assert response.status_code == 400
    assert not BackInStockRequest.objects.exists()


def test_a_variant_of_an_unpublished_product_is_a_form_error(client):
    variant = VariantFactory(product__published=False)

    response = ask(client, variant, "ada@example.com")

    assert response.status_code == 400
    assert "That product is not available." in response.content.decode()


def test_asking_about_a_variant_in_stock_says_it_can_be_ordered_now(client):
    variant = stocked_variant(on_hand=2)

    response = ask(client, variant, "ada@example.com")

    assert response.status_code == 302
    assert "you can order it now" in client.get(response.url).content.decode()
    assert not BackInStockRequest.objects.exists()


def test_asking_about_a_variant_sold_on_backorder_says_it_can_be_ordered_now(client):
    variant = stocked_variant(on_hand=0)
    stock_policy_set(variant=variant, backorder_policy=StockItem.BackorderPolicy.CONTINUE)

    response = ask(client, variant, "ada@example.com")

    assert response.status_code == 302
    assert not BackInStockRequest.objects.exists()


def test_the_notify_address_answers_only_post(client):
    assert client.get(NOTIFY_URL).status_code == 405


# Being told ---------------------------------------------------------------------------


def test_a_receipt_after_sell_out_emails_each_requester_once(client, sold_out, django_capture_on_commit_callbacks):
    ask(client, sold_out, "ada@example.com")
    ask(client, sold_out, "bob@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant=sold_out, quantity=5, reason=RECEIPT, reference="PO-7")
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant=sold_out, quantity=5, reason=RECEIPT, reference="PO-8")

    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "bob@example.com"]
    assert all(len(m.to) == 1 for m in mail.outbox)
    assert "Linen Shirt – Small" in mail.outbox[0].subject
    assert f"http://localhost:8000{sold_out.product.get_absolute_url()}" in mail.outbox[0].body
    assert pending(sold_out) == []


def test_running_the_notifier_twice_sends_nothing_twice(client, sold_out):
    ask(client, sold_out, "ada@example.com")
    stock_adjust(variant=sold_out, quantity=1, reason=RECEIPT)
    mail.outbox.clear()

    first = send_back_in_stock_emails.delay(sold_out.pk).get()
    second = send_back_in_stock_emails.delay(sold_out.pk).get()

    assert (first, second) == (1, 0)
    assert len(mail.outbox) == 1


def test_a_receipt_that_leaves_nothing_available_emails_nobody(client, sold_out, django_capture_on_commit_callbacks):
    ask(client, sold_out, "ada@example.com")
    # Switched to backorder meanwhile, and buyers already hold more than will come in.
    stock_policy_set(variant=sold_out, backorder_policy=StockItem.BackorderPolicy.CONTINUE)
    stock_reserve(lines=[StockLine(sold_out.pk, 3)], owner="order:B", ttl=timedelta(minutes=15))

    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant=sold_out, quantity=2, reason=RECEIPT)

    assert mail.outbox == []
    assert pending(sold_out) == ["ada@example.com"]


def test_someone_emailed_can_ask_again_for_the_next_time(client, sold_out, django_capture_on_commit_callbacks):
    ask(client, sold_out, "ada@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant=sold_out, quantity=1, reason=RECEIPT)
    stock_reserve(lines=[StockLine(sold_out.pk, 1)], owner="order:B", ttl=timedelta(minutes=15))

    response = ask(client, sold_out, "ada@example.com")

    assert response.status_code == 302
    assert pending(sold_out) == ["ada@example.com"]
    assert BackInStockRequest.objects.count() == 2


def test_a_failed_email_leaves_the_request_waiting_for_a_retry(client, sold_out, settings):
    ask(client, sold_out, "ada@example.com")
    settings.EMAIL_BACKEND = "tests.inventory.test_back_in_stock.RefusingBackend"
    stock_adjust(variant=sold_out, quantity=1, reason=RECEIPT)  # enqueues nothing here: no commit

    with pytest.raises(ConnectionRefusedError):
        back_in_stock_notify(variant=sold_out)

    assert pending(sold_out) == ["ada@example.com"]


# In the shopper's language -------------------------------------------------------------

SUBJECT = "Back in stock: %(title)s – %(variant)s"


def test_each_shopper_is_emailed_in_the_language_they_asked_in(client, sold_out):
    client.post(NOTIFY_URL, {"variant": sold_out.pk, "email": "ada@example.com"}, HTTP_ACCEPT_LANGUAGE="de")
    client.post(NOTIFY_URL, {"variant": sold_out.pk, "email": "bob@example.com"}, HTTP_ACCEPT_LANGUAGE="en")
    stock_adjust(variant=sold_out, quantity=1, reason=RECEIPT)  # enqueues nothing here: no commit

    # Whatever language the worker runs in.
    with german({SUBJECT: "Wieder da: %(title)s – %(variant)s"}), translation.override("de"):
        assert back_in_stock_notify(variant=sold_out) == 2

    emails = {m.to[0]: m for m in mail.outbox}
    assert emails["ada@example.com"].subject == "Wieder da: Linen Shirt – Small"
    assert emails["ada@example.com"].extra_headers["Content-Language"] == "de"
    assert emails["bob@example.com"].subject == "Back in stock: Linen Shirt – Small"
    assert emails["bob@example.com"].extra_headers["Content-Language"] == "en"


def test_asking_again_in_another_language_changes_the_language_of_the_pending_request(client, sold_out):
    client.post(NOTIFY_URL, {"variant": sold_out.pk, "email": "ada@example.com"}, HTTP_ACCEPT_LANGUAGE="en")
    client.post(NOTIFY_URL, {"variant": sold_out.pk, "email": "ADA@example.com"}, HTTP_ACCEPT_LANGUAGE="de")

    assert list(BackInStockRequest.objects.values_list("email", "language")) == [("ada@example.com", "de")]


def test_a_request_from_before_languages_were_stored_is_emailed_in_the_shops_language(sold_out):
    BackInStockRequest.objects.create(variant=sold_out, email="old@example.com", language="")
    stock_adjust(variant=sold_out, quantity=1, reason=RECEIPT)

    with german({SUBJECT: "Wieder da: %(title)s – %(variant)s"}), translation.override("de"):
        back_in_stock_notify(variant=sold_out)

    [email] = mail.outbox
    assert email.subject == "Back in stock: Linen Shirt – Small"
