"""40 API clients, each with its own guest cart and checkout, race through place-order for
the last 5 units of a variant: exactly 5 orders, every other client a 409 insufficient_stock.
Real threads against PostgreSQL, released together by a barrier."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from inventory.models import Reservation
from orders.models import Order
from tests.factories import ShippingMethodFactory, stocked_variant

CLIENTS = 40
UNITS = 5
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 Analytical Row",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_forty_clients_race_for_the_last_five_units_and_five_win(settings):
    # Why a longer lock wait: 40 transactions queue on one stock row; this test is about
    # never overselling, not about the busy answer (tested on its own).
    settings.STOCK_LOCK_TIMEOUT_MS = 30_000
    variant = stocked_variant(on_hand=UNITS, price=Decimal("23.00"))
    method = ShippingMethodFactory(price=Decimal("5.00"))

    prepared = []
    for n in range(CLIENTS):
        client = APIClient(REMOTE_ADDR=f"198.51.100.{n + 1}")  # 40 shoppers, 40 addresses
        response = client.post("/api/v1/cart/items/", {"variant_id": variant.pk, "quantity": 1}, format="json")
        assert response.status_code == 201, response.content
        token = response["X-Cart-Token"]
        checkout = client.post("/api/v1/checkout/", HTTP_X_CART_TOKEN=token).json()
        response = client.patch(
            f"/api/v1/checkout/{checkout['id']}/",
            {**ADDRESS, "email": f"buyer{n}@example.com", "shipping_method": method.pk},
            format="json",
            HTTP_X_CART_TOKEN=token,
        )
        assert response.status_code == 200, response.content
        prepared.append((client, token, response.json()))

    barrier = threading.Barrier(CLIENTS)
    results: list = [None] * CLIENTS

    def buy(index: int) -> None:
        client, token, checkout = prepared[index]
        try:
            barrier.wait()
            response = client.post(
                f"/api/v1/checkout/{checkout['id']}/place-order/",
                {"fingerprint": checkout["fingerprint"]},
                format="json",
                HTTP_X_CART_TOKEN=token,
                HTTP_IDEMPOTENCY_KEY=f"race-{index}",
            )
            results[index] = (response.status_code, response.json())
        except Exception as exc:  # noqa: BLE001 - reported below
            results[index] = (None, repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=buy, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == UNITS, results
    losers = [body for status, body in results if status != 201]
    assert len(losers) == CLIENTS - UNITS
    assert all(status == 409 for status, _ in results if status != 201), results
    assert {body["error"]["code"] for body in losers} == {"insufficient_stock"}, losers
    assert Order.objects.count() == UNITS
    held = sum(
        Reservation.objects.filter(variant=variant, status=Reservation.Status.ACTIVE).values_list("quantity", flat=True)
    )
    assert held == UNITS
