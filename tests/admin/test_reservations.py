"""Reservations in the admin: a read-only list and one action, "Release selected reservations"."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from inventory.models import Reservation
from inventory.selectors import availability
from inventory.services import StockLine, stock_commit, stock_reserve
from tests.factories import UserFactory, stocked_variant

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:inventory_reservation_changelist")


def reserve(variant, owner: str, quantity: int = 1, ttl=timedelta(minutes=15)) -> Reservation:
    return stock_reserve(lines=[StockLine(variant.pk, quantity)], owner=owner, ttl=ttl)[0]


def release(client, reservations):
    return client.post(
        CHANGELIST,
        {"action": "release_reservations", "_selected_action": [r.pk for r in reservations]},
        follow=True,
    )


def statuses() -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for owner, status in Reservation.objects.order_by("owner", "pk").values_list("owner", "status"):
        result.setdefault(owner, []).append(status)
    return result


def test_release_action_releases_only_the_selected_owners_reservations(staff_client):
    shirt, mug = stocked_variant(on_hand=5), stocked_variant(on_hand=5)
    a_shirt = reserve(shirt, "order:AAAA")
    reserve(mug, "order:AAAA")  # not selected, but the same owner's hold
    b_mug = reserve(mug, "checkout:bbbb", quantity=2)
    reserve(shirt, "checkout:cccc", quantity=3)

    response = release(staff_client, [a_shirt, b_mug])

    assert statuses() == {
        "order:AAAA": ["released", "released"],
        "checkout:bbbb": ["released"],
        "checkout:cccc": ["active"],
    }
    assert availability([shirt.pk, mug.pk]) == {shirt.pk: 2, mug.pk: 5}
    texts = [str(m) for m in response.context["messages"]]
    assert texts[0] == "Released 3 live reservation(s) of 2 owner(s): checkout:bbbb, order:AAAA."
    assert texts[1].startswith("1 of them held stock for an order")


def test_release_action_leaves_committed_reservations_alone(staff_client):
    variant = stocked_variant(on_hand=5)
    committed = reserve(variant, "order:PAID")
    stock_commit(owner="order:PAID", reference="PAID")

    response = release(staff_client, [committed])

    assert Reservation.objects.get().status == Reservation.Status.COMMITTED
    assert "Released 0 live reservation(s) of 0 owner(s)" in " ".join(str(m) for m in response.context["messages"])


def test_release_action_marks_lapsed_reservations_expired_not_released(staff_client):
    variant = stocked_variant(on_hand=5)
    lapsed = reserve(variant, "checkout:old", ttl=timedelta(seconds=-1))

    release(staff_client, [lapsed])

    assert Reservation.objects.get().status == Reservation.Status.EXPIRED


def test_reservations_list_shows_which_are_live(staff_client):
    variant = stocked_variant(on_hand=5)
    reserve(variant, "checkout:live")
    reserve(variant, "checkout:lapsed", ttl=timedelta(seconds=-1))
    response = staff_client.get(CHANGELIST)
    cl = response.context["cl"]
    live = {r.owner: cl.model_admin.live(r) for r in cl.result_list}
    assert live == {"checkout:live": True, "checkout:lapsed": False}


def test_reservations_can_be_searched_by_owner_and_sku(staff_client):
    shirt, mug = stocked_variant(on_hand=5), stocked_variant(on_hand=5)
    reserve(shirt, "order:AAAA")
    reserve(mug, "checkout:bbbb")
    by_owner = staff_client.get(CHANGELIST, {"q": "AAAA"}).context["cl"].result_list
    by_sku = staff_client.get(CHANGELIST, {"q": mug.sku}).context["cl"].result_list
    assert [r.owner for r in by_owner] == ["order:AAAA"]
    assert [r.owner for r in by_sku] == ["checkout:bbbb"]


def test_staff_who_may_only_view_reservations_cannot_release_them(client):
    variant = stocked_variant(on_hand=5)
    reservation = reserve(variant, "order:AAAA")
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_reservation"))
    client.force_login(viewer)

    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert "release_reservations" not in response.content.decode()
    release(client, [reservation])
    assert Reservation.objects.get().status == Reservation.Status.ACTIVE


def test_a_reservation_cannot_be_edited_in_the_admin(staff_client):
    variant = stocked_variant(on_hand=5)
    reservation = reserve(variant, "order:AAAA", quantity=2)
    url = reverse("admin:inventory_reservation_change", args=[reservation.pk])
    staff_client.post(url, {"quantity": "5", "status": "released"})
    reservation.refresh_from_db()
    assert (reservation.quantity, reservation.status) == (2, Reservation.Status.ACTIVE)
