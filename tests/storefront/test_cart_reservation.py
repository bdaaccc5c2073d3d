"""STOCK_RESERVE_ON=cart through the HTML pages: adding to the cart already holds the stock,
every cart change re-reserves the whole cart with a fresh expiry (or changes nothing), and
Place order hands the cart's hold to the order without the units ever being free between."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from cart.models import Cart, CartLine
from inventory.models import Reservation, StockItem
from inventory.selectors import availability
from inventory.services import StockLine, stock_reserve
from orders.models import Order
from tests.factories import UserFactory, stocked_variant
from tests.inventory.helpers import assert_stock_consistent, run_together
from tests.storefront.conftest import Shopper

CART_MINUTES = 30


@pytest.fixture(autouse=True)
def _reserve_on_cart(settings):
    settings.STOCK_RESERVE_ON = "cart"
    settings.CART_RESERVATION_MINUTES = CART_MINUTES


def _holds(cart=None):
    """Live reservations held by carts (or by `cart`)."""
    holds = Reservation.objects.filter(status=Reservation.Status.ACTIVE, expires_at__gt=timezone.now())
    if cart is not None:
        return holds.filter(owner=f"cart:{cart.pk}")
    return holds.filter(owner__startswith="cart:")


def _lapse_cart_holds():
    _holds().update(expires_at=timezone.now() - timedelta(seconds=1))


def _line_url(line):
    return f"/cart/lines/{line.pk}/"


def _assert_fresh(expires_at):
    expected = timezone.now() + timedelta(minutes=CART_MINUTES)
    assert abs((expires_at - expected).total_seconds()) < 60


@pytest.mark.django_db
class TestHoldingStockInTheCart:
    def test_adding_to_the_cart_takes_the_units_from_everyone_else_at_once(self, shopper, variant):
        assert shopper.add(variant, 2).status_code == 302

        cart = Cart.objects.get()
        hold = _holds(cart).get()
        assert (hold.variant_id, hold.quantity) == (variant.pk, 2)
        _assert_fresh(hold.expires_at)
        assert availability([variant.pk])[variant.pk] == 1
        other = Shopper(Client()).add(variant, 2)
        assert other.status_code == 200
        assert other.context["form"].errors["quantity"] == ["Only 1 of Linen Shirt left."]

    def test_the_shoppers_own_hold_never_counts_against_them(self, shopper, variant):
        shopper.add(variant, 3)  # all of the stock

        page = shopper.client.get("/cart/")

        [line] = page.context["cart"].lines
        assert (line.available, line.problem) == (3, "")
        assert "Sold out" not in page.content.decode() and "Check out" in page.content.decode()

    def test_the_cart_page_counts_down_to_the_end_of_the_hold(self, shopper, variant):
        shopper.add(variant)
        hold = _holds().get()

        page = shopper.client.get("/cart/").content.decode()

        assert "data-countdown" in page and "js/countdown.js" in page
        assert f'data-expires-at="{hold.expires_at.isoformat()[:19]}' in page

    def test_changing_the_quantity_re_reserves_the_cart_with_a_fresh_expiry(self, shopper, variant):
        shopper.add(variant, 1)
        old = _holds().get()
        _holds().update(expires_at=timezone.now() + timedelta(minutes=1))  # time has passed
        line = CartLine.objects.get()

        response = shopper.client.post(_line_url(line), {"quantity": 3})

        assert response.status_code == 302
        new = _holds().get()
        assert new.pk != old.pk and new.quantity == 3
        _assert_fresh(new.expires_at)
        assert Reservation.objects.get(pk=old.pk).status == Reservation.Status.RELEASED
        assert availability([variant.pk])[variant.pk] == 0

    def test_adding_more_of_a_variant_refreshes_the_hold_of_every_line(self, shopper, variant):
        other = stocked_variant(on_hand=5, product__title="Wool Scarf")
        shopper.add(variant, 1)
        shopper.add(other, 1)
        _holds().update(expires_at=timezone.now() + timedelta(minutes=1))

        shopper.add(variant, 1)

        holds = {h.variant_id: h for h in _holds()}
        assert {vid: h.quantity for vid, h in holds.items()} == {variant.pk: 2, other.pk: 1}
        for hold in holds.values():
            _assert_fresh(hold.expires_at)

    def test_a_quantity_beyond_the_stock_is_refused_and_changes_nothing(self, shopper, variant):
        shopper.add(variant, 2)
        hold = _holds().get()
        line = CartLine.objects.get()

        response = shopper.client.post(_line_url(line), {"quantity": 4})

        assert response.status_code == 200
        assert response.context["line_errors"][line.pk] == ["Only 3 of Linen Shirt left."]
        line.refresh_from_db()
        assert line.quantity == 2
        assert list(_holds().values_list("pk", "quantity", "expires_at")) == [(hold.pk, 2, hold.expires_at)]
        assert availability([variant.pk])[variant.pk] == 1

    def test_adding_beyond_the_stock_is_refused_and_changes_nothing(self, shopper, variant):
        shopper.add(variant, 2)
        hold = _holds().get()

        response = shopper.add(variant, 2)

        assert response.context["form"].errors["quantity"] == ["Only 3 of Linen Shirt left."]
        assert CartLine.objects.get().quantity == 2
        assert list(_holds().values_list("pk", "quantity", "expires_at")) == [(hold.pk, 2, hold.expires_at)]

    def test_removing_a_line_frees_its_units_and_removing_the_last_releases_everything(self, shopper, variant):
        scarf = stocked_variant(on_hand=5, product__title="Wool Scarf")
        shopper.add(variant, 2)
        shopper.add(scarf, 4)
        shirt_line, scarf_line = CartLine.objects.order_by("pk")

        shopper.client.post(f"{_line_url(shirt_line)}remove/")

        assert availability([variant.pk, scarf.pk]) == {variant.pk: 3, scarf.pk: 1}
        assert list(_holds().values_list("variant_id", "quantity")) == [(scarf.pk, 4)]

        shopper.client.post(f"{_line_url(scarf_line)}remove/")

        assert not _holds().exists()
        assert availability([variant.pk, scarf.pk]) == {variant.pk: 3, scarf.pk: 5}
        assert shopper.client.get("/cart/").context["cart"].is_empty

    def test_placing_the_order_hands_the_cart_hold_to_the_order(self, shopper, variant, shipping):
        shopper.add(variant, 2)
        shopper.checkout(shipping)
        fingerprint = shopper.fingerprint()
        assert availability([variant.pk])[variant.pk] == 1

        placed = shopper.place(fingerprint)

        order = Order.objects.get()
        assert placed["Location"] == f"/payments/order/{order.access_token}/"
        assert availability([variant.pk])[variant.pk] == 1  # unchanged by Place order
        active = Reservation.objects.filter(status=Reservation.Status.ACTIVE)
        assert list(active.values_list("owner", "quantity")) == [(order.reservation_owner, 2)]
        assert not _holds().exists()
        cart_holds = Reservation.objects.filter(owner__startswith="cart:")
        assert set(cart_holds.values_list("status", flat=True)) == {Reservation.Status.RELEASED}

        shopper.pay(placed)
        order.refresh_from_db()
        assert order.status == Order.Status.PAID
        assert StockItem.objects.get(variant=variant).on_hand == 1
        assert_stock_consistent()

    def test_a_lapsed_cart_hold_frees_the_stock_for_others_at_once(self, shopper, variant, shipping):
        shopper.add(variant, 3)
        shopper.checkout(shipping)
        fingerprint = shopper.fingerprint()
        _lapse_cart_holds()
        assert availability([variant.pk])[variant.pk] == 3  # before any sweep

        other = Shopper(Client())
        assert other.add(variant, 3).status_code == 302

        page = shopper.client.get("/cart/")
        html = page.content.decode()
        assert "not reserved any more" in html and "Sold out" in html and "data-countdown" not in html
        assert shopper.place(fingerprint).status_code == 302
        assert not Order.objects.exists()
        assert availability([variant.pk])[variant.pk] == 0  # still the other shopper's

    def test_a_lapsed_hold_is_taken_again_at_checkout_while_the_stock_is_there(self, shopper, variant, shipping):
        shopper.add(variant, 2)
        _lapse_cart_holds()
        page = shopper.client.get("/cart/").content.decode()
        assert "not reserved any more" in page and "Check out" in page

        shopper.checkout(shipping)

        hold = _holds().get()
        assert hold.quantity == 2
        _assert_fresh(hold.expires_at)
        shopper.place()
        assert Order.objects.get().status == Order.Status.PENDING_PAYMENT

    def test_a_lapsed_hold_whose_stock_went_to_someone_else_stops_checkout(self, shopper, variant, shipping):
        shopper.add(variant, 2)
        _lapse_cart_holds()
        stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:OTHER", ttl=timedelta(minutes=5))

        response = shopper.checkout(shipping)

        assert response["Location"] == "/cart/"
        assert not _holds().exists()
        messages = [str(m) for m in shopper.client.get("/cart/").context["messages"]]
        assert "Only 1 of Linen Shirt left." in messages

    def test_a_guest_cart_merged_at_login_releases_its_hold_and_reserves_the_users_cart(self, client, variant):
        user = UserFactory(email="ann@example.com")
        own = Shopper(Client())
        own.client.force_login(user)
        own.add(variant, 1)
        user_cart = Cart.objects.get(user=user)
        guest = Shopper(client)
        guest.add(variant, 2)
        guest_cart = Cart.objects.get(user__isnull=True)
        assert availability([variant.pk])[variant.pk] == 0

        client.post("/accounts/login/", {"username": "ann@example.com", "password": "correct horse battery staple"})

        assert not Cart.objects.filter(pk=guest_cart.pk).exists()
        assert CartLine.objects.get(cart=user_cart).quantity == 3
        assert not _holds(guest_cart).exists()
        hold = _holds(user_cart).get()
        assert hold.quantity == 3
        _assert_fresh(hold.expires_at)
        assert availability([variant.pk])[variant.pk] == 0

    def test_a_merge_at_login_is_capped_at_what_is_left_for_the_shopper(self, client, variant):
        user = UserFactory(email="ann@example.com")
        own = Shopper(Client())
        own.client.force_login(user)
        own.add(variant, 2)
        _lapse_cart_holds()  # the user's hold ran out …
        stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:OTHER", ttl=timedelta(minutes=5))
        guest = Shopper(client)
        guest.add(variant, 1)  # … and the guest took one of the two units left

        response = client.post(
            "/accounts/login/?next=/cart/",
            {"username": "ann@example.com", "password": "correct horse battery staple"},
            follow=True,
        )

        assert CartLine.objects.get(cart__user=user).quantity == 2
        assert _holds().get().quantity == 2
        assert availability([variant.pk])[variant.pk] == 0
        assert "only 2 available, your cart now holds 2" in response.content.decode()

    def test_in_checkout_mode_adding_to_the_cart_reserves_nothing(self, settings, shopper, variant):
        settings.STOCK_RESERVE_ON = "checkout"

        shopper.add(variant, 2)

        assert not Reservation.objects.exists()
        assert availability([variant.pk])[variant.pk] == 3
        assert "data-countdown" not in shopper.client.get("/cart/").content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("racers,stock", [(2, 1), (10, 3)], ids=["two-for-the-last-unit", "ten-for-three"])
def test_shoppers_racing_to_add_the_last_units_to_their_carts_get_exactly_the_stock(racers, stock):
    variant = stocked_variant(on_hand=stock, price=Decimal("23.00"), product__title="Linen Shirt")
    shoppers = [Shopper(Client()) for _ in range(racers)]

    outcomes = run_together(racers, lambda i: shoppers[i].add(variant, 1))

    assert [o.error for o in outcomes] == [None] * racers
    responses = [o.value for o in outcomes]
    winners = [r for r in responses if r.status_code == 302]
    losers = [r for r in responses if r.status_code != 302]
    assert len(winners) == stock
    for response in losers:
        assert response.status_code == 200
        assert response.context["form"].errors["quantity"] == ["Linen Shirt is sold out."]
    assert CartLine.objects.count() == stock
    assert _holds().count() == stock
    assert availability([variant.pk])[variant.pk] == 0


class _StockRowLocked(threading.Thread):
    """Holds the variants' StockItem row locks (an open transaction) until told to let go."""

    def __init__(self, *variants):
        super().__init__(daemon=True)
        self.variants = variants
        self.locked, self.finish = threading.Event(), threading.Event()

    def run(self):
        try:
            with transaction.atomic():
                list(StockItem.objects.filter(variant__in=self.variants).order_by("pk").select_for_update())
                self.locked.set()
                self.finish.wait(10)
        finally:
            self.locked.set()
            connection.close()

    def __enter__(self):
        self.start()
        assert self.locked.wait(5)
        return self

    def __exit__(self, *exc):
        self.finish.set()
        self.join(10)


@pytest.mark.django_db(transaction=True)
def test_adding_to_the_cart_behind_a_held_stock_lock_answers_409_and_changes_nothing(settings):
    settings.STOCK_LOCK_TIMEOUT_MS = 200
    variant = stocked_variant(on_hand=3, product__title="Linen Shirt")
    shopper = Shopper(Client())

    with _StockRowLocked(variant):
        response = shopper.add(variant, 1)

    assert response.status_code == 409
    assert "Please try again" in response.content.decode()
    assert not CartLine.objects.exists() and not _holds().exists()
    assert shopper.add(variant, 1).status_code == 302  # once the lock is free
    assert _holds().get().quantity == 1


@pytest.mark.django_db(transaction=True)
def test_changing_the_cart_behind_a_held_stock_lock_answers_409_and_changes_nothing(settings):
    settings.STOCK_LOCK_TIMEOUT_MS = 200
    shirt = stocked_variant(on_hand=3, product__title="Linen Shirt")
    scarf = stocked_variant(on_hand=3, product__title="Wool Scarf")
    shopper = Shopper(Client())
    shopper.add(shirt, 1)
    shopper.add(scarf, 1)
    holds = set(_holds().values_list("pk", "variant_id", "quantity"))
    shirt_line = CartLine.objects.get(variant=shirt)

    with _StockRowLocked(shirt, scarf):
        update = shopper.client.post(_line_url(shirt_line), {"quantity": 2})
        remove = shopper.client.post(f"{_line_url(shirt_line)}remove/")  # re-reserves the scarf

    assert (update.status_code, remove.status_code) == (409, 409)
    assert "Please try again" in remove.content.decode()
    assert sorted(CartLine.objects.values_list("variant_id", "quantity")) == [(shirt.pk, 1), (scarf.pk, 1)]
    assert set(_holds().values_list("pk", "variant_id", "quantity")) == holds
