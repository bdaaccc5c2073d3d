"""
Settings shared by every environment. Everything configurable comes from environment
variables (django-environ), each listed with a comment in .env.example.
https://docs.djangoproject.com/en/5.2/ref/settings/
"""
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
TIME_ZONE = env("DJANGO_TIME_ZONE", default="UTC")
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
SITE_NAME = env("SHOP_NAME", default="Small Shop")

# DATABASES
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
# PostgreSQL when DATABASE_URL is set (postgres://user@host:5432/name); otherwise an embedded
# SQLite file whose transactions start IMMEDIATE, so that two writers queue up instead of
# failing half-way with "database is locked".
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transactions
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# APPS
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS: list[str] = []
LOCAL_APPS = [
    "accounts",
    "catalog",
    "inventory",
    "orders",
    "payments",
    "cart",
    "checkout",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# AUTHENTICATION
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/auth/customizing/
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "catalog:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# MIDDLEWARE
# ------------------------------------------------------------------------------
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

# TEMPLATES
# ------------------------------------------------------------------------------
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cart.context_processors.cart_summary",
                "catalog.context_processors.shop",
            ],
        },
    }
]

# STATIC AND MEDIA
# ------------------------------------------------------------------------------
# https://whitenoise.readthedocs.io/en/stable/django.html
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))

# CACHES
# ------------------------------------------------------------------------------
# Redis (django-redis) when REDIS_URL is set, else a per-process memory cache.
# The cache is for display only: stock checks always read the database under a lock.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# EMAIL
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/email/
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Small Shop <shop@example.com>")

# Operational alerts (orders needing attention, low stock): comma-separated addresses;
# empty means every active staff user with an email address.
STAFF_ALERT_EMAILS = env.list("STAFF_ALERT_EMAILS", default=[])

# CELERY
# ------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# With no broker configured every task runs eagerly, in the process that enqueues it.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {
    # Tidies reservations that already stopped counting; correctness never waits for it.
    "release-expired-reservations": {
        "task": "orders.tasks.release_expired_reservations",
        "schedule": timedelta(seconds=env.int("SWEEP_INTERVAL_SECONDS", default=60)),
    },
    # Webhooks get lost: ask the providers about payments still pending.
    "reconcile-payments": {
        "task": "payments.tasks.reconcile_payments",
        "schedule": timedelta(minutes=env.int("RECONCILE_INTERVAL_MINUTES", default=10)),
    },
}

# PAYMENTS
# ------------------------------------------------------------------------------
# Enabled gateways, in the order shoppers see them: dummy, stripe, razorpay.
# Keys are checked at start-up for every enabled gateway (payments/apps.py).
PAYMENT_GATEWAYS = env.list("PAYMENT_GATEWAYS", default=["dummy"])
# https://docs.stripe.com/keys and https://docs.stripe.com/webhooks#verify-events
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# https://razorpay.com/docs/api/authentication/ and /webhooks/validate-test/
RAZORPAY_KEY_ID = env("RAZORPAY_KEY_ID", default="")
RAZORPAY_KEY_SECRET = env("RAZORPAY_KEY_SECRET", default="")
RAZORPAY_WEBHOOK_SECRET = env("RAZORPAY_WEBHOOK_SECRET", default="")
# Reconciliation asks providers about payments pending longer than this (minutes); beat
# runs it every RECONCILE_INTERVAL_MINUTES.
RECONCILE_AFTER_MINUTES = env.int("RECONCILE_AFTER_MINUTES", default=15)
RECONCILE_INTERVAL_MINUTES = env.int("RECONCILE_INTERVAL_MINUTES", default=10)
IS_PRODUCTION = False

# SHOP
# ------------------------------------------------------------------------------
SHOP_CURRENCY = env("SHOP_CURRENCY", default="USD")
# How long stock stays reserved after "Place order", in minutes.
STOCK_RESERVATION_MINUTES = env.int("STOCK_RESERVATION_MINUTES", default=15)
# When stock is reserved: "checkout" (at Place order, for STOCK_RESERVATION_MINUTES) or "cart"
# (already at add-to-cart, for CART_RESERVATION_MINUTES, refreshed by every change of the cart;
# Place order then hands the cart's hold to the order in the same transaction).
STOCK_RESERVE_ON = env("STOCK_RESERVE_ON", default="checkout")
if STOCK_RESERVE_ON not in ("checkout", "cart"):
    raise ImproperlyConfigured(
        f'STOCK_RESERVE_ON must be "checkout" or "cart", not {STOCK_RESERVE_ON!r}.'
    )
# How long a cart holds its stock after its last change, in minutes (STOCK_RESERVE_ON=cart).
CART_RESERVATION_MINUTES = env.int("CART_RESERVATION_MINUTES", default=30)
if CART_RESERVATION_MINUTES < 1:
    raise ImproperlyConfigured(
        f"CART_RESERVATION_MINUTES must be a whole number of minutes >= 1, not {CART_RESERVATION_MINUTES}."
    )
# PostgreSQL lock_timeout on stock rows, in milliseconds: a buyer who cannot get the lock in
# time is told "busy, please try again" instead of waiting behind a pile-up.
STOCK_LOCK_TIMEOUT_MS = env.int("STOCK_LOCK_TIMEOUT_MS", default=2000)
# Product images: try to download Image Src on import (seconds before giving up).
IMPORT_IMAGE_TIMEOUT_SECONDS = env.float("IMPORT_IMAGE_TIMEOUT_SECONDS", default=3.0)
THUMBNAIL_WIDTHS = (200, 400, 800)
PRODUCTS_PER_PAGE = 12
# Where the shop is reached from outside, for links in emails sent by background tasks
# (which have no request to take the host from), e.g. https://shop.example.com
SHOP_BASE_URL = env("SHOP_BASE_URL", default="http://localhost:8000")

# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
