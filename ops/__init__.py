"""Operations (top layer, docs/ARCHITECTURE.md): health and metrics endpoints (health.py,
urls.py), request ids, log records and Sentry (observability.py), the rate-limit middleware
(ratelimit.py), the 503 answer when the database is unreachable (unavailable.py), and the
release checklist `manage.py verify_deployment`. Nothing imports it but config (settings
name its middleware and logging filter; the Celery app wires its signals) and tests."""
