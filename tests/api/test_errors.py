"""Every error has one shape, and a domain error raised by a service becomes a 4xx, never
a 500: insufficient stock and busy stock 409, state conflicts 409, bad requests 400."""

import json

import pytest
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from accounts.services import AccountError
from cart.services import CartError
from checkout.services import CheckoutError
from inventory.exceptions import InsufficientStock, ReservationExpired, ShortLine, StockBusy
from orders.models import Order
from orders.services import OrderStateError
from payments.services import PaymentError

from .conftest import assert_error


def raising(exc: Exception):
    class Raising(APIView):
        authentication_classes: list = []
        permission_classes: list = []

        def get(self, request):
            raise exc

    response = Raising.as_view()(APIRequestFactory().get("/"))
    response.render()
    response.json = lambda: json.loads(response.content)
    return response


def test_insufficient_stock_is_409_naming_every_short_line():
    response = raising(
        InsufficientStock([ShortLine(7, requested=3, available=1, sku="TEE-S"), ShortLine(8, 2, 0, "TEE-M")])
    )
    error = assert_error(response, 409, "insufficient_stock")
    assert error["lines"] == [
        {"variant_id": 7, "sku": "TEE-S", "requested": 3, "available": 1},
        {"variant_id": 8, "sku": "TEE-M", "requested": 2, "available": 0},
    ]
    assert "TEE-S: 1 left, 3 wanted" in error["message"]


def test_busy_stock_is_409_with_retry_after():
    response = raising(StockBusy())
    error = assert_error(response, 409, "stock_busy")
    assert error["message"].startswith("Many people are buying this")
    assert response["Retry-After"] == "1"


@pytest.mark.parametrize(
    "exc, status, code",
    [
        (ReservationExpired("order:X"), 409, "reservation_expired"),
        (CartError("Only 2 of Tee left."), 409, "cart_error"),
        (CheckoutError("Your cart is empty."), 409, "checkout_error"),
        (OrderStateError(Order(number="ABC", status=Order.Status.PAID), "pay"), 409, "order_state"),
        (PaymentError("No such payment."), 400, "payment_error"),
    ],
)
def test_domain_errors_keep_their_code_and_message(exc, status, code):
    response = raising(exc)
    error = assert_error(response, status, code)
    assert error["message"] == exc.message


def test_a_domain_error_about_one_field_names_it():
    response = raising(AccountError("Taken.", code="email_taken", field="email"))
    assert assert_error(response, 400, "email_taken")["fields"] == {"email": ["Taken."]}


def test_nested_validation_errors_are_flattened_to_dotted_fields():
    from rest_framework.exceptions import ValidationError

    response = raising(ValidationError({"lines": [{}, {"quantity": ["Too many."]}], "email": ["Bad."]}))
    error = assert_error(response, 400, "invalid")
    assert error["fields"] == {"lines.1.quantity": ["Too many."], "email": ["Bad."]}


@pytest.mark.django_db
def test_an_unknown_api_url_is_a_404_in_the_error_shape(api):
    assert_error(api.get("/api/v1/nothing-here/"), 404, "not_found")
    assert_error(api.post("/api/v1/nothing/here/", {}, format="json"), 404, "not_found")
