"""Low-stock alerts: one email to staff each time a variant's availability falls to its
threshold or below, however many sales take it there; re-armed once stock comes back."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction

from inventory.models import StockItem, StockMovement
from inventory.services import (
    StockLine,
    reservations_expire,
    stock_adjust,
    stock_commit,
    stock_release,
    stock_reserve,
    stock_threshold_set,
)
from tests.factories import UserFactory, stocked_variant
from tests.inventory.helpers import run_together

TTL = timedelta(minutes=15)
STAFF = "buyer-team@example.com"


@pytest.fixture(autouse=True)
def _recipients(settings):
    settings.STAFF_ALERT_EMAILS = [STAFF]


def watched_variant(*, on_hand: int, threshold: int, **kwargs):
    variant = stocked_variant(on_hand=on_hand, **kwargs)
    stock_threshold_set(variant=variant, low_stock_threshold=threshold)
    return variant


def alerted(variant) -> bool:
    return StockItem.objects.get(variant=variant).low_stock_alerted_at is not None


def reserve(variant, quantity: int, owner: str):
    return stock_reserve(lines=[StockLine(variant.pk, quantity)], owner=owner, ttl=TTL)


@pytest.mark.django_db
def test_the_sale_that_reaches_the_threshold_emails_staff_and_later_sales_do_not(
    django_capture_on_commit_callbacks,
):
    variant = watched_variant(on_hand=10, threshold=3, sku="MUG-BLUE")

    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 6, "order:A")
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 1, "order:B")
        stock_commit(owner="order:B", reference="B")
    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 2, "order:C")

    [email] = mail.outbox
    assert email.to == [STAFF]
    assert "MUG-BLUE" in email.subject
    assert "3 available" in email.subject
    assert "/admin/catalog/productvariant/" in email.body
    assert alerted(variant)


@pytest.mark.django_db
def test_without_configured_addresses_the_active_staff_are_emailed(settings, django_capture_on_commit_callbacks):
    settings.STAFF_ALERT_EMAILS = []
    UserFactory(email="ops@example.com", is_staff=True)
    UserFactory(email="gone@example.com", is_staff=True, is_active=False)
    UserFactory(email="shopper@example.com")
    variant = watched_variant(on_hand=2, threshold=1)

    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 1, "order:A")

    [email] = mail.outbox
    assert email.to == ["ops@example.com"]


@pytest.mark.django_db
def test_a_negative_adjustment_that_reaches_the_threshold_alerts(django_capture_on_commit_callbacks):
    variant = watched_variant(on_hand=10, threshold=5)

    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant=variant, quantity=-6, reason=StockMovement.Reason.ADJUSTMENT, note="damaged")

    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_receipt_above_the_threshold_rearms_the_alert_for_the_next_dip(
    django_capture_on_commit_callbacks,
):
    variant = watched_variant(on_hand=5, threshold=2)
    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 3, "order:A")
        stock_commit(owner="order:A", reference="A")
    assert alerted(variant)

    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant=variant, quantity=10, reason=StockMovement.Reason.RECEIPT)
    assert not alerted(variant)
    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 10, "order:B")

    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_a_receipt_that_stays_at_or_below_the_threshold_does_not_rearm(
    django_capture_on_commit_callbacks,
):
    variant = watched_variant(on_hand=3, threshold=5)
    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 1, "order:A")
        stock_adjust(variant=variant, quantity=1, reason=StockMovement.Reason.RECEIPT)
        reserve(variant, 1, "order:B")

    assert len(mail.outbox) == 1
    assert alerted(variant)


@pytest.mark.django_db
def test_releasing_a_reservation_above_the_threshold_rearms_the_alert(
    django_capture_on_commit_callbacks,
):
    variant = watched_variant(on_hand=6, threshold=3)
    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 4, "checkout:abandoned")
    assert alerted(variant)

    with django_capture_on_commit_callbacks(execute=True):
        stock_release(owner="checkout:abandoned")

    assert not alerted(variant)


@pytest.mark.django_db
def test_releasing_and_reserving_again_in_one_transaction_does_not_alert_twice(
    django_capture_on_commit_callbacks,
):
    # What a cart that holds its stock does on every change: its hold never really lapses.
    variant = watched_variant(on_hand=6, threshold=3)
    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 4, "cart:1")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        stock_release(owner="cart:1")
        reserve(variant, 4, "cart:1")

    assert len(mail.outbox) == 1
    assert alerted(variant)


@pytest.mark.django_db
def test_the_sweep_rearms_a_variant_whose_reservations_lapsed_on_their_own(
    django_capture_on_commit_callbacks,
):
    variant = watched_variant(on_hand=6, threshold=3)
    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 4, "checkout:abandoned")
    # The hold lapses with no service running: availability is back to 6.
    variant.reservations.update(expires_at=variant.reservations.get().created_at)

    reservations_expire()
    assert not alerted(variant)
    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 4, "order:B")

    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_a_rolled_back_sale_sends_nothing_and_claims_nothing(django_capture_on_commit_callbacks):
    variant = watched_variant(on_hand=3, threshold=2)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        reserve(variant, 2, "order:A")
        raise RuntimeError("the order could not be written")

    assert callbacks == []
    assert mail.outbox == []
    assert not alerted(variant)


@pytest.mark.django_db
def test_a_variant_without_a_threshold_never_alerts(django_capture_on_commit_callbacks):
    variant = stocked_variant(on_hand=2)

    with django_capture_on_commit_callbacks(execute=True):
        reserve(variant, 2, "order:A")

    assert mail.outbox == []


@pytest.mark.django_db
def test_clearing_the_threshold_clears_the_claim():
    variant = watched_variant(on_hand=1, threshold=1)
    reserve(variant, 1, "order:A")
    assert alerted(variant)

    stock_threshold_set(variant=variant, low_stock_threshold=None)

    assert not alerted(variant)


@pytest.mark.django_db
def test_a_threshold_below_one_is_refused():
    with pytest.raises(ValueError):
        stock_threshold_set(variant=stocked_variant(on_hand=1), low_stock_threshold=0)


@pytest.mark.django_db(transaction=True)
def test_concurrent_sales_crossing_the_threshold_together_send_exactly_one_email():
    variant = watched_variant(on_hand=10, threshold=8)
    buyers = 6

    def buy(i):
        # A whole sale, each in its own transaction and connection: reserve, then commit.
        owner = f"order:{i}"
        stock_reserve(lines=[StockLine(variant.pk, 1)], owner=owner, ttl=TTL)
        stock_commit(owner=owner, reference=owner)

    outcomes = run_together(buyers, buy)

    assert [o.error for o in outcomes] == [None] * buyers
    assert StockItem.objects.get(variant=variant).on_hand == 4
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [STAFF]
