"""A shopper's purchase through the HTML pages, end to end, with the dummy gateway; every
test runs with stock reserved at Place order and again with it reserved at add-to-cart."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Reservation, StockMovement
from inventory.selectors import availability, ledger_total
from inventory.services import StockLine, stock_reserve
from orders.models import Order
from payments.models import Payment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reserve_on")]


def _active_cart_holds():
    return Reservation.objects.filter(owner__startswith="cart:", status=Reservation.Status.ACTIVE)


def test_a_guest_buys_and_pays_and_the_stock_is_committed(shopper, variant, shipping):
    assert shopper.add(variant, 2).status_code == 302
    cart = shopper.client.get("/cart/")
    assert "Linen Shirt" in cart.content.decode() and "46.00" in cart.content.decode()

    shopper.checkout(shipping)
    review = shopper.client.get("/checkout/review/").content.decode()
    assert "51.00" in review  # 2 × 23.00 + 5.00 shipping

    placed = shopper.place()
    order = Order.objects.get()
    assert placed["Location"] == f"/payments/order/{order.access_token}/"
    assert order.status == Order.Status.PENDING_PAYMENT
    assert availability([variant.pk])[variant.pk] == 1  # reserved, not yet sold
    assert not _active_cart_holds().exists()  # a cart's hold, if any, passed to the order
    pay_page = shopper.client.get(placed["Location"]).content.decode()
    assert "data-countdown" in pay_page and order.reservation_expires_at.isoformat()[:16] in pay_page

    done = shopper.pay(placed)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert done["Location"] == order.get_guest_url()
    confirmation = shopper.client.get(done["Location"]).content.decode()
    assert "Thank you" in confirmation and order.number in confirmation
    variant.stock.refresh_from_db()
    assert variant.stock.on_hand == 1 == ledger_total(variant.pk)
    assert StockMovement.objects.filter(variant=variant, reason="sale").get().quantity == -2
    assert shopper.client.get("/cart/").context["cart"].is_empty


def test_a_failed_payment_keeps_the_reservation_for_another_try(shopper, variant, shipping):
    placed = shopper.buy(variant, shipping, quantity=3)
    assert availability([variant.pk])[variant.pk] == 0
    shopper.pay(placed, outcome="fail")
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert availability([variant.pk])[variant.pk] == 0  # still the order's until it lapses
    assert Payment.objects.get().status == Payment.Status.FAILED


def test_an_expired_reservation_frees_the_stock_and_expires_the_order(shopper, variant, shipping):
    placed = shopper.buy(variant, shipping, quantity=3)
    lapsed = timezone.now() - timedelta(seconds=1)
    Reservation.objects.update(expires_at=lapsed)
    Order.objects.update(reservation_expires_at=lapsed)
    assert availability([variant.pk])[variant.pk] == 3  # before any sweep
    page = shopper.client.get(placed["Location"])
    assert page.context["order"].status == Order.Status.EXPIRED
    assert "went back on sale" in page.content.decode()
    assert Order.objects.get().events.filter(type="expired").count() == 1


def test_paying_twice_marks_the_order_paid_once(shopper, variant, shipping):
    placed = shopper.buy(variant, shipping)
    shopper.pay(placed)
    payment = Payment.objects.get()
    shopper.client.post(f"/payments/dummy/{payment.reference}/complete/", {"outcome": "pay"})
    order = Order.objects.get()
    assert order.events.filter(type="paid").count() == 1
    assert StockMovement.objects.filter(reason="sale").count() == 1


def test_placing_the_same_checkout_twice_returns_the_same_order(shopper, variant, shipping):
    shopper.add(variant)
    shopper.checkout(shipping)
    fingerprint = shopper.fingerprint()
    token = shopper.client.session["checkout_token"]
    first = shopper.place(fingerprint)
    # A double click: the second request still carries the first one's checkout token.
    session = shopper.client.session
    session["checkout_token"] = token
    session.save()
    second = shopper.client.post("/checkout/place/", {"fingerprint": fingerprint})
    assert Order.objects.count() == 1
    assert first["Location"] == second["Location"]
    assert Reservation.objects.filter(status=Reservation.Status.ACTIVE).count() == 1
    assert availability([variant.pk])[variant.pk] == 2


def test_a_sold_out_line_is_flagged_in_the_cart_not_dropped(shopper, variant, shipping):
    shopper.add(variant, 2)
    # The shopper's own hold (when carts hold stock) runs out; someone else takes all the stock.
    _active_cart_holds().update(expires_at=timezone.now() - timedelta(seconds=1))
    stock_reserve(lines=[StockLine(variant.pk, 3)], owner="order:OTHER", ttl=timedelta(minutes=5))
    page = shopper.client.get("/cart/").content.decode()
    assert "Linen Shirt" in page and "Sold out" in page
    assert "Check out" not in page
    shopper.checkout(shipping)
    response = shopper.client.post("/checkout/place/", {"fingerprint": "x"})
    assert response.status_code == 302 and Order.objects.count() == 0
