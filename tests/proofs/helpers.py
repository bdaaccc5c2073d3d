"""Checks shared by the proofs."""

from __future__ import annotations

import io

from django.core.management import call_command, get_commands
from django.core.management.base import CommandError

from tests.inventory.helpers import assert_stock_consistent


def check_stock_command_exists() -> bool:
    return "check_stock" in get_commands()


def assert_check_stock_passes() -> str:
    """The operator's audit agrees with the ledger: `manage.py check_stock` exits cleanly.

    The ledger invariant (on_hand == Σ StockMovement, on_hand >= 0, for every variant) is
    always asserted directly as well, so a missing command never turns the check into a
    silent pass: only the call to the command itself depends on it being installed.
    Returns the command's output ("" when the command does not exist).
    """
    assert_stock_consistent()
    if not check_stock_command_exists():
        return ""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check_stock", stdout=out, stderr=err)
    except CommandError as exc:
        raise AssertionError(f"check_stock failed: {exc}\n{out.getvalue()}{err.getvalue()}") from exc
    except SystemExit as exc:
        assert exc.code in (0, None), f"check_stock exited {exc.code}:\n{out.getvalue()}{err.getvalue()}"
    return out.getvalue()


# -- paying, as the dummy gateway's provider would report it ----------------------------------


def start_payment(order):
    """The shopper picks the dummy gateway for `order`: a pending Payment."""
    from payments.services import payment_start

    payment, _action = payment_start(order=order, gateway="dummy")
    return payment


def provider_reports_success(payment):
    """The provider says it took the money for `payment` (the full amount, in minor units, as
    the dummy gateway reports it); returns the payment as recorded afterwards: captured, or
    rejected when the shop cannot honour it."""
    from kernel.money import to_minor
    from payments.services import payment_capture

    payment_capture(
        payment=payment,
        provider_payment_id=payment.reference,
        amount_minor=to_minor(payment.amount, payment.currency),
        currency=payment.currency,
    )
    payment.refresh_from_db()
    return payment
