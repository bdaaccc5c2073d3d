"""Tests: PostgreSQL by default (DATABASE_URL), fast hashing, in-memory email."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-secret-long-enough-for-jwt-hmac")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shop")

from .base import *  # noqa: F403
from .base import BASE_DIR

DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Off by default: its tokens change on commit, and most tests never commit (they run in a
# rolled-back transaction). tests/catalog/test_page_cache.py turns it on with real commits.
CATALOG_CACHE_SECONDS = 0
# The replica's alias as a mirror of the test database (one database, no replication), off:
# tests/kernel/test_replica.py turns it on with REPLICA_DATABASE="replica".
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
REPLICA_DATABASE = ""
REPLICA_MAX_LAG_SECONDS = 0  # not probed (tests/kernel/test_replica.py turns it on)
# Each view reaches the cache at once, as the view-count tests expect.
PRODUCT_VIEWS_BUFFER_SECONDS = 0
CELERY_BROKER_URL = ""
CELERY_TASK_ALWAYS_EAGER = True
MEDIA_ROOT = BASE_DIR / ".test-media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
IMPORT_IMAGE_TIMEOUT_SECONDS = 1.0
# Rate limits high enough that no functional test meets them (many tests post from one
# address); tests/ratelimit/ sets the real tiers per test.
RATELIMIT_GENERAL = RATELIMIT_STOCK = RATELIMIT_AUTH = "100000/15m"
RATELIMIT_WEBHOOK = RATELIMIT_STAFF = "100000/15m"
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]  # locmem, see base.py
