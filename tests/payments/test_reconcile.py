"""Reconciliation (webhooks get lost): payments still pending after RECONCILE_AFTER_MINUTES
are asked about at their provider and the answer applied; by `manage.py reconcile_payments`
and by Celery beat. The dummy gateway has no provider to ask: its payments stay pending."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from config.celery_app import app as celery_app
from orders.models import Order
from payments.models import Payment
from payments.services import ReconcileResult, payment_capture, payment_fail, payment_start, payments_reconcile
from payments.tasks import reconcile_payments
from tests.factories import stocked_variant
from tests.orders.helpers import place_order

pytestmark = pytest.mark.django_db

NO_REFUNDS = "Checked 0 pending refund(s): 0 settled (0 succeeded, 0 failed), 0 still pending, 0 error(s).\n"


def pending_payment(*, minutes_old: int) -> Payment:
    payment, _action = payment_start(order=place_order((stocked_variant(on_hand=5), 1)), gateway="dummy")
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_old))
    payment.refresh_from_db()
    return payment


def test_reconcile_leaves_dummy_payments_pending_and_reports_them():
    old = pending_payment(minutes_old=30)

    result = payments_reconcile(older_than=timedelta(minutes=15))

    assert result == ReconcileResult(checked=1, still_pending=1)
    old.refresh_from_db()
    assert old.status == Payment.Status.PENDING
    assert Order.objects.get(pk=old.order_id).status == Order.Status.PENDING_PAYMENT


def test_reconcile_asks_only_about_payments_pending_longer_than_the_cutoff():
    pending_payment(minutes_old=30)
    pending_payment(minutes_old=5)
    pending_payment(minutes_old=30)
    captured = payment_capture(payment=pending_payment(minutes_old=30))
    failed = payment_fail(payment=pending_payment(minutes_old=30), reason="declined")

    result = payments_reconcile(older_than=timedelta(minutes=15))

    assert result == ReconcileResult(checked=2, still_pending=2)
    assert Payment.objects.get(pk=captured.pk).status == Payment.Status.CAPTURED
    assert Payment.objects.get(pk=failed.pk).status == Payment.Status.FAILED


def test_a_payment_that_cannot_be_asked_about_is_counted_as_an_error_and_the_others_go_on(settings):
    pending_payment(minutes_old=30)
    pending_payment(minutes_old=30)
    settings.PAYMENT_GATEWAYS = []  # its gateway was switched off while payments were open

    result = payments_reconcile(older_than=timedelta(minutes=15))

    assert result == ReconcileResult(checked=2, errors=2)
    assert set(Payment.objects.values_list("status", flat=True)) == {Payment.Status.PENDING}


def test_the_command_prints_what_it_found_and_exits_0(capsys):
    pending_payment(minutes_old=30)
    pending_payment(minutes_old=1)

    call_command("reconcile_payments", "--older-than", "0")

    assert (
        capsys.readouterr().out
        == "Checked 2 payment(s): 0 captured, 0 failed, 2 still pending, 0 error(s).\n" + NO_REFUNDS
    )


def test_the_command_defaults_to_reconcile_after_minutes(settings, capsys):
    settings.RECONCILE_AFTER_MINUTES = 20
    pending_payment(minutes_old=30)
    pending_payment(minutes_old=10)

    call_command("reconcile_payments")

    assert (
        capsys.readouterr().out
        == "Checked 1 payment(s): 0 captured, 0 failed, 1 still pending, 0 error(s).\n" + NO_REFUNDS
    )


def test_the_command_exits_1_when_a_payment_could_not_be_checked(settings, capsys):
    pending_payment(minutes_old=30)
    settings.PAYMENT_GATEWAYS = []

    with pytest.raises(CommandError) as exc:
        call_command("reconcile_payments", "--older-than", "15")

    assert exc.value.returncode == 1
    assert (
        capsys.readouterr().out
        == "Checked 1 payment(s): 0 captured, 0 failed, 0 still pending, 1 error(s).\n" + NO_REFUNDS
    )


def test_the_command_refuses_a_negative_age():
    with pytest.raises(CommandError, match="0 or more"):
        call_command("reconcile_payments", "--older-than", "-1")


def test_the_beat_task_reconciles_with_the_default_age(settings):
    settings.RECONCILE_AFTER_MINUTES = 15
    pending_payment(minutes_old=30)

    assert reconcile_payments.delay().get() == {
        "checked": 1,
        "captured": 0,
        "failed": 0,
        "still_pending": 1,
        "errors": 0,
        "refunds_checked": 0,
        "refunds_succeeded": 0,
        "refunds_failed": 0,
        "refunds_still_pending": 0,
        "refund_errors": 0,
    }


def test_beat_runs_reconciliation_every_interval_under_a_task_name_that_resolves():
    entry = django_settings.CELERY_BEAT_SCHEDULE["reconcile-payments"]
    assert entry["schedule"] == timedelta(minutes=django_settings.RECONCILE_INTERVAL_MINUTES)
    # What a worker does at start: import every app's tasks; beat sends names, not functions.
    celery_app.loader.import_default_modules()
    assert entry["task"] == reconcile_payments.name == "payments.tasks.reconcile_payments"
    assert celery_app.tasks[entry["task"]].name == reconcile_payments.name
    for name, scheduled in django_settings.CELERY_BEAT_SCHEDULE.items():
        assert scheduled["task"] in celery_app.tasks, name
