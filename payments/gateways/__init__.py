"""Gateways by name. PAYMENT_GATEWAYS lists the enabled ones, in the order shoppers see them."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_noop

from .base import Gateway, GatewayError, InvalidSignature
from .dummy import DummyGateway
from .razorpay import RazorpayGateway
from .stripe import StripeGateway

GATEWAYS: dict[str, type[Gateway]] = {
    "dummy": DummyGateway,
    "stripe": StripeGateway,
    "razorpay": RazorpayGateway,
}


def enabled_gateways() -> list[Gateway]:
    return [GATEWAYS[name]() for name in settings.PAYMENT_GATEWAYS]


def get_gateway(name: str) -> Gateway:
    """The enabled gateway called `name`. Raises GatewayError for an unknown or disabled one."""
    if name not in settings.PAYMENT_GATEWAYS or name not in GATEWAYS:
        raise GatewayError(gettext_noop("Unknown payment method %(name)s."), params={"name": repr(name)})
    return GATEWAYS[name]()


def check_gateways() -> None:
    """Fails start-up with a clear message when an enabled gateway is misconfigured."""
    problems = []
    for name in settings.PAYMENT_GATEWAYS:
        if name not in GATEWAYS:
            problems.append(f"PAYMENT_GATEWAYS names {name!r}, which does not exist (known: {', '.join(GATEWAYS)})")
            continue
        problems += [f"{name}: {p}" for p in GATEWAYS[name]().check_configuration()]
    if problems:
        raise ImproperlyConfigured("Payment gateway configuration: " + "; ".join(problems))


__all__ = ["Gateway", "GatewayError", "InvalidSignature", "check_gateways", "enabled_gateways", "get_gateway"]
