"""The stock tier guards what takes stock: Place order and paying, and adding to the cart
when the cart itself holds stock (STOCK_RESERVE_ON=cart). A shopper's ordinary cart edits
(adding, changing, removing lines) count in the general tier only, so one who edits the cart
50 times still checks out; a flood of Place order attempts is still stopped.

The tiers are the defaults of config/settings/base.py (tests/ratelimit/conftest.py sets them;
test_the_defaults_are_the_ones_sized_here reads them from the settings themselves)."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from cart.models import CartLine
from orders.models import Order
from tests.factories import stocked_variant
from tests.ratelimit.conftest import assert_limited

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
PLACE = "/checkout/place/"


def _line_id(variant) -> int:
    return CartLine.objects.get(variant=variant).pk


def _edit_the_cart_fifty_times(shopper, first, second) -> None:
    """20 additions, 20 quantity changes and 10 removals, none refused."""
    for _ in range(10):
        assert shopper.add(first).status_code == 302
        for quantity in (2, 3):
            response = shopper.client.post(f"/cart/lines/{_line_id(first)}/", {"quantity": quantity})
            assert response.status_code == 302
        assert shopper.client.post(f"/cart/lines/{_line_id(first)}/remove/").status_code == 302
        assert shopper.add(second).status_code == 302


@pytest.mark.parametrize("reserve_on, stock_rate", [("checkout", "20/15m"), ("cart", "60/15m")])
def test_a_shopper_who_edits_the_cart_fifty_times_still_places_and_pays(
    shopper, variant, shipping, settings, reserve_on, stock_rate
):
    settings.STOCK_RESERVE_ON = reserve_on
    settings.RATELIMIT_STOCK = stock_rate
    scarf = stocked_variant(on_hand=100, price=Decimal("15.00"), product__title="Wool Scarf")
    _edit_the_cart_fifty_times(shopper, variant, scarf)
    assert shopper.checkout(shipping).status_code == 302
    placed = shopper.place()
    assert placed.status_code == 302, placed.content.decode()[:500]
    order = Order.objects.get()
    assert [(line.variant_id, line.quantity) for line in order.lines.all()] == [(scarf.pk, 10)]
    assert shopper.pay(placed).status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_a_shopper_whose_cart_holds_stock_adds_fifty_times_and_still_checks_out(shopper, variant, shipping, settings):
    settings.STOCK_RESERVE_ON = "cart"
    settings.RATELIMIT_STOCK = "60/15m"
    for _ in range(50):
        assert shopper.add(variant).status_code == 302
    assert shopper.checkout(shipping).status_code == 302
    placed = shopper.place()
    assert placed.status_code == 302
    assert shopper.pay(placed).status_code == 302
    assert Order.objects.get().status == Order.Status.PAID


def test_the_stock_tier_stops_a_flood_of_place_order_attempts(shopper, variant, shipping):
    """20 in 15 minutes from one address (the general tier's 200 is far off)."""
    shopper.add(variant)
    shopper.checkout(shipping)
    for _ in range(20):
        assert shopper.client.post(PLACE, {"fingerprint": "stale"}).status_code != 429
    response = shopper.client.post(PLACE, {"fingerprint": shopper.fingerprint()})
    assert_limited(response)
    assert not Order.objects.exists()


def test_paying_counts_in_the_stock_tier(shopper, variant, shipping, settings):
    settings.RATELIMIT_STOCK = "2/15m"
    placed = shopper.buy(variant, shipping)  # the first stock request
    pay_url = placed["Location"]
    assert shopper.client.post(pay_url, {"gateway": "dummy"}).status_code == 302
    assert_limited(shopper.client.post(pay_url, {"gateway": "dummy"}))


def test_adding_to_the_cart_takes_no_stock_and_counts_in_general_only(shopper, variant, settings):
    settings.STOCK_RESERVE_ON = "checkout"
    settings.RATELIMIT_STOCK = "2/15m"
    settings.RATELIMIT_GENERAL = "5/15m"
    for _ in range(5):
        assert shopper.add(variant).status_code == 302
    assert_limited(shopper.add(variant))  # the general tier's sixth


def test_adding_to_a_cart_that_holds_stock_counts_in_the_stock_tier(shopper, variant, settings):
    settings.STOCK_RESERVE_ON = "cart"
    settings.RATELIMIT_STOCK = "3/15m"
    for _ in range(3):
        assert shopper.add(variant).status_code == 302
    response = shopper.add(variant)
    assert_limited(response)
    assert response["Content-Type"].startswith("text/html")
    assert CartLine.objects.get().quantity == 3


@pytest.mark.parametrize("reserve_on", ["checkout", "cart"])
def test_changing_and_removing_lines_count_in_general_only(shopper, variant, settings, reserve_on):
    settings.STOCK_RESERVE_ON = reserve_on
    settings.RATELIMIT_STOCK = "1/15m"
    shopper.add(variant)  # in cart mode: the one stock request allowed
    line_id = _line_id(variant)
    for quantity in (2, 3, 4, 5):
        assert shopper.client.post(f"/cart/lines/{line_id}/", {"quantity": quantity}).status_code == 302
    assert shopper.client.post(f"/cart/lines/{line_id}/remove/").status_code == 302
    assert not CartLine.objects.exists()


@pytest.mark.parametrize("reserve_on, stock_rate", [("checkout", "20/15m"), ("cart", "60/15m")])
def test_the_defaults_are_the_ones_sized_here(reserve_on, stock_rate):
    """What config/settings/base.py makes of an environment that sets no rate."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATELIMIT_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.local", STOCK_RESERVE_ON=reserve_on)
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.RATELIMIT_GENERAL, s.RATELIMIT_STOCK]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["200/15m", stock_rate]
