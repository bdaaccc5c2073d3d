"""Production settings pass Django's deployment checklist, and every page carries the
security headers."""

import os
import secrets
import string
import subprocess
import sys

import pytest
from django.conf import settings
from django.urls import reverse

from config.settings.base import BASE_DIR


def _production_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STRIPE_", "RAZORPAY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="".join(secrets.choice(alphabet) for _ in range(50)),
        DJANGO_ALLOWED_HOSTS="shop.example.com",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://shop.example.com",
        DATABASE_URL=os.environ.get("DATABASE_URL", database_url),
        # The dummy gateway refuses production; Stripe test keys of the right shape.
        PAYMENT_GATEWAYS="stripe",
        STRIPE_SECRET_KEY="sk_test_" + secrets.token_hex(24),
        STRIPE_WEBHOOK_SECRET="whsec_" + secrets.token_hex(16),
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
        # Production shares its cache (and rate-limit counters) through Redis; `check` does not connect.
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    return env


def test_check_deploy_passes_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_are_the_secure_ones():
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS >= 31536000,"
        " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.X_FRAME_OPTIONS, s.CSRF_TRUSTED_ORIGINS,"
        " s.PASSWORD_HASHERS[0].rsplit('.', 1)[1])"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=BASE_DIR,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "True",
        "True",
        "True",
        "True",
        "True",
        "DENY",
        "['https://shop.example.com']",
        "Argon2PasswordHasher",
    ]


@pytest.mark.django_db
def test_pages_send_the_security_headers(client):
    response = client.get(reverse("catalog:home"))
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin-allow-popups"


@pytest.mark.django_db
def test_the_content_security_policy_allows_only_us_and_the_payment_providers(client):
    policy = client.get(reverse("catalog:home"))["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["default-src"] == ["'self'"]
    # Besides the page's own nonce (its JSON-LD for search engines, storefront/seo).
    nonces = [source for source in directives["script-src"] if source.startswith("'nonce-")]
    assert len(nonces) <= 1
    assert set(directives["script-src"]) - set(nonces) == {
        "'self'",
        "https://js.stripe.com",
        "https://checkout.razorpay.com",
    }
    assert "'unsafe-inline'" not in directives["script-src"]
    assert {"https://checkout.stripe.com", "https://api.razorpay.com"} <= set(directives["form-action"])
    assert {"https://api.razorpay.com", "https://checkout.razorpay.com", "https://js.stripe.com"} <= set(
        directives["frame-src"]
    )
    assert directives["frame-ancestors"] == ["'none'"]


def test_admin_url_comes_from_the_environment():
    env = _production_env() | {"DJANGO_ADMIN_URL": "/back-office-7f3a/"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.urls import reverse; print(reverse('admin:index'))",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/back-office-7f3a/"
