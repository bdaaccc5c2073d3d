"""verify_deployment URL against a live server: one PASS/FAIL/SKIP line per check and exit
status 1 when any fails. Test settings are not production settings: HSTS is off there, and
the URL is http, so there is no TLS redirect to check."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from cart.models import Cart
from tests.factories import stocked_variant

pytestmark = pytest.mark.django_db(transaction=True)


def verify(url: str) -> tuple[str, int]:
    out = StringIO()
    try:
        call_command("verify_deployment", url, stdout=out, no_color=True)
    except CommandError as exc:
        return out.getvalue(), exc.returncode
    return out.getvalue(), 0


def test_it_reports_each_check_and_fails_on_the_missing_hsts_header(live_server):
    stocked_variant(on_hand=5, product__title="Linen Shirt")
    output, status = verify(live_server.url)
    outcomes = {line.split("  ")[1]: line.split("  ")[0] for line in output.splitlines() if "  " in line}
    assert outcomes == {
        "health": "PASS",
        "header Strict-Transport-Security": "FAIL",  # SECURE_HSTS_SECONDS is production-only
        "header X-Frame-Options": "PASS",
        "header X-Content-Type-Options": "PASS",
        "header Referrer-Policy": "PASS",
        "header Content-Security-Policy": "PASS",
        "tls redirect": "SKIP",
        "cart": "PASS",
        "checkout": "PASS",
    }, output
    assert status == 1
    assert Cart.objects.count() == 1  # the probe's cart, its line removed again


def test_a_missing_health_endpoint_is_a_clear_failure(live_server):
    output, status = verify(live_server.url + "/no-such-prefix")
    assert "FAIL  health  (not found: GET /health/ answered 404)" in output
    assert status == 1


def test_it_refuses_a_url_that_is_not_http():
    with pytest.raises(CommandError, match="Not an http"):
        call_command("verify_deployment", "ftp://example.com")
