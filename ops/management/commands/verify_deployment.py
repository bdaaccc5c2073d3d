"""
manage.py verify_deployment URL: the release checklist, automated, against a running shop.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from django.core.management.base import BaseCommand, CommandError

TIMEOUT_SECONDS = 10
SECURITY_HEADERS = (
    "Strict-Transport-Security",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Content-Security-Policy",
)
USER_AGENT = "verify_deployment/1 (shop release checklist)"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes = b""

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Report:
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (PASS|FAIL|SKIP, check, detail)

    def add(self, ok: bool | None, check: str, detail: str = "") -> None:
        self.lines.append(("SKIP" if ok is None else "PASS" if ok else "FAIL", check, detail))

    @property
    def failed(self) -> int:
        return sum(1 for outcome, _, _ in self.lines if outcome == "FAIL")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx itself is the answer we want to see


def fetch(url: str, *, method: str = "GET", data: dict | None = None, headers: dict | None = None) -> Answer:
    """One HTTP request, redirects not followed; 4xx/5xx are answers, not exceptions.
    Raises OSError (URLError, timeout) when the server cannot be reached."""
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(
        url, data=body, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})}
    )
    if body is not None:
        request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json, text/html")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


class Command(BaseCommand):
    help = (
        "Checks a deployed shop at URL (e.g. https://shop.example.com): GET /health/ answers 200 "
        "with status ok; / sends the security headers (" + ", ".join(SECURITY_HEADERS) + "); "
        "for an https URL, http://HOST/ (port 80, or --http-url) redirects to https; a cart can be created through "
        "the API (the first product's first in-stock variant) and a checkout started with its "
        "X-Cart-Token. Prints PASS/FAIL/SKIP per check; exits 1 if any check fails. The cart "
        "line is removed again afterwards (best effort). Requests time out after "
        f"{TIMEOUT_SECONDS} s."
    )

    def add_arguments(self, parser):
        parser.add_argument("url", help="the shop's base URL, e.g. https://shop.example.com")
        parser.add_argument(
            "--http-url",
            help="where plain http is served, for the TLS redirect check (default: http://HOST/, "
            "port 80, whatever port URL names: that port speaks TLS)",
        )

    def handle(self, *args, url, http_url, **options):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CommandError(f"Not an http(s) URL: {url!r}")
        base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.http_url = http_url or f"http://{parts.hostname}/"
        report = Report()
        for check in (self._health, self._headers, self._tls_redirect, self._cart_and_checkout):
            try:
                check(base, report)
            except (OSError, ValueError) as exc:  # unreachable, timed out, not JSON
                report.add(False, check.__name__.strip("_").replace("_", " "), f"error: {exc}")
        for outcome, name, detail in report.lines:
            line = f"{outcome}  {name}" + (f"  ({detail})" if detail else "")
            style = {"PASS": self.style.SUCCESS, "FAIL": self.style.ERROR}.get(outcome, str)
            self.stdout.write(style(line))
        if report.failed:
            raise CommandError(f"{report.failed} check(s) failed.", returncode=1)
        self.stdout.write(self.style.SUCCESS("All checks passed."))

    def _health(self, base: str, report: Report) -> None:
        answer = fetch(f"{base}/health/")
        if answer.status == 404:
            report.add(False, "health", "not found: GET /health/ answered 404")
            return
        status = answer.json().get("status") if answer.status in (200, 503) else None
        report.add(answer.status == 200 and status == "ok", "health", f"HTTP {answer.status}, status {status!r}")

    def _headers(self, base: str, report: Report) -> None:
        answer = fetch(f"{base}/")
        for name in SECURITY_HEADERS:
            value = answer.headers.get(name.lower())
            report.add(bool(value), f"header {name}", value[:80] if value else f"missing on / (HTTP {answer.status})")

    def _tls_redirect(self, base: str, report: Report) -> None:
        if not base.startswith("https://"):
            report.add(None, "tls redirect", "URL is http: nothing to check")
            return
        answer = fetch(self.http_url)
        location = answer.headers.get("location", "")
        ok = answer.status in (301, 302, 307, 308) and location.startswith("https://")
        report.add(ok, "tls redirect", f"http:// answered {answer.status} {location}".strip())

    def _cart_and_checkout(self, base: str, report: Report) -> None:
        api = f"{base}/api/v1"
        products = fetch(f"{api}/products/")
        results = products.json().get("data") if products.status == 200 else None
        if not results:
            report.add(False, "cart", f"no product to add: GET /api/v1/products/ answered {products.status}")
            report.add(False, "checkout", "no cart")
            return
        product = fetch(f"{api}/products/{results[0]['handle']}/").json()
        variants = product.get("variants") or []
        variant = next((v for v in variants if v.get("in_stock")), variants[0] if variants else None)
        if variant is None:
            report.add(False, "cart", f"product {results[0]['handle']} has no variant")
            report.add(False, "checkout", "no cart")
            return
        cart = fetch(f"{api}/cart/items/", method="POST", data={"variant_id": variant["id"], "quantity": 1})
        token = cart.headers.get("x-cart-token", "")
        if cart.status != 201 or not token:
            report.add(False, "cart", f"POST /api/v1/cart/items/ answered {cart.status}: {cart.body[:200]!r}")
            report.add(False, "checkout", "no cart")
            return
        report.add(True, "cart", f"1 × {variant.get('sku', variant['id'])} added")
        checkout = fetch(f"{api}/checkout/", method="POST", headers={"X-Cart-Token": token})
        report.add(checkout.status == 201, "checkout", f"POST /api/v1/checkout/ answered {checkout.status}")
        # Leave no stock held by the probe: remove the line again (best effort, not a check).
        for line in cart.json().get("lines", []):
            if "id" in line:
                fetch(f"{api}/cart/items/{line['id']}/", method="DELETE", headers={"X-Cart-Token": token})
