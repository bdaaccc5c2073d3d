"""Start-up checks of PAYMENT_GATEWAYS (payments.apps.PaymentsConfig.ready → check_gateways):
a misconfiguration stops the shop with a clear message instead of failing at the first
shopper's payment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from payments.gateways import check_gateways, enabled_gateways

ROOT = Path(__file__).resolve().parents[2]


def test_the_dummy_gateway_is_fine_outside_production(settings):
    settings.IS_PRODUCTION = False
    settings.PAYMENT_GATEWAYS = ["dummy"]

    check_gateways()

    assert [gateway.name for gateway in enabled_gateways()] == ["dummy"]


def test_the_dummy_gateway_refuses_to_be_enabled_in_production(settings):
    settings.IS_PRODUCTION = True
    settings.PAYMENT_GATEWAYS = ["dummy"]

    with pytest.raises(ImproperlyConfigured) as exc:
        check_gateways()

    assert str(exc.value) == (
        "Payment gateway configuration: dummy: the dummy gateway takes no money and cannot be enabled in production"
    )


@pytest.mark.parametrize("is_production", [False, True])
def test_an_unknown_gateway_name_is_refused(settings, is_production):
    settings.IS_PRODUCTION = is_production
    settings.PAYMENT_GATEWAYS = ["paypal"]

    with pytest.raises(ImproperlyConfigured, match="PAYMENT_GATEWAYS names 'paypal', which does not exist"):
        check_gateways()


def test_every_problem_is_named_in_one_message(settings):
    settings.IS_PRODUCTION = True
    settings.PAYMENT_GATEWAYS = ["dummy", "cash"]

    with pytest.raises(ImproperlyConfigured) as exc:
        check_gateways()

    assert "'cash', which does not exist" in str(exc.value)
    assert "dummy: the dummy gateway takes no money" in str(exc.value)


def _start_production(**env) -> subprocess.CompletedProcess:
    """`manage.py check` with the production settings, as a deployment would start."""
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "test-only-not-secret",
        "DJANGO_ALLOWED_HOSTS": "shop.example.com",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("gateways", ["dummy", "paypal"])
def test_production_settings_do_not_start_with_a_bad_gateway_list(gateways):
    result = _start_production(PAYMENT_GATEWAYS=gateways)

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: Payment gateway configuration: ")
    assert ("cannot be enabled in production" if gateways == "dummy" else "'paypal', which does not exist") in last_line


def test_production_settings_do_not_start_with_the_default_dummy_gateway():
    # PAYMENT_GATEWAYS defaults to the dummy gateway for local use: production must name its own.
    result = _start_production()

    assert result.returncode != 0
    assert "the dummy gateway takes no money and cannot be enabled in production" in result.stderr
