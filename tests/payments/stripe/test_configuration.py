"""Enabling Stripe with missing or malformed keys stops the shop at start with a clear message."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from payments.gateways import check_gateways


@pytest.mark.parametrize(
    "secret_key, webhook_secret, message",
    [
        ("", "whsec_abc123", "STRIPE_SECRET_KEY is not set"),
        ("pk_test_51Nz0123456789", "whsec_abc123", "STRIPE_SECRET_KEY is a publishable key"),
        ("sk_tset_51Nz0123456789", "whsec_abc123", "STRIPE_SECRET_KEY is not a Stripe secret key"),
        ("sk_test_51Nz 0123456789", "whsec_abc123", "STRIPE_SECRET_KEY is not a Stripe secret key"),
        ("sk_test_51Nz0123456789", "", "STRIPE_WEBHOOK_SECRET is not set"),
        ("sk_test_51Nz0123456789", "sk_test_51Nz0123456789", "STRIPE_WEBHOOK_SECRET is not a webhook signing secret"),
    ],
)
def test_enabling_stripe_with_a_missing_or_malformed_key_stops_the_start(settings, secret_key, webhook_secret, message):
    settings.STRIPE_SECRET_KEY = secret_key
    settings.STRIPE_WEBHOOK_SECRET = webhook_secret

    with pytest.raises(ImproperlyConfigured) as raised:
        check_gateways()

    assert f"stripe: {message}" in str(raised.value)


@pytest.mark.parametrize("secret_key", ["sk_test_51NzAbc", "sk_live_51NzAbc", "rk_live_51NzAbc", "rk_test_51NzAbc"])
def test_well_formed_stripe_keys_pass(settings, secret_key):
    settings.STRIPE_SECRET_KEY = secret_key
    settings.STRIPE_WEBHOOK_SECRET = "whsec_abc123"

    check_gateways()


def test_stripe_keys_are_not_checked_while_stripe_is_disabled(settings):
    settings.PAYMENT_GATEWAYS = ["dummy"]
    settings.STRIPE_SECRET_KEY = ""

    check_gateways()


def test_the_shop_names_stripe_as_a_known_gateway(settings):
    settings.PAYMENT_GATEWAYS = ["stripe", "strpe"]

    with pytest.raises(ImproperlyConfigured, match="'strpe', which does not exist"):
        check_gateways()
