"""Fixtures for the back office: a staff superuser, a logged-in client, and a shop with one
of everything so that every admin page has a row to show."""

from datetime import timedelta
from decimal import Decimal

import pytest

from cart.models import Cart, CartLine
from catalog.models import ProductImage, ProductVariant
from catalog.services import review_create
from checkout.models import TaxRate, Voucher, VoucherRedemption
from inventory.models import BackInStockRequest
from inventory.services import StockLine, stock_reserve
from orders.models import Order, SweepRun
from orders.services import LineSnapshot, ShippingDetails, order_create, sweep_run
from payments.models import Payment
from payments.services import payment_refund
from tests.factories import ShippingMethodFactory, UserFactory, stocked_variant
from tests.payments.helpers import pay_by_dummy_webhook


@pytest.fixture
def staff(db):
    return UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def place_order(
    variant: ProductVariant, *, quantity: int = 1, token: str | None = None, email="buyer@example.com"
) -> Order:
    """An order in pending_payment holding a reservation, as checkout places it."""
    order, _ = order_create(
        checkout_token=token or f"checkout-{variant.sku}-{Order.objects.count()}",
        lines=[
            LineSnapshot(
                variant_id=variant.pk,
                product_title=variant.product.title,
                variant_title=variant.title,
                sku=variant.sku,
                unit_price=variant.price,
                quantity=quantity,
            )
        ],
        shipping=ShippingDetails(
            email=email,
            name="Ann Buyer",
            line1="1 Main St",
            line2="",
            city="Springfield",
            postal_code="12345",
            country="US",
        ),
        shipping_method_name="Standard",
        shipping_price=Decimal("5.00"),
        currency="USD",
        reservation_ttl=timedelta(minutes=15),
    )
    return order


def pay_and_refund_part(order: Order, *, refund: Decimal = Decimal("1.00")) -> Payment:
    """Pays `order` through the dummy gateway's webhook path (a payment and a webhook event)
    and refunds `refund` of it (a refund)."""
    payment = pay_by_dummy_webhook(order)
    payment_refund(payment=payment, amount=refund, reason="Scratched on arrival")
    payment.refresh_from_db()
    return payment


def populate(n: int = 1) -> None:
    """Adds `n` rows of everything the admin lists: variants with stock and ledger rows,
    reservations, images, orders with lines and events, payments with refunds and webhook
    events, carts with lines, sweep runs, back-in-stock requests."""
    for _ in range(n):
        variant = stocked_variant(on_hand=10)
        ProductImage.objects.create(
            product=variant.product,
            source_url="https://example.com/a.jpg",
            alt="A picture",
            thumbnails={"200": f"products/{variant.product.handle}/a-200.webp"},
        )
        stock_reserve(lines=[StockLine(variant.pk, 1)], owner=f"checkout:{variant.sku}", ttl=timedelta(minutes=30))
        order = place_order(variant)
        voucher = Voucher.objects.create(code=f"CODE-{variant.sku}", kind="fixed", value=Decimal("1.00"), used_count=1)
        VoucherRedemption.objects.create(voucher=voucher, order=order, email=order.email)
        pay_and_refund_part(order)
        cart = Cart.objects.create(user=UserFactory())
        CartLine.objects.create(cart=cart, variant=variant, quantity=2)
        sweep_run(trigger=SweepRun.Trigger.COMMAND)
        BackInStockRequest.objects.create(variant=variant, email=f"waiting-{variant.sku}@example.com")
        review_create(product=variant.product, user=UserFactory(), rating=4, text="Does the job.")
    ShippingMethodFactory()
    TaxRate.objects.get_or_create(country="GB", defaults={"name": "VAT", "rate": Decimal("0.2000")})


@pytest.fixture
def shop(db):
    populate(1)
