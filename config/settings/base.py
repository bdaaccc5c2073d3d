"""
Settings shared by every environment. Everything configurable comes from environment
variables (django-environ), each listed with a comment in .env.example.
https://docs.djangoproject.com/en/5.2/ref/settings/
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.conf.locale import LANG_INFO
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
TIME_ZONE = env("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
# The languages shoppers may choose (LANGUAGES=en,de: Django's codes), each named in the active
# language; the switcher shows each in its own name. Shoppers whose browser asks for none of
# them get LANGUAGE_CODE. A shopper's language comes from the language cookie
# (set by the switcher, and at sign-in from the customer's saved choice: storefront/i18n.py),
# then Accept-Language; URLs carry no language prefix. Catalogs: locale/<code>/LC_MESSAGES/
# (`make messages` extracts, `make translations` compiles; the Makefile's install, run and
# test paths compile them).
_LANGUAGE_NAMES = {"en": _("English"), "de": _("German")}
_language_codes = [code.strip().lower() for code in env.list("LANGUAGES", default=["en", "de"]) if code.strip()]
for _code in _language_codes:
    if _code not in LANG_INFO or "fallback" in LANG_INFO[_code]:
        raise ImproperlyConfigured(
            f"LANGUAGES: {_code!r} is not a language code Django knows (e.g. en, de, fr, pt-br)."
        )
if not _language_codes:
    raise ImproperlyConfigured("LANGUAGES must name at least one language, e.g. LANGUAGES=en,de.")
LANGUAGES = [
    (code, _LANGUAGE_NAMES[code] if code in _LANGUAGE_NAMES else _(LANG_INFO[code]["name"])) for code in _language_codes
]
# American English (en-us: Django's "en" formats and catalogs) when English is offered, else
# the first language listed: what pages, emails and documents use when no shopper chose.
LANGUAGE_CODE = "en-us" if "en" in _language_codes else _language_codes[0]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates as the shop writes them in each language ("6 December 2026", "6. Dezember 2026"):
# config/formats/<lang>/formats.py first, then Django's own formats for that language.
# https://docs.djangoproject.com/en/5.2/ref/settings/#format-module-path
FORMAT_MODULE_PATH = "config.formats"
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
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # Seconds to wait for a connection: an unreachable database fails a request (and the
        # health check) quickly instead of hanging it.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transactions
# Persistent connections: a worker keeps its connection this many seconds (0: a new one per
# request, a PostgreSQL connect and backend start each time), pinged before reuse so that a
# restarted database costs a reconnect, not an error.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A PostgreSQL streaming replica of DATABASE_URL (postgres://user@replica-host:5432/name, the
# same database name): the storefront's and the API's catalog reads go there
# (kernel/replica.py); the cart, checkout, accounts, orders, payments, the admin and every
# transaction stay on the primary. Unset: everything reads the primary, as before.
REPLICA_DATABASE = ""
if env("DATABASE_REPLICA_URL", default=""):
    if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs DATABASE_URL to be PostgreSQL, whose replica it is.")
    REPLICA_DATABASE = "replica"
    _replica = env.db("DATABASE_REPLICA_URL")
    # The primary's settings (engine, options, connection reuse) with the replica's address.
    DATABASES[REPLICA_DATABASE] = {
        **DATABASES["default"],
        **{key: _replica[key] for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT") if key in _replica},
        "OPTIONS": {**DATABASES["default"].get("OPTIONS", {}), **_replica.get("OPTIONS", {})},
        "TEST": {"MIRROR": "default"},  # tests run against one database
    }
# Catalog reads move to the primary while the replica is unreachable or lags more than this
# many seconds (0: never checked), as each process finds it once every REPLICA_CHECK_SECONDS.
REPLICA_MAX_LAG_SECONDS = env.int("DATABASE_REPLICA_MAX_LAG_SECONDS", default=30)
REPLICA_CHECK_SECONDS = 5
# Apps whose models a replica_reads() block may read from the replica: the catalog and the
# availability shown with it.
REPLICA_APPS = ["catalog", "inventory"]
DATABASE_ROUTERS = ["kernel.replica.ReplicaRouter"]
# A connection pooler between the processes and PostgreSQL (DATABASE_POOLER=pgbouncer: PgBouncer
# in transaction pooling mode; DATABASE_URL, and DATABASE_REPLICA_URL if set, then name
# PgBouncer's address). Each transaction may run on a different server connection, so nothing
# may outlive one: no server-side cursors (Django's .iterator() declares them WITH HOLD outside
# a transaction; the rows are then read into the process and handed out in chunks) and no
# prepared statements (psycopg's prepare_threshold None, Django's default, kept whatever the
# OPTIONS say). The shop's own SQL keeps its state per transaction (SET LOCAL, transaction-level
# advisory locks); tests/ops/test_pooler.py holds it to that. Checked by ops/checks.py.
DATABASE_POOLER = env("DATABASE_POOLER", default="").strip().lower()
if DATABASE_POOLER not in ("", "pgbouncer"):
    raise ImproperlyConfigured(f"DATABASE_POOLER must be empty or 'pgbouncer', not {DATABASE_POOLER!r}.")
if DATABASE_POOLER:
    for _alias in DATABASES.values():
        if _alias["ENGINE"].endswith("postgresql"):
            _alias["DISABLE_SERVER_SIDE_CURSORS"] = True
            _alias["OPTIONS"] = {**_alias.get("OPTIONS", {}), "prepare_threshold": None}
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
    "django.contrib.sitemaps",  # /sitemap.xml (storefront/seo); its templates
    "django.forms",  # Django's widget templates, for FORM_RENDERER below
    "django.contrib.postgres",  # search (catalog/search.py): its lookups and index opclasses
]
THIRD_PARTY_APPS: list[str] = [
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served from our static files, not a CDN
    "csp",  # django-csp: its system checks flag settings in the pre-4.0 format
    "django_ratelimit",  # its system checks verify the cache can count (kernel/ratelimit.py)
    "django_prometheus",  # request/response metrics at /metrics (ops/health.py)
    "django_countries",  # CountryField: every ISO 3166 country, shown by name (kernel/addresses.py)
    "phonenumber_field",  # PhoneNumberField: phone numbers validated and stored E.164
]
# The bottom layer, the domain apps, then the top layer (docs/ARCHITECTURE.md): kernel (no
# models; an app so that its template tags, {% load money %}, are found like any app's),
# storefront (pages, template tags, the login receiver), backoffice (its admin registrations
# extend the domain apps', so it comes after them), ops (management commands).
LOCAL_APPS = [
    "kernel",
    "accounts",
    "pages",  # content pages (terms, privacy, …): beside accounts, above kernel alone
    "catalog",
    "inventory",
    "orders",
    "payments",
    "cart",
    "checkout",
    "storefront",
    "backoffice",
    "ops",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# AUTHENTICATION
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/auth/customizing/
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "catalog:home"
# https://docs.djangoproject.com/en/5.2/topics/auth/passwords/#using-argon2-with-django
# Argon2 hashes new passwords; the others still verify (and upgrade at the next login) any
# hash made before it was first, and any a migration brought (accounts.importer: bcrypt from
# Node, PHP or passlib is stored as Django's "bcrypt$" + the hash).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
]
# Customers brought from another shop without a password (import_customers) get a signed
# link to choose one (invite_customers); it works for this many days, or until used.
CUSTOMER_INVITE_DAYS = env.int("CUSTOMER_INVITE_DAYS", default=14)
if CUSTOMER_INVITE_DAYS < 1:
    raise ImproperlyConfigured(f"CUSTOMER_INVITE_DAYS must be a whole number of days >= 1, not {CUSTOMER_INVITE_DAYS}.")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# MIDDLEWARE
# ------------------------------------------------------------------------------
MIDDLEWARE = [
    # First and last: django-prometheus times the whole stack (https://github.com/korfuri/django-prometheus).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Early, so every log line of the request carries its id (ops/observability.py).
    "ops.observability.RequestIDMiddleware",
    # The database unreachable mid-request: 503 + Retry-After, not a bare 500.
    "ops.unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The shopper's language (cookie, then Accept-Language) for everything below, including
    # the rate limit's 429 page. A 503 for a database lost inside a view is in the shopper's
    # language too; one lost before this middleware ran (the session) is in LANGUAGE_CODE.
    # Adds "Vary: Accept-Language, Cookie" and Content-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A customer's saved language as the language cookie when they sign in (storefront/i18n.py).
    "storefront.i18n.LanguageCookieMiddleware",
    # After CSRF and auth: tiers go by URL name and request.user (ops/ratelimit.py).
    "ops.ratelimit.RateLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
ROOT_URLCONF = "config.urls"
# The admin's URL prefix (DJANGO_ADMIN_URL, e.g. "back-office-7f3a/"): moving it off /admin/
# keeps it out of the way of bots trying default paths; it is no substitute for strong
# passwords and the staff rate limit.
ADMIN_URL = env("DJANGO_ADMIN_URL", default="admin/").strip("/") + "/"
if ADMIN_URL == "/":
    raise ImproperlyConfigured("DJANGO_ADMIN_URL must not be empty: the admin would take over the home page.")

# SECURITY
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/middleware/#module-django.middleware.security
# Headers every environment sends; production.py adds HTTPS-only cookies, HSTS and redirects.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
# Not "same-origin": Razorpay's Checkout.js opens payment pop-ups (netbanking, wallets) that
# report back to our window; "same-origin-allow-popups" keeps that link and still isolates us
# from windows that open the shop.
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"
# Client IP (kernel/client_ip.py): X-Forwarded-For is believed only when the request comes
# straight from one of these proxies (IPs or CIDRs, e.g. 10.0.0.0/8); empty trusts no header.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Content Security Policy, django-csp 4 (https://django-csp.readthedocs.io/en/latest/configuration.html).
# Scripts only from our own static files and the payment providers: no inline script anywhere
# (data for scripts travels in json_script elements); the product pages' JSON-LD (data for
# search engines, never run) carries the response's nonce (request.csp_nonce), which is in
# the header only on the pages that use it. Styles allow 'unsafe-inline' because
# the admin report pages carry <style> blocks and Razorpay's window injects its own styles.
# Stripe Checkout is a redirect: form-action must allow it, as browsers apply form-action to
# the redirect that follows a POST.
_STRIPE = ["https://js.stripe.com", "https://checkout.stripe.com"]
_RAZORPAY = ["https://checkout.razorpay.com", "https://api.razorpay.com"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, "https://js.stripe.com", "https://checkout.razorpay.com"],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "https:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF, *_STRIPE, *_RAZORPAY, "https://lumberjack.razorpay.com"],
        "frame-src": [SELF, *_STRIPE, *_RAZORPAY],
        "form-action": [SELF, *_STRIPE, *_RAZORPAY],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
    }
}
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
                "storefront.context_processors.cart_summary",
                "storefront.context_processors.shop",
                "storefront.context_processors.navigation",
                "storefront.context_processors.content_pages",
            ],
        },
    }
]
# https://docs.djangoproject.com/en/5.2/ref/forms/renderers/#templatessetting
# {{ form }} renders each field as the design system's <div class="field"> (templates/forms/).
FORM_RENDERER = "storefront.form_renderer.FormRenderer"

# COUNTRIES
# ------------------------------------------------------------------------------
# django-countries names countries by ISO 3166 with a few common short forms; the US as
# shoppers, carriers and Shopify write it (https://github.com/SmileyChris/django-countries#customize-the-country-list).
COUNTRIES_OVERRIDE = {"US": _("United States")}

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
# Redis (django-redis) when REDIS_URL is set, else a per-process memory cache (files shared
# by the processes of `make run`).
# The cache is for display only: stock checks always read the database under a lock.
REDIS_URL = env("REDIS_URL", default="")
# Files that `make run` writes as it runs (gitignored): the filesystem broker's folders and
# cache (without Redis), beat's schedule.
RUN_DIR = Path(env("RUN_DIR", default=str(BASE_DIR / ".run")))
if REDIS_URL:
    # Sessions read from Redis, written through to the database (which keeps them if Redis
    # is wiped); without Redis, the database alone.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Short timeouts: a Redis that is down or unreachable costs each request
                # about this much, not a hang.
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.25),
                "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.25),
            },
        }
    }
elif env("CELERY_BROKER_URL", default="").startswith("filesystem:"):
    # `make run` without Redis (bin/run): web, worker and beat are separate processes that
    # must share one cache, e.g. the page-view counters that beat's flush moves into the
    # database. Files under RUN_DIR; its increments are not atomic, which a demo can bear.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(RUN_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if not REDIS_URL:
    # Without Redis rate limits are counted per process or in files: fine for development,
    # and django-ratelimit's checks (E003 not shared, W001 unsupported) would stop every command.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]
# Redis down must not stop the shop: cache errors are logged and read as a miss
# (https://github.com/jazzband/django-redis#memcached-exceptions-behavior). Rate limits then
# fail open except the auth tier (kernel/ratelimit.py); stock never depends on the cache.
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# RATE LIMITS
# ------------------------------------------------------------------------------
# django-ratelimit rate strings ("10/15m" = 10 per 15 minutes), counted in the default
# cache on state-changing requests; a limited request gets 429 + Retry-After. Tiers and
# their keys: ops/ratelimit.py. https://django-ratelimit.readthedocs.io/en/stable/settings.html
# general: one shopper's visit posts about 60 forms (50 cart edits, checkout, place order,
# pay); 200 leaves room for a few shoppers behind one address (an office, a mobile carrier's
# NAT). stock: place order and pay, plus every add to cart when the cart holds stock
# (STOCK_RESERVE_ON=cart), where a shopper who adds 50 times must still check out.
RATELIMIT_GENERAL = env("RATELIMIT_GENERAL", default="200/15m")  # per IP, every POST page
RATELIMIT_STOCK = env(
    "RATELIMIT_STOCK", default="60/15m" if env("STOCK_RESERVE_ON", default="checkout") == "cart" else "20/15m"
)  # per IP: what takes stock (ops/ratelimit.py)
RATELIMIT_AUTH = env("RATELIMIT_AUTH", default="10/15m")  # per IP and per account
RATELIMIT_WEBHOOK = env("RATELIMIT_WEBHOOK", default="200/15m")  # per IP
RATELIMIT_STAFF = env("RATELIMIT_STAFF", default="500/15m")  # per staff user, admin POSTs
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)

# EMAIL
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/email/
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Small Shop <shop@example.com>")
# An email service provider through django-anymail (https://anymail.dev/en/stable/esps/):
# EMAIL_BACKEND=anymail.backends.<esp>.EmailBackend and the ESP's API key (or server token)
# in ANYMAIL_API_KEY, put under the setting name anymail expects for that ESP. Amazon SES
# takes boto3's own credentials instead. An ESP needing more (Mailgun's EU API_URL, …) gets
# it added to ANYMAIL below.
ANYMAIL_API_KEY = env("ANYMAIL_API_KEY", default="")
ANYMAIL_KEY_SETTINGS: dict[str, str | None] = {
    "postmark": "POSTMARK_SERVER_TOKEN",
    "sendgrid": "SENDGRID_API_KEY",
    "mailgun": "MAILGUN_API_KEY",
    "brevo": "BREVO_API_KEY",
    "resend": "RESEND_API_KEY",
    "sparkpost": "SPARKPOST_API_KEY",
    "mandrill": "MANDRILL_API_KEY",
    "amazon_ses": None,
}
ANYMAIL: dict[str, str] = {}
if EMAIL_BACKEND.startswith("anymail.backends."):
    _esp = EMAIL_BACKEND.split(".")[2]
    if _esp not in ANYMAIL_KEY_SETTINGS:
        raise ImproperlyConfigured(
            f"EMAIL_BACKEND={EMAIL_BACKEND}: use one of the ESPs {', '.join(ANYMAIL_KEY_SETTINGS)}, or add it."
        )
    _key_setting = ANYMAIL_KEY_SETTINGS[_esp]
    if _key_setting:
        if not ANYMAIL_API_KEY:
            raise ImproperlyConfigured(f"EMAIL_BACKEND={EMAIL_BACKEND} needs ANYMAIL_API_KEY.")
        ANYMAIL[_key_setting] = ANYMAIL_API_KEY

# Operational alerts (orders needing attention, low stock): comma-separated addresses;
# empty means every active staff user with an email address.
STAFF_ALERT_EMAILS = env.list("STAFF_ALERT_EMAILS", default=[])

# CELERY
# ------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# With no broker configured every task runs eagerly, in the process that enqueues it, except
# under `make run`: bin/run then sets CELERY_BROKER_URL=filesystem:// and starts a worker and
# beat, so that the demo runs its tasks and periodic jobs as production does.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
# Late acknowledgement: a task whose worker dies mid-run (SIGKILL, OOM killer, lost host) is
# delivered again, and every task is written to have its effect once (tests/proofs,
# bench/faults.py). REJECT_ON_WORKER_LOST covers a pool process killed under a live worker,
# which Celery would otherwise acknowledge as failed.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Queues by urgency. "urgent": what a payment or the stock waits for (a provider's webhook, the
# reservation sweep, reconciliation and the retry of waiting webhook events), short database
# work. "celery", the default queue: everything else (emails, invoices, refunds sent to
# providers, the page-view flush) and any task not named here; Celery's own name for it, so
# that tasks queued by an earlier release still run. The Procfile's worker_urgent consumes
# "urgent" only, so a backlog of emails never delays a payment; its worker consumes both (and
# takes urgent work only when it has a process free: queues in one worker have no priority).
# A worker started without -Q consumes every queue listed here.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in ("urgent", "celery")]
CELERY_TASK_ROUTES = {
    task: {"queue": "urgent"}
    for task in (
        "payments.tasks.process_webhook_event",
        "payments.tasks.retry_waiting_payments_work",
        "payments.tasks.reconcile_payments",
        "orders.tasks.release_expired_reservations",
    )
}
# Redis broker: an unacknowledged task comes back after this many seconds (a worker that
# vanished). It must exceed the longest task countdown (retries wait up to 600 s), or a task
# merely waiting would be delivered twice.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
}
if CELERY_BROKER_URL.startswith("filesystem:"):
    # kombu's filesystem transport (kombu.transport.filesystem): one message per file in a
    # folder that producers write to and the worker reads from; no server. It needs the
    # folders to exist, so they are made here, where every process (web, worker, beat,
    # manage.py) finds them.
    _queue_dir, _control_dir = RUN_DIR / "celery" / "queue", RUN_DIR / "celery" / "control"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    _control_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(_control_dir),
    }
# How old a paid order must be (minutes) before resume_order_followups re-queues its missing
# invoice or confirmation, and how far back it looks (hours).
FOLLOWUPS_RESUME_MINUTES = env.int("FOLLOWUPS_RESUME_MINUTES", default=10)
FOLLOWUPS_RESUME_WINDOW_HOURS = env.int("FOLLOWUPS_RESUME_WINDOW_HOURS", default=72)
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
    # Answers get lost too: refunds the provider never answered are sent again (same key), and
    # refund events that overtook their payment's capture are tried again.
    "retry-waiting-payments-work": {
        "task": "payments.tasks.retry_waiting_payments_work",
        "schedule": timedelta(minutes=env.int("RECONCILE_INTERVAL_MINUTES", default=10)),
    },
    # Paid orders whose invoice or confirmation was never sent (the broker was down when they
    # were paid): their follow-ups are queued again (orders.tasks.resume_order_followups).
    "resume-order-followups": {
        "task": "orders.tasks.resume_order_followups",
        "schedule": timedelta(minutes=FOLLOWUPS_RESUME_MINUTES),
    },
    # Product page views are counted in the cache; this moves them into the database. If the
    # cache is wiped, at most one interval's views are lost (catalog/services.py).
    "flush-product-views": {
        "task": "catalog.tasks.flush_product_views",
        "schedule": timedelta(seconds=env.int("PRODUCT_VIEWS_FLUSH_SECONDS", default=60)),
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
# Whether catalog and shipping prices are entered with tax included (true: gross, the tax is
# worked out of them) or without (false: net, the tax is added at checkout). checkout.pricing.
_prices_include_tax = env("PRICES_INCLUDE_TAX", default="true").strip().lower()
if _prices_include_tax not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
    raise ImproperlyConfigured(f"PRICES_INCLUDE_TAX must be true or false, not {_prices_include_tax!r}.")
PRICES_INCLUDE_TAX = _prices_include_tax in ("true", "1", "yes", "on")
# The ISO 3166 country the cart page taxes for until the shopper chooses one at checkout.
SHOP_COUNTRY = env("SHOP_COUNTRY", default="US")
if not (len(SHOP_COUNTRY) == 2 and SHOP_COUNTRY.isascii() and SHOP_COUNTRY.isalpha() and SHOP_COUNTRY.isupper()):
    raise ImproperlyConfigured(
        f"SHOP_COUNTRY must be a two-letter ISO code in capitals (e.g. GB), not {SHOP_COUNTRY!r}."
    )
# How long stock stays reserved after "Place order", in minutes.
STOCK_RESERVATION_MINUTES = env.int("STOCK_RESERVATION_MINUTES", default=15)
# When stock is reserved: "checkout" (at Place order, for STOCK_RESERVATION_MINUTES) or "cart"
# (already at add-to-cart, for CART_RESERVATION_MINUTES, refreshed by every change of the cart;
# Place order then hands the cart's hold to the order in the same transaction).
STOCK_RESERVE_ON = env("STOCK_RESERVE_ON", default="checkout")
if STOCK_RESERVE_ON not in ("checkout", "cart"):
    raise ImproperlyConfigured(f'STOCK_RESERVE_ON must be "checkout" or "cart", not {STOCK_RESERVE_ON!r}.')
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
# Catalog page cache (catalog/cache.py): how long a rendered listing, product grid or product
# detail may stay in the cache, in seconds. Changes retire entries at once; this only bounds
# memory and the lag after a reservation lapses by the clock (until the next sweep). 0: off,
# the default without Redis: a per-process memory cache would not learn of a change made by
# another process (a Celery worker's sweep, a second web process).
CATALOG_CACHE_SECONDS = env.int("CATALOG_CACHE_SECONDS", default=300 if REDIS_URL else 0)
# Product search (catalog/search.py, PostgreSQL): the text search configuration, i.e. the
# language whose stemming and stop words apply ("english", "german", "simple": no stemming;
# `\dF` in psql lists them). After changing it run `manage.py search_index_rebuild`.
SEARCH_CONFIG = env.str("SEARCH_CONFIG", default="english")
# Product page views gathered in each process for this many seconds before they are added to
# the cache counters together (catalog/services.py): a page then spends no cache round trip on
# counting. 0: each view at once. A process that dies loses at most this long of its views.
PRODUCT_VIEWS_BUFFER_SECONDS = env.float("PRODUCT_VIEWS_BUFFER_SECONDS", default=5.0)
# Where the shop is reached from outside, for links in emails sent by background tasks
# (which have no request to take the host from), e.g. https://shop.example.com
SHOP_BASE_URL = env("SHOP_BASE_URL", default="http://localhost:8000")
# The seller on invoices (orders/invoices.py): postal address, lines separated by "\n" in
# the variable, and tax / VAT registration number; the name is SHOP_NAME (SITE_NAME).
SHOP_ADDRESS = env.str("SHOP_ADDRESS", default="", multiline=True)
SHOP_TAX_ID = env("SHOP_TAX_ID", default="")

# REST API (/api/v1/)
# ------------------------------------------------------------------------------
# https://www.django-rest-framework.org/api-guide/settings/
# Mobile clients send a short-lived JWT access token (Authorization: Bearer …); the browser
# may use its session. Every error answers {"error": {"code", "message", "fields"}}
# (api/errors.py), every list {"data", "total", "page", "totalPages"}
# (api/pagination.py).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PagePagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # https://www.django-rest-framework.org/api-guide/throttling/ (answered 429 + Retry-After)
    "DEFAULT_THROTTLE_RATES": {
        "auth": env("API_AUTH_THROTTLE_RATE", default="20/minute"),
        "cart": env("API_CART_THROTTLE_RATE", default="120/minute"),
        "checkout": env("API_CHECKOUT_THROTTLE_RATE", default="30/minute"),
    },
}
# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
# A stolen access token is good for minutes only; a refresh token is good once: using it
# returns a new one and blacklists the old (token_blacklist app). The refresh and logout
# endpoints are ours (api.accounts.tokens.refresh_token_rotate / refresh_token_revoke), which
# claim the token atomically; simplejwt's own refresh serializer would let concurrent
# refreshes of one token all succeed.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=14)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Every token carries a digest of the account's password hash (claim "hash_password");
    # a token whose digest no longer matches is refused: access tokens by JWTAuthentication,
    # refresh tokens by api.accounts.tokens. So changing or resetting the password by any path
    # (page, admin, changepassword, User.set_password) revokes every token issued before.
    "CHECK_REVOKE_TOKEN": True,
}
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} API",
    "DESCRIPTION": 'REST API for mobile clients. Errors: {"error": {"code", "message", "fields"}}.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # The shop has no CDN dependency: Swagger UI comes from drf-spectacular-sidecar's static
    # files (https://drf-spectacular.readthedocs.io/en/latest/readme.html#self-contained-ui-installation).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"OrderStatusEnum": "orders.models.Order.Status"},
}

# LOGGING
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/logging/
# Every record carries the request id (ops/observability.py). LOG_FORMAT=json writes one
# JSON object per line (python-json-logger): time, level, logger, message, request_id and the
# record's extras, e.g. the stable `event` field of the key events (docs/RUNBOOK.md).
# Production defaults to json, everything else to plain.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f'LOG_FORMAT must be "plain" or "json", not {LOG_FORMAT!r}.')
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "ops.observability.RequestIDFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs seven progress steps per invoice at INFO; warnings (a missing font,
    # unsupported CSS) still show.
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}

# OBSERVABILITY
# ------------------------------------------------------------------------------
# /metrics (Prometheus text format) answers staff sessions, or `Authorization: Bearer
# METRICS_TOKEN` for the scraper; empty: staff only. ops/health.py.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Errors (web, worker, beat) and beat's schedule go to Sentry when SENTRY_DSN is set; no
# personal data is sent. https://docs.sentry.io/platforms/python/integrations/django/
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from ops.observability import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        release=env("APP_VERSION", default="") or None,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
