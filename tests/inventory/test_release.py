from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Reservation
from inventory.selectors import availability
from inventory.services import StockLine, stock_release, stock_reserve
from tests.factories import stocked_variant

pytestmark = pytest.mark.django_db


def test_releasing_a_hold_makes_its_units_available_at_once():
    variant = stocked_variant(on_hand=3)
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:A", ttl=timedelta(minutes=15))

    assert stock_release(owner="order:A") == 1

    assert availability([variant.pk]) == {variant.pk: 3}
    assert Reservation.objects.get().status == Reservation.Status.RELEASED


def test_releasing_twice_is_harmless():
    variant = stocked_variant(on_hand=3)
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:A", ttl=timedelta(minutes=15))

    stock_release(owner="order:A")

    assert stock_release(owner="order:A") == 0
    assert availability([variant.pk]) == {variant.pk: 3}


def test_releasing_touches_only_the_owners_holds_and_marks_lapsed_ones_expired():
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:A", ttl=timedelta(minutes=15))
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="order:B", ttl=timedelta(minutes=15))
    stock_reserve(lines=[StockLine(variant.pk, 1)], owner="order:A", ttl=timedelta(minutes=15))
    lapsed = Reservation.objects.filter(owner="order:A").order_by("pk").first()
    Reservation.objects.filter(pk=lapsed.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert stock_release(owner="order:A") == 1

    lapsed.refresh_from_db()
    assert lapsed.status == Reservation.Status.EXPIRED
    assert Reservation.objects.get(owner="order:B").status == Reservation.Status.ACTIVE
    assert availability([variant.pk]) == {variant.pk: 3}
