"""The "Adjust stock" page of a variant: the only way staff change on hand."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.urls import reverse

from inventory.models import Reservation, StockItem, StockMovement
from inventory.services import StockLine, stock_reserve
from tests.factories import UserFactory, stocked_variant

pytestmark = pytest.mark.django_db


def adjust_url(variant) -> str:
    return reverse("admin:catalog_productvariant_adjust_stock", args=[variant.pk])


def on_hand(variant) -> int:
    return StockItem.objects.get(variant=variant).on_hand


def ledger_rows(variant) -> int:
    return StockMovement.objects.filter(variant=variant).count()


def test_it_shows_the_form_with_current_figures(staff_client):
    variant = stocked_variant(on_hand=7)
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="checkout:a", ttl=timedelta(minutes=5))
    response = staff_client.get(adjust_url(variant))
    assert response.status_code == 200
    assert response.context["original"].on_hand == 7
    assert response.context["original"].reserved == 2
    assert response.context["original"].available == 5


def test_a_receipt_writes_exactly_one_ledger_row_and_raises_on_hand(staff_client, staff):
    variant = stocked_variant(on_hand=5)
    response = staff_client.post(
        adjust_url(variant),
        {"quantity": "12", "reason": "receipt", "reference": "PO-4711", "note": "Pallet 3"},
    )
    assert response.status_code == 302
    assert response.url == reverse("admin:catalog_productvariant_change", args=[variant.pk])
    assert on_hand(variant) == 17
    assert ledger_rows(variant) == 2
    movement = StockMovement.objects.filter(variant=variant).first()  # newest first
    assert (movement.quantity, movement.reason, movement.actor, movement.reference, movement.note) == (
        12,
        "receipt",
        staff,
        "PO-4711",
        "Pallet 3",
    )
    assert movement.on_hand_after == 17


def test_a_manual_adjustment_may_remove_units(staff_client):
    variant = stocked_variant(on_hand=5)
    response = staff_client.post(adjust_url(variant), {"quantity": "-5", "reason": "adjustment"}, follow=True)
    assert on_hand(variant) == 0
    assert ledger_rows(variant) == 2
    assert "0 on hand now" in " ".join(str(m) for m in response.context["messages"])


@pytest.mark.parametrize(
    "data",
    [
        {"quantity": "0", "reason": "adjustment"},
        {"quantity": "abc", "reason": "adjustment"},
        {"quantity": "", "reason": "adjustment"},
        {"quantity": "1.5", "reason": "receipt"},
        {"quantity": "1000001", "reason": "receipt"},
        {"quantity": "-1000001", "reason": "adjustment"},
        {"quantity": "99999999999999999999", "reason": "receipt"},
        {"quantity": "-6", "reason": "adjustment"},  # more than on hand
        {"quantity": "5"},  # no reason
        {"quantity": "5", "reason": ""},
        {"quantity": "5", "reason": "sale"},  # not a reason staff may pick
        {"quantity": "5", "reason": "import"},
        {"quantity": "-1", "reason": "receipt"},  # a receipt brings units in
        {"quantity": "5", "reason": "receipt", "reference": "x" * 256},
    ],
)
def test_bad_input_is_a_form_error_and_changes_nothing(staff_client, data):
    variant = stocked_variant(on_hand=5)
    response = staff_client.post(adjust_url(variant), data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert on_hand(variant) == 5
    assert ledger_rows(variant) == 1


def test_units_held_by_live_reservations_cannot_be_removed(staff_client):
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 4)], owner="order:ABC", ttl=timedelta(minutes=15))
    response = staff_client.post(adjust_url(variant), {"quantity": "-2", "reason": "adjustment"})
    assert response.status_code == 200
    assert "1 left, 2 wanted" in " ".join(response.context["form"].errors["quantity"])
    assert on_hand(variant) == 5
    assert Reservation.objects.get().status == Reservation.Status.ACTIVE


def test_units_held_by_expired_reservations_can_be_removed(staff_client):
    variant = stocked_variant(on_hand=5)
    stock_reserve(lines=[StockLine(variant.pk, 4)], owner="order:ABC", ttl=timedelta(seconds=-1))
    response = staff_client.post(adjust_url(variant), {"quantity": "-5", "reason": "adjustment"})
    assert response.status_code == 302
    assert on_hand(variant) == 0


def test_a_variant_without_stock_row_can_receive_stock(staff_client):
    variant = stocked_variant(on_hand=0)
    response = staff_client.post(adjust_url(variant), {"quantity": "3", "reason": "receipt"})
    assert response.status_code == 302
    assert on_hand(variant) == 3


def test_an_unknown_variant_redirects_to_the_admin_index_with_a_message(staff_client):
    response = staff_client.get(reverse("admin:catalog_productvariant_adjust_stock", args=[999999]))
    assert response.status_code == 302


def test_staff_without_the_stock_permission_cannot_adjust(client):
    variant = stocked_variant(on_hand=5)
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_productvariant"))
    client.force_login(clerk)
    change_page = client.get(reverse("admin:catalog_productvariant_change", args=[variant.pk]))
    assert change_page.status_code == 200
    assert adjust_url(variant) not in change_page.content.decode()
    assert client.get(adjust_url(variant)).status_code == 403
    assert client.post(adjust_url(variant), {"quantity": "5", "reason": "receipt"}).status_code == 403
    assert on_hand(variant) == 5


def test_staff_with_the_stock_permission_can_adjust(client):
    variant = stocked_variant(on_hand=5)
    keeper = UserFactory(is_staff=True)
    keeper.user_permissions.add(
        Permission.objects.get(codename="view_productvariant"),
        Permission.objects.get(codename="change_stockitem"),
    )
    client.force_login(keeper)
    assert (
        adjust_url(variant)
        in client.get(reverse("admin:catalog_productvariant_change", args=[variant.pk])).content.decode()
    )
    assert client.post(adjust_url(variant), {"quantity": "5", "reason": "receipt"}).status_code == 302
    assert on_hand(variant) == 10


@pytest.mark.django_db(transaction=True)
def test_a_locked_stock_row_is_a_polite_form_error_not_a_hang(client, settings):
    settings.STOCK_LOCK_TIMEOUT_MS = 100
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    variant = stocked_variant(on_hand=5)
    locked, done = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                StockItem.objects.select_for_update().get(variant=variant)
                locked.set()
                done.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        response = client.post(adjust_url(variant), {"quantity": "1", "reason": "receipt"})
    finally:
        done.set()
        holder.join()
    assert response.status_code == 200
    assert "try again" in " ".join(response.context["form"].non_field_errors())
    assert on_hand(variant) == 5
    assert ledger_rows(variant) == 1
