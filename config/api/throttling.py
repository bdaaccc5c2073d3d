"""Rate limits (answered 429 with Retry-After by DRF, shaped by errors.py)."""
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle as DRFScopedRateThrottle


class ScopedRateThrottle(DRFScopedRateThrottle):
    """DRF's scoped throttle (a view sets `throttle_scope`), reading the rates from settings at
    request time: DRF's own copies them once at import, which makes them impossible to change
    per environment in tests. A scope whose rate is None is not limited."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
