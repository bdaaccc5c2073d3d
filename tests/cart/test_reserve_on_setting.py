"""STOCK_RESERVE_ON is checked when the settings load: a typo stops the shop at start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = "from django.conf import settings; print(settings.STOCK_RESERVE_ON, settings.CART_RESERVATION_MINUTES)"


def _load_settings(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("value", ["checkout", "cart"])
def test_both_modes_load(value):
    result = _load_settings(STOCK_RESERVE_ON=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [value, "30"]


def test_the_default_is_to_reserve_at_checkout():
    env = {k: v for k, v in os.environ.items() if k != "STOCK_RESERVE_ON"}
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.STOCK_RESERVE_ON)"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "checkout", result.stderr


@pytest.mark.parametrize("value", ["basket", "Cart", ""])
def test_any_other_value_fails_at_start_with_a_clear_message(value):
    result = _load_settings(STOCK_RESERVE_ON=value)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f'STOCK_RESERVE_ON must be "checkout" or "cart", not {value!r}.' in result.stderr


def test_a_cart_reservation_of_less_than_a_minute_fails_at_start():
    result = _load_settings(CART_RESERVATION_MINUTES="0")
    assert result.returncode != 0
    assert "CART_RESERVATION_MINUTES must be a whole number of minutes >= 1" in result.stderr
