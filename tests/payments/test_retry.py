"""A failed payment is not the end of the order: the shopper lands on a page that says so,
shows how long the items stay reserved, and offers "Try again", a new payment of the SAME
order under the SAME reservation. Once the reservation has lapsed the page says so and puts
the order's items back in the cart. Driven through the real pages, with the dummy gateway and
with Stripe's SDK faked at HTTP (tests/payments/stripe/conftest.py)."""

import json
import re
from decimal import Decimal

import pytest
import responses

from cart.models import CartLine
from inventory.models import Reservation, StockMovement
from inventory.selectors import availability
from orders.models import Order, OrderEvent
from payments.models import Payment
from payments.services import payment_capture
from tests.factories import ShippingMethodFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, on_hand
from tests.orders.helpers import lapse
from tests.payments.stripe.conftest import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    FakeStripe,
    event,
    sign,
)
from tests.storefront.conftest import Shopper

pytestmark = pytest.mark.django_db


@pytest.fixture
def shirt(db):
    return stocked_variant(on_hand=5, price=Decimal("23.00"), product__title="Linen Shirt")


@pytest.fixture
def shopper(client):
    return Shopper(client)


def _dummy_reference(response) -> str:
    location = response["Location"]
    assert location.startswith("/payments/dummy/"), location
    return location.rstrip("/").rsplit("/", 1)[-1]


def _fail_on_the_dummy_page(shopper, order: Order):
    start = shopper.client.post(f"/payments/order/{order.access_token}/", {"gateway": "dummy"})
    return shopper.client.post(f"/payments/dummy/{_dummy_reference(start)}/complete/", {"outcome": "fail"})


def _retry_form(page: str) -> tuple[str, str]:
    """The "Try again" form of the failed-payment page: (action, gateway checked)."""
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*data-retry-form>(.*?)</form>', page, re.S)
    assert form, "no Try again form"
    checked = re.search(r'name="gateway" id="[^"]+" value="([^"]+)" checked', form.group(2))
    return form.group(1), checked.group(1) if checked else ""


def test_fail_then_try_again_pays_the_same_order_with_the_same_reservation(shopper, shirt):
    placed = shopper.buy(shirt, ShippingMethodFactory(price=Decimal("5.00")), quantity=2)
    order = Order.objects.get()
    [hold] = Reservation.objects.filter(owner=order.reservation_owner)
    assert availability([shirt.pk])[shirt.pk] == 3

    failed = shopper.pay(placed, outcome="fail")

    # The shopper lands on the failed-payment page of the same order.
    assert failed.status_code == 302
    assert failed["Location"] == f"/payments/order/{order.access_token}/failed/"
    page = shopper.client.get(failed["Location"]).content.decode()
    assert "Your payment did not go through" in page and "Nothing was charged." in page
    assert "Declined on the test payment page" in page  # the provider's reason
    assert "data-countdown" in page and "still reserved" in page
    action, gateway = _retry_form(page)
    assert (action, gateway) == (f"/payments/order/{order.access_token}/", "dummy")
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert availability([shirt.pk])[shirt.pk] == 3  # still held

    # Try again: a new payment of the same order, paid this time.
    retry = shopper.client.post(action, {"gateway": gateway})
    paid = shopper.client.post(f"/payments/dummy/{_dummy_reference(retry)}/complete/", {"outcome": "pay"})

    assert paid["Location"] == order.get_guest_url()
    assert Order.objects.count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    payments = list(Payment.objects.order_by("pk").values_list("status", flat=True))
    assert payments == [Payment.Status.FAILED, Payment.Status.CAPTURED]
    # The stock: reserved once, by the one hold, sold once.
    assert list(Reservation.objects.values_list("pk", "status")) == [(hold.pk, Reservation.Status.COMMITTED)]
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).get().quantity == -2
    assert on_hand(shirt) == 3
    assert_stock_consistent()
    assert [e.type for e in order.events.all() if e.type in ("placed", "payment_failed", "paid")] == [
        OrderEvent.Type.PLACED,
        OrderEvent.Type.PAYMENT_FAILED,
        OrderEvent.Type.PAID,
    ]
    # The confirmation thanks the shopper once, and lists the attempts without provider ids.
    confirmation = shopper.client.get(paid["Location"]).content.decode()
    assert confirmation.count("Thank you") == 1
    assert "Test payment (no real money)" in confirmation and "Failed" in confirmation
    for reference in Payment.objects.values_list("reference", flat=True):
        assert reference not in confirmation
    # Coming back later: no second thank-you.
    assert "Thank you" not in shopper.client.get(paid["Location"]).content.decode()


def test_a_second_capture_of_the_failed_attempt_after_the_retry_paid_is_refunded_not_kept(shopper, shirt):
    # The provider reports the first (failed) attempt captured after all, once the retry has
    # paid: the order is not paid twice; that money goes back (payments' rules).
    placed = shopper.buy(shirt, ShippingMethodFactory(), quantity=1)
    shopper.pay(placed, outcome="fail")
    order = Order.objects.get()
    first = Payment.objects.get()
    retry = shopper.client.post(f"/payments/order/{order.access_token}/", {"gateway": "dummy"})
    shopper.client.post(f"/payments/dummy/{_dummy_reference(retry)}/complete/", {"outcome": "pay"})

    late = payment_capture(payment=first)

    assert late.status == Payment.Status.REJECTED
    assert Payment.objects.filter(status=Payment.Status.CAPTURED).count() == 1
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 1
    assert_stock_consistent()


def test_once_the_reservation_lapsed_the_page_says_so_and_puts_the_items_back_in_the_cart(shopper, shirt):
    placed = shopper.buy(shirt, ShippingMethodFactory(), quantity=2)
    order = Order.objects.get()
    shopper.pay(placed, outcome="fail")
    assert shopper.client.get("/cart/").context["cart"].is_empty  # the order took the lines
    lapse(order)

    page = shopper.client.get(f"/payments/order/{order.access_token}/failed/").content.decode()

    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert availability([shirt.pk])[shirt.pk] == 5
    assert "Your reservation has run out" in page and "data-retry-form" not in page
    restore = f"/cart/restore/{order.access_token}/"
    assert f'action="{restore}"' in page
    # Trying to pay anyway is refused: the order is over.
    shopper.client.post(f"/payments/order/{order.access_token}/", {"gateway": "dummy"})
    assert Payment.objects.count() == 1

    response = shopper.client.post(restore)
    assert response["Location"] == "/cart/"
    assert list(CartLine.objects.values_list("variant_id", "quantity")) == [(shirt.pk, 2)]
    shopper.client.post(restore)  # twice: the lines are back once, not doubled
    assert list(CartLine.objects.values_list("variant_id", "quantity")) == [(shirt.pk, 2)]
    # … and the cart checks out again, as a new order.
    shopper.checkout(ShippingMethodFactory())
    assert shopper.place().status_code == 302
    assert Order.objects.count() == 2


def test_a_pending_order_cannot_be_put_back_in_the_cart(shopper, shirt):
    shopper.buy(shirt, ShippingMethodFactory(), quantity=2)
    order = Order.objects.get()

    shopper.client.post(f"/cart/restore/{order.access_token}/")

    assert not CartLine.objects.exists()  # its items are held for the order, not the cart
    assert shopper.client.post("/cart/restore/not-a-token/").status_code == 404


class TestWithStripe:
    """The same retry with Stripe's SDK answered at HTTP: the Checkout Session expires
    (checkout.session.expired), the shopper tries again, a second session pays."""

    @pytest.fixture(autouse=True)
    def _stripe(self, settings):
        settings.PAYMENT_GATEWAYS = ["dummy", "stripe"]
        settings.STRIPE_SECRET_KEY = SECRET_KEY
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET

    @pytest.fixture
    def fake_stripe(self):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            yield FakeStripe(mock)

    def _deliver(self, client, evt, capture):
        payload = json.dumps(evt)
        with capture(execute=True):
            return client.post(
                "/payments/webhooks/stripe/",
                data=payload,
                content_type="application/json",
                headers={"Stripe-Signature": sign(payload)},
            )

    def test_an_expired_session_then_a_new_one_pays_once(
        self, shopper, shirt, fake_stripe, django_capture_on_commit_callbacks
    ):
        shopper.buy(shirt, ShippingMethodFactory(), quantity=2)
        order = Order.objects.get()
        first = shopper.client.post(f"/payments/order/{order.access_token}/", {"gateway": "stripe"})
        assert first.status_code == 302 and first["Location"].startswith("https://checkout.stripe.com/")
        session_one = Payment.objects.get().provider_order_id
        self._deliver(
            shopper.client,
            event("checkout.session.expired", fake_stripe.expire(session_one)),
            django_capture_on_commit_callbacks,
        )
        failed_payment = Payment.objects.get()
        assert failed_payment.status == Payment.Status.FAILED
        order.refresh_from_db()
        assert order.status == Order.Status.PENDING_PAYMENT

        # Back from Stripe's page (its cancel link) the shopper sees the failed-payment page.
        back = shopper.client.get(f"/payments/return/{failed_payment.reference}/")
        assert back["Location"] == f"/payments/order/{order.access_token}/failed/"
        action, gateway = _retry_form(shopper.client.get(back["Location"]).content.decode())
        assert gateway == "stripe"
        retry = shopper.client.post(action, {"gateway": gateway})

        assert retry.status_code == 302
        assert len(fake_stripe.session_creates()) == 2  # a new Checkout Session, its own key
        keys = [request.headers.get("Idempotency-Key") for request in fake_stripe.session_creates()]
        assert len(set(keys)) == 2
        second = Payment.objects.exclude(pk=failed_payment.pk).get()
        self._deliver(
            shopper.client,
            event("checkout.session.completed", fake_stripe.complete(second.provider_order_id)),
            django_capture_on_commit_callbacks,
        )

        order.refresh_from_db()
        assert order.status == Order.Status.PAID
        assert Order.objects.count() == 1
        assert list(Payment.objects.order_by("pk").values_list("status", flat=True)) == [
            Payment.Status.FAILED,
            Payment.Status.CAPTURED,
        ]
        assert Reservation.objects.filter(owner=order.reservation_owner).count() == 1
        assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).get().quantity == -2
        assert_stock_consistent()
