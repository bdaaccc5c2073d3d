"""orders/ and orders/<number>/: the owner sees their orders; a guest sees one with its
X-Order-Token; everyone else gets 404."""

import pytest

from orders.models import Order
from tests.orders.helpers import place_order

from .conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(user, variant):
    order = place_order((variant, 2))
    Order.objects.filter(pk=order.pk).update(user=user)
    order.refresh_from_db()
    return order


@pytest.fixture
def guest_order(variant):
    return place_order((variant, 1))


def test_the_owner_lists_their_orders(user_api, order, guest_order):
    body = user_api.get("/api/v1/orders/").json()
    assert (body["total"], body["page"], body["totalPages"]) == (1, 1, 1)
    item = body["data"][0]
    assert (item["number"], item["status"], item["total"], item["currency"]) == (
        order.number,
        "pending_payment",
        str(order.total),
        "USD",
    )


def test_the_owner_sees_the_detail(user_api, order, variant):
    response = user_api.get(f"/api/v1/orders/{order.number}/")
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == order.number
    assert body["status_display"] == "Pending payment"
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in body["lines"]] == [
        (variant.sku, 2, "23.00")
    ]
    assert body["shipping_address"]["city"] == "London"
    assert [event["type"] for event in body["events"]] == ["placed"]


def test_status_and_events_are_named_in_the_clients_language_and_an_unknown_one_by_its_value(user_api, order):
    from orders.models import OrderEvent

    OrderEvent.objects.create(order=order, type="legacy_import")  # a type no longer in the list

    german = user_api.get(f"/api/v1/orders/{order.number}/", HTTP_ACCEPT_LANGUAGE="de").json()
    english = user_api.get("/api/v1/orders/", HTTP_ACCEPT_LANGUAGE="en").json()["data"][0]

    assert german["status_display"] == "Zahlung ausstehend"
    assert [event["type_display"] for event in german["events"]] == ["Bestellung aufgegeben", "legacy_import"]
    assert english["status_display"] == "Pending payment"


def test_another_user_gets_404_for_the_order_and_an_empty_list(outsider_api, order):
    assert_error(outsider_api.get(f"/api/v1/orders/{order.number}/"), 404, "not_found")
    assert outsider_api.get("/api/v1/orders/").json()["total"] == 0


def test_a_guest_sees_the_order_with_its_token(api, guest_order):
    response = api.get(f"/api/v1/orders/{guest_order.number}/", HTTP_X_ORDER_TOKEN=guest_order.access_token)
    assert response.status_code == 200
    assert response.json()["number"] == guest_order.number


def test_a_guest_without_or_with_a_wrong_token_gets_404(api, guest_order, order):
    url = f"/api/v1/orders/{guest_order.number}/"
    assert_error(api.get(url), 404, "not_found")
    assert_error(api.get(url, HTTP_X_ORDER_TOKEN="wrong"), 404, "not_found")
    # Another order's token opens only that order.
    assert_error(api.get(url, HTTP_X_ORDER_TOKEN=order.access_token), 404, "not_found")


def test_a_signed_in_user_may_open_a_guest_order_with_its_token(outsider_api, guest_order):
    response = outsider_api.get(f"/api/v1/orders/{guest_order.number}/", HTTP_X_ORDER_TOKEN=guest_order.access_token)
    assert response.status_code == 200


def test_an_unknown_number_is_404(user_api, order):
    assert_error(user_api.get("/api/v1/orders/NOPE1234/"), 404, "not_found")


def test_the_order_list_requires_authentication(api, order):
    assert_error(api.get("/api/v1/orders/"), 401, "not_authenticated")


def test_the_order_list_validates_paging(user_api, order):
    assert_error(user_api.get("/api/v1/orders/", {"limit": 500}), 400, "invalid")


def test_malformed_numbers_and_tokens_are_404_not_500(api, guest_order):
    # PostgreSQL refuses NUL bytes in text: they must never reach a query.
    assert_error(api.get("/api/v1/orders/AB%00CD/"), 404, "not_found")
    assert_error(api.get(f"/api/v1/orders/{guest_order.number}/", HTTP_X_ORDER_TOKEN="a\x00b"), 404, "not_found")


def paid(order):
    from datetime import timedelta

    from orders.services import order_mark_paid

    return order_mark_paid(order=order, reference=f"pay_{order.number}", reservation_ttl=timedelta(minutes=15))


def test_the_owner_downloads_the_invoice_pdf(user_api, order):
    paid(order)
    response = user_api.get(f"/api/v1/orders/{order.number}/invoice/", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_a_guest_downloads_the_invoice_with_the_token_and_others_get_404(api, outsider_api, guest_order):
    paid(guest_order)
    url = f"/api/v1/orders/{guest_order.number}/invoice/"
    assert api.get(url, HTTP_X_ORDER_TOKEN=guest_order.access_token).status_code == 200
    assert_error(api.get(url), 404, "not_found")
    assert_error(outsider_api.get(url, HTTP_ACCEPT="application/pdf"), 404, "not_found")


def test_an_unpaid_order_has_no_invoice_409(user_api, order):
    assert_error(user_api.get(f"/api/v1/orders/{order.number}/invoice/"), 409, "invoice_not_allowed")


def credit(order, amount: str, key: str):
    from decimal import Decimal

    from orders.credit_notes import credit_note_for_refund

    return credit_note_for_refund(order=order, amount=Decimal(amount), reason="Scratched", key=key)


def test_the_detail_lists_the_invoice_and_the_credit_notes(user_api, order):
    assert user_api.get(f"/api/v1/orders/{order.number}/").json()["invoice"] is None
    paid(order)
    note = credit(order, "10.00", "refund:1")

    body = user_api.get(f"/api/v1/orders/{order.number}/").json()

    invoice = note.invoice
    assert body["invoice"] == {
        "number": invoice.number,
        "issued_at": invoice.issued_at.isoformat().replace("+00:00", "Z"),
        "total": "51.00",
    }
    assert [(n["number"], n["invoice_number"], n["amount"], n["reason"]) for n in body["credit_notes"]] == [
        (note.number, invoice.number, "10.00", "Scratched"),
    ]


def test_a_paid_order_before_its_invoice_is_issued_has_none_and_no_credit_notes_are_looked_for(user_api, order):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    paid(order)

    with CaptureQueriesContext(connection) as queries:
        body = user_api.get(f"/api/v1/orders/{order.number}/").json()

    assert (body["status"], body["invoice"], body["credit_notes"]) == ("paid", None, [])
    assert [q["sql"] for q in queries if '"orders_invoice"' in q["sql"]]
    assert not [q["sql"] for q in queries if '"orders_creditnote"' in q["sql"]]


def test_the_owner_and_a_guest_with_the_token_download_a_credit_note_and_others_get_404(
    user_api, outsider_api, api, order, guest_order
):
    paid(order), paid(guest_order)
    note, guest_note = credit(order, "10.00", "refund:1"), credit(guest_order, "5.00", "refund:2")
    url = f"/api/v1/orders/{order.number}/credit-notes/{note.number}/"
    guest_url = f"/api/v1/orders/{guest_order.number}/credit-notes/{guest_note.number}/"

    response = user_api.get(url, HTTP_ACCEPT="application/pdf")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f'filename="{note.number}.pdf"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert api.get(guest_url, HTTP_X_ORDER_TOKEN=guest_order.access_token).status_code == 200
    assert_error(api.get(guest_url), 404, "not_found")
    assert_error(outsider_api.get(url, HTTP_ACCEPT="application/pdf"), 404, "not_found")
    # Another order's credit note through this order, an unknown one, a malformed number.
    assert_error(user_api.get(f"/api/v1/orders/{order.number}/credit-notes/{guest_note.number}/"), 404, "not_found")
    assert_error(user_api.get(f"/api/v1/orders/{order.number}/credit-notes/CN-2020-000009/"), 404, "not_found")
    assert_error(user_api.get(f"/api/v1/orders/{order.number}/credit-notes/nope/"), 404, "not_found")
