"""Rate limits (answered 429 with Retry-After by DRF, shaped by errors.py)."""

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.throttling import ScopedRateThrottle as DRFScopedRateThrottle

from kernel.ratelimit import UNSAFE_METHODS, auth_hit


class ScopedRateThrottle(DRFScopedRateThrottle):
    """DRF's scoped throttle (a view sets `throttle_scope`), reading the rates from settings at
    request time: DRF's own copies them once at import, which makes them impossible to change
    per environment in tests. A scope whose rate is None is not limited."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AuthTierThrottle(BaseThrottle):
    """The auth tier of kernel/ratelimit.py (RATELIMIT_AUTH, per IP and per account) on the
    API's auth endpoints, so the pages and the API share one budget per account: a guesser
    cannot get ten tries on the login page and ten more on /api/v1/auth/token/."""

    def allow_request(self, request, view):
        if request.method not in UNSAFE_METHODS:
            return True
        email = request.data.get("email", "") if hasattr(request.data, "get") else ""
        self._limited = auth_hit(request._request, email=str(email))
        return self._limited is None

    def wait(self):
        return self._limited.retry_after if getattr(self, "_limited", None) else None
