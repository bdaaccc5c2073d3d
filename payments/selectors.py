"""Reads of payments."""
from decimal import Decimal

from django.db.models import Sum

from .models import Payment, Refund


def payment_refundable_amount(payment: Payment) -> Decimal:
    """What is left to refund of `payment` (Decimal, its currency): the amount taken, less
    refunds made and refunds still waiting for the provider. Zero for a payment that took no
    money. payments.services.payment_refund checks it again under the payment's row lock."""
    if payment.status not in (Payment.Status.CAPTURED, Payment.Status.REJECTED):
        return Decimal("0")
    pending = payment.refunds.filter(status=Refund.Status.PENDING).aggregate(total=Sum("amount"))["total"]
    return payment.amount - payment.refunded_amount - (pending or Decimal("0"))
