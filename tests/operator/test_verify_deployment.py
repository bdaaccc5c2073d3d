"""verify_deployment URL against a live server: one PASS/FAIL/SKIP line per check and exit
status 1 when any fails. Test settings are not production settings: HSTS is off there, and
the URL is http, so there is no TLS redirect to check."""

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from cart.models import Cart
from tests.factories import stocked_variant

pytestmark = pytest.mark.django_db(transaction=True)


def verify(url: str, *options: str) -> tuple[str, int]:
    out = StringIO()
    try:
        call_command("verify_deployment", url, *options, stdout=out, no_color=True)
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


# -- the TLS redirect check --------------------------------------------------------------------
# For an https URL the command asks http://HOST/ (port 80; --http-url elsewhere) for "/" and
# expects a redirect to https://. A plain HTTP server on a free port stands in for the shop's
# port-80 listener (named by --http-url; the https URL names the same port, so every request
# lands there); the command's https checks (health, headers, cart) cannot complete a TLS
# handshake with it, so they fail and the exit status is 1 whatever the redirect does: the
# redirect check's own verdict is its PASS/FAIL line.


class _PlainHTTP(BaseHTTPRequestHandler):
    """Answers GET with the server's `status` and `location`; records the paths asked for."""

    timeout = 1  # an https check's ClientHello never ends in a request line: drop it after 1 s

    def do_GET(self):
        self.server.paths.append(self.path)
        self.send_response(self.server.status)
        if self.server.location:
            self.send_header("Location", self.server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def plain_http_server(status: int, location: str = ""):
    """A plain HTTP server on a free local port: yields (the https:// URL of that host and port,
    the list of paths it was asked for over http, the --http-url option naming it)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PlainHTTP)
    server.status, server.paths = status, []
    port = server.server_address[1]
    server.location = location.format(port=port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{port}", server.paths, f"--http-url=http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        server.server_close()


def outcomes(output: str) -> dict[str, str]:
    return {line.split("  ")[1]: line for line in output.splitlines() if "  " in line}


def test_an_http_request_redirected_to_https_passes(db):
    with plain_http_server(301, "https://127.0.0.1:{port}/") as (url, paths, http_url):
        output, status = verify(url, http_url)
    port = url.rsplit(":", 1)[1]
    assert outcomes(output)["tls redirect"] == f"PASS  tls redirect  (http:// answered 301 https://127.0.0.1:{port}/)"
    assert paths == ["/"]  # the one plain-http request; every other check spoke TLS
    # Nothing serves TLS here: the https checks fail on the connection, hence the status.
    failed = {name for name, line in outcomes(output).items() if line.startswith("FAIL")}
    assert failed == {"health", "headers", "cart and checkout"}, output
    assert status == 1


def test_an_http_request_served_without_a_redirect_fails(db):
    with plain_http_server(200) as (url, paths, http_url):
        output, status = verify(url, http_url)
    assert outcomes(output)["tls redirect"] == "FAIL  tls redirect  (http:// answered 200)"
    assert paths == ["/"]
    assert status == 1


def test_a_redirect_that_stays_on_http_fails(db):
    with plain_http_server(302, "http://127.0.0.1:{port}/elsewhere/") as (url, _paths, http_url):
        output, status = verify(url, http_url)
    port = url.rsplit(":", 1)[1]
    line = outcomes(output)["tls redirect"]
    assert line == f"FAIL  tls redirect  (http:// answered 302 http://127.0.0.1:{port}/elsewhere/)"
    assert status == 1


def test_plain_http_is_probed_on_port_80_of_the_host_by_default(db):
    """https://HOST:8443 speaks TLS on 8443: the redirect check must not send plain http there."""
    with plain_http_server(301, "https://127.0.0.1:{port}/") as (url, paths, _http_url):
        output, _ = verify(url)
    assert paths == []  # nothing plain-http reached the TLS port
    # Nothing listens on port 80 here: the check fails on the connection, by name.
    assert outcomes(output)["tls redirect"].startswith("FAIL  tls redirect  (error:"), output
