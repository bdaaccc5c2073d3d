"""Rate-limit counters, per tier, on the shared cache (django-ratelimit): what the page
middleware (ops/ratelimit.py) and the API's auth throttle (api/throttling.py) both count with,
so that a page and an endpoint of the same tier share one budget.

A tier's rate is the setting RATELIMIT_<TIER> (a django-ratelimit rate string such as
"10/15m"); its counters are per client IP (kernel/client_ip.py: X-Forwarded-For believed
from trusted proxies only) or per account (the email). When the cache cannot be reached
(Redis down) the counters FAIL OPEN, except the auth tier: the shop must keep selling
without Redis, but a login form that cannot count attempts would open the door to password
guessing, so the auth tier refuses until the cache is back. Either way a warning is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from .client_ip import client_ip

logger = logging.getLogger(__name__)

# Requests that change state: the only ones counted.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Retry-After when the auth tier refuses because the cache is down (nothing to count with).
CACHE_DOWN_RETRY_AFTER = 60


@dataclass(frozen=True)
class Limited:
    """A refusal: which tier, and how many seconds until the client may try again."""

    tier: str
    retry_after: int


def _ip_key(group: str, request: HttpRequest) -> str:
    # X-Forwarded-For believed from trusted proxies only (kernel/client_ip.py).
    return client_ip(request) or "unknown"


def _tier_rate(tier: str) -> str | None:
    return getattr(settings, f"RATELIMIT_{tier.upper()}", None) or None


def ratelimit_hit(request: HttpRequest, *, tier: str, key: str | None = None) -> Limited | None:
    """Counts this request against `tier` for `key` (default: the client IP) and answers
    whether it is over the limit. `key` values are namespaced by tier, so the same email or
    IP in two tiers are two counters. Cache errors: None (fail open), except the auth tier,
    which refuses (fail closed); both logged."""
    rate = _tier_rate(tier)
    if rate is None:
        return None
    key_fn = _ip_key if key is None else (lambda group, request: key)
    group = f"{tier}:{'ip' if key is None else 'account'}"
    try:
        usage = get_usage(request, group=group, key=key_fn, rate=rate, increment=True)
    except Exception:  # a cache outage must not break the shop (see module doc)
        logger.warning("rate limit %s: cache unavailable", tier, exc_info=True)
        usage = {"limit": 0, "time_left": -1}
    if usage is None:  # RATELIMIT_ENABLE off
        return None
    if usage["limit"] == 0 and usage["time_left"] == -1:
        # django-ratelimit's answer when it could not read or bump the counter.
        if tier == "auth":
            logger.warning("rate limit %s: cache unavailable, refusing (fail closed)", tier)
            return Limited(tier, CACHE_DOWN_RETRY_AFTER)
        logger.warning("rate limit %s: cache unavailable, not limiting (fail open)", tier)
        return None
    if usage["should_limit"]:
        logger.info("rate limit %s exceeded for %s", tier, group)
        return Limited(tier, max(1, int(usage["time_left"])))
    return None


def auth_account_key(value: str) -> str | None:
    """The per-account key for the auth tier: the email, normalised (None when blank)."""
    value = (value or "").strip().lower()
    return f"account:{value}" if value else None


def auth_hit(request: HttpRequest, *, email: str) -> Limited | None:
    """The auth tier, per IP and per account; both counters are bumped."""
    by_ip = ratelimit_hit(request, tier="auth")
    account = auth_account_key(email)
    by_account = ratelimit_hit(request, tier="auth", key=account) if account else None
    return by_ip or by_account
