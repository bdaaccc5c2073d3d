#!/usr/bin/env python
"""
Page quality of the storefront: Lighthouse 12.2.3 (performance, accessibility, best practices,
SEO) in mobile and desktop modes on the home page, the listing, a product page with two
options, the cart with a line and the checkout page, served by gunicorn with the production
settings, plus the failing accessibility audits (Lighthouse's are axe-core's rules) with their
axe impact.

    .venv/bin/python bench/lighthouse.py                    # 5 pages × 2 modes × 3 runs, ~8 minutes
    .venv/bin/python bench/lighthouse.py --only cart --modes mobile --runs 1
    .venv/bin/python bench/lighthouse.py --commit HEAD    # what is committed, not the tree

Needs Node.js ≥ 18 (npm) and a Chrome/Chromium (CHROME_PATH, default /usr/bin/chromium). On
the first run the script installs Lighthouse from bench/lighthouse/package-lock.json with
`npm ci` into bench/lighthouse/node_modules (git-ignored); nothing is installed globally.

The shop is the working tree's code, or with --commit REV that commit exported with `git
archive` into a temporary directory (the working tree may hold unfinished edits). It runs on
bench/stack.py's throwaway production stack (database `bench_lighthouse`, dropped
and created again; migrate; `seed_demo`, the demo catalog with its images; collectstatic;
gunicorn with config.settings.production, DEBUG off, WhiteNoise serving the hashed,
compressed static files). In front of it runs a small reverse proxy in this process playing
production's web server: it serves MEDIA_ROOT (the product images) at /media/, as the web
server or a CDN does in production, and forwards everything else to gunicorn with
`X-Forwarded-Proto: https`, as the TLS-terminating proxy does (so SECURE_SSL_REDIRECT stays on
and no request is redirected). Lighthouse loads http://127.0.0.1:<port>/…, which it counts as
a secure origin like any localhost.

The cart and the checkout: a headless Chromium (Playwright) opens a single-variant product
page and presses "Add to cart" like a shopper, then checks that /cart/ shows the line and
that /checkout/ answers 200 with its form (with STOCK_RESERVE_ON=checkout, the default,
opening the checkout takes no reservation; with "cart" the add-to-cart did). Its cookies
(session, CSRF) go to Lighthouse with --extra-headers, so the cart and checkout audits see
that shopper's pages.

Lighthouse runs with its defaults: mobile is a Moto G Power-sized screen with simulated slow
4G and 4× CPU slowdown, desktop is `--preset=desktop`; Chrome flags --headless=new
--no-sandbox --disable-gpu --disable-background-networking. Performance is measured on this
machine: with other work on the CPUs the figure drops (the load average is printed at the
start and the end), so each page and mode is audited --runs times (default 3) and the median
counts: on the busy reference machine single mobile runs of the same page ranged 87–100, the
median of three 99–100. A run in which Lighthouse fails to record the page (NO_NAVSTART, which
happens now and then under load) is attempted again, up to 3 times.

Output: a table of the four scores per page and mode, the failing accessibility audits with
their impact and the elements involved, the failing best-practices audits, and the reports
(HTML and JSON) in .test-artifacts/lighthouse/ (--reports). Exits 1 when any page scores
below 95 (--min-score) in performance, accessibility or best practices, or has a failing
accessibility audit of serious or critical impact (Lighthouse also runs axe rules tagged
"experimental", weight 0, which axe-core's default run leaves out: those are listed but do not
fail the run); 2 when the setup failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import mimetypes
import os
import posixpath
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack

BENCH = Path(__file__).resolve().parent
NODE_DIR = BENCH / "lighthouse"  # package.json + package-lock.json (lighthouse 12.2.3, exact)
LIGHTHOUSE_BIN = NODE_DIR / "node_modules" / ".bin" / "lighthouse"
LIGHTHOUSE_VERSION = "12.2.3"
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-background-networking"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
GATED = ("performance", "accessibility", "best-practices")  # must each be >= --min-score
BLOCKING_IMPACTS = ("serious", "critical")
MODES = ("mobile", "desktop")

# The demo catalog (catalog/fixtures/demo-catalog.csv): the tee has two options (size and
# colour) and several images; the card pack has one variant in stock, so "Add to cart" needs no choice.
PRODUCT_PAGE = "/products/merino-crew-tee/"
CART_PRODUCT = "/products/letterpress-card-pack/"
PAGES = [
    ("home", "/", False),
    ("listing", "/products/", False),
    ("product", PRODUCT_PAGE, False),
    ("cart", "/cart/", True),  # True: audited with the shopper's cookies
    ("checkout", "/checkout/", True),
]
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


# -- the web server in front of gunicorn ----------------------------------------------------


class FrontProxy:
    """A threaded HTTP server on 127.0.0.1:`port`: /media/… from `media_root`, everything
    else forwarded to `upstream` (http://host:port) with X-Forwarded-Proto: https."""

    def __init__(self, *, port: int, upstream: str, media_root: Path):
        target = urlsplit(upstream)
        media_root = media_root.resolve()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_GET(self):
                self._handle()

            def do_HEAD(self):
                self._handle()

            def do_POST(self):
                self._handle()

            def _handle(self):
                if self.path.startswith("/media/"):
                    self._media()
                else:
                    self._forward()

            def _media(self):
                relative = posixpath.normpath(unquote(urlsplit(self.path).path)[len("/media/") :])
                path = (media_root / relative).resolve()
                if relative.startswith("..") or not path.is_file() or media_root not in path.parents:
                    self._answer(404, {"Content-Type": "text/plain"}, b"not found")
                    return
                headers = {
                    "Content-Type": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                    # What a web server's `expires 30d` for uploads sends.
                    "Cache-Control": "public, max-age=2592000",
                }
                self._answer(200, headers, path.read_bytes())

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["X-Forwarded-Proto"] = "https"
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                    kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
                    self._answer(response.status, kept, data, reason=response.reason)
                finally:
                    connection.close()

            def _answer(self, status, headers, data: bytes, reason: str | None = None):
                self.send_response_only(status, reason)
                items = headers.items() if isinstance(headers, dict) else headers
                for name, value in items:
                    if name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> FrontProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the shopper's cart ---------------------------------------------------------------------


def shopper_cookies(base_url: str, chrome: str) -> str:
    """Adds CART_PRODUCT to a guest cart in a headless Chromium as a shopper would, checks
    the cart and the checkout pages, and answers the browser's cookies as a Cookie header."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chrome, args=CHROME_FLAGS.split()[1:], headless=True)
        try:
            context = browser.new_context(base_url=base_url)
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.goto(CART_PRODUCT)
            with page.expect_navigation():
                # A click event on the button itself: the audit is not the place to fail
                # over a layout that puts something on top of it (the browser tests are).
                page.get_by_role("button", name="Add to cart").dispatch_event("click")
            if urlsplit(page.url).path != "/cart/":
                text = " ".join(page.locator("body").inner_text().split())[:500]
                raise RuntimeError(f"adding {CART_PRODUCT} to the cart ended at {page.url}: {text}")
            if not page.locator(f'a[href="{CART_PRODUCT}"]').count():
                raise RuntimeError(f"the cart page does not show {CART_PRODUCT} after adding it")
            response = page.goto("/checkout/")
            if response is None or response.status != 200 or urlsplit(page.url).path != "/checkout/":
                status = response.status if response else "no response"
                raise RuntimeError(f"/checkout/ answered {status} at {page.url}, not the checkout form")
            cookies = context.cookies()
        finally:
            browser.close()
    if not any(cookie["name"] == "sessionid" for cookie in cookies):
        raise RuntimeError(f"the browser kept no session cookie (it has {[c['name'] for c in cookies]})")
    return "; ".join(f"{cookie['name']}={cookie['value']}" for cookie in cookies)


# -- Lighthouse -------------------------------------------------------------------------------


def ensure_lighthouse() -> None:
    """Installs bench/lighthouse/node_modules from the lock file when it is missing."""
    if LIGHTHOUSE_BIN.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed (Node.js >= 18 is needed for Lighthouse)")
    print(f"installing Lighthouse {LIGHTHOUSE_VERSION} into {NODE_DIR / 'node_modules'} (npm ci)", flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)


ATTEMPTS = 3  # Lighthouse sometimes fails to record a trace (NO_NAVSTART, NO_FCP): run again


class LighthouseFailed(RuntimeError):
    """Lighthouse exited with an error or reported a runtime error (worth another attempt)."""


@dataclass
class Finding:
    audit: str
    title: str
    impact: str  # axe's impact for accessibility audits, "" otherwise
    elements: list[str] = field(default_factory=list)
    experimental: bool = False  # an axe rule tagged "experimental" (axe-core's default run skips those)


@dataclass
class Result:
    page: str
    mode: str
    scores: dict[str, int]
    metrics: dict[str, str]
    accessibility: list[Finding]
    best_practices: list[Finding]
    report: Path


def lighthouse(url: str, *, mode: str, cookie: str | None, chrome: str, report: Path) -> Result:
    command = [
        str(LIGHTHOUSE_BIN),
        url,
        "--quiet",
        "--output=json",
        "--output=html",
        f"--output-path={report}",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={CHROME_FLAGS}",
    ]
    if mode == "desktop":
        command.append("--preset=desktop")
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    json_path = report.with_name(report.name + ".report.json")
    json_path.unlink(missing_ok=True)  # never read an earlier run's
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "CHROME_PATH": chrome})
    if result.returncode != 0 or not json_path.exists():
        raise LighthouseFailed(f"lighthouse {url} ({mode}) failed ({result.returncode}):\n{result.stderr[-3000:]}")
    lhr = json.loads(json_path.read_text())
    if lhr.get("runtimeError"):
        raise LighthouseFailed(f"lighthouse {url} ({mode}): {lhr['runtimeError']}")
    if lhr["lighthouseVersion"] != LIGHTHOUSE_VERSION:
        raise RuntimeError(f"Lighthouse {lhr['lighthouseVersion']} ran, not {LIGHTHOUSE_VERSION}")
    if urlsplit(lhr["finalDisplayedUrl"]).path != urlsplit(url).path:
        raise RuntimeError(f"lighthouse {url} ({mode}) ended at {lhr['finalDisplayedUrl']} (redirected)")
    scores = {
        name: round((lhr["categories"][name]["score"] or 0) * 100) for name in CATEGORIES if name in lhr["categories"]
    }
    metrics = {
        key: lhr["audits"][key].get("displayValue", "")
        for key in (
            "first-contentful-paint",
            "largest-contentful-paint",
            "total-blocking-time",
            "cumulative-layout-shift",
            "speed-index",
        )
    }
    return Result(
        page="",
        mode=mode,
        scores=scores,
        metrics=metrics,
        accessibility=_failing(lhr, "accessibility"),
        best_practices=_failing(lhr, "best-practices"),
        report=report.with_name(report.name + ".report.html"),
    )


def lighthouse_again_on_failure(url: str, **kwargs) -> Result:
    """lighthouse(), attempted up to ATTEMPTS times while Lighthouse itself fails."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return lighthouse(url, **kwargs)
        except LighthouseFailed as exc:
            if attempt == ATTEMPTS:
                raise
            last = str(exc).strip().splitlines()[-1]
            print(f"  {url} ({kwargs['mode']}): attempt {attempt} failed, once more: {last}", flush=True)
    raise AssertionError("unreachable")


def _failing(lhr: dict, category: str) -> list[Finding]:
    """The category's audits that failed (score below 1 among the scored ones)."""
    found = []
    for ref in lhr["categories"][category]["auditRefs"]:
        audit = lhr["audits"][ref["id"]]
        if audit.get("scoreDisplayMode") not in ("binary", "numeric") or audit.get("score") in (None, 1):
            continue
        details = audit.get("details") or {}
        debug = details.get("debugData") or {}
        impact = debug.get("impact", "")
        elements = []
        for item in details.get("items") or []:
            node = item.get("node") if isinstance(item, dict) else None
            if node:
                elements.append(node.get("snippet") or node.get("selector") or "?")
            elif isinstance(item, dict) and item.get("description"):
                elements.append(str(item["description"])[:200])
        found.append(
            Finding(
                audit=ref["id"],
                title=audit["title"],
                impact=impact,
                elements=elements,
                experimental="experimental" in (debug.get("tags") or []),
            )
        )
    return found


def median_result(runs: list[Result]) -> Result:
    """The run with the median performance score (Lighthouse's advice for variance), with each
    category's score replaced by its median across the runs."""
    ordered = sorted(runs, key=lambda r: r.scores.get("performance", 0))
    chosen = ordered[len(ordered) // 2]
    chosen.scores = {name: round(statistics.median(r.scores[name] for r in runs)) for name in chosen.scores}
    return chosen


# -- the run ----------------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    lines = [
        "| page | mode | performance | accessibility | best practices | SEO | FCP | LCP | TBT | CLS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s, m = r.scores, r.metrics
        lines.append(
            f"| {r.page} | {r.mode} | {s.get('performance')} | {s.get('accessibility')} | "
            f"{s.get('best-practices')} | {s.get('seo')} | {m['first-contentful-paint']} | "
            f"{m['largest-contentful-paint']} | {m['total-blocking-time']} | {m['cumulative-layout-shift']} |"
        )
    return "\n".join(lines)


def run_committed(revision: str, argv: list[str], reports: Path) -> int:
    """Runs this script on `revision` exported with `git archive` into a temporary directory
    (the working tree may hold other people's unfinished edits): the export's bench/ gets this
    script and its Node packages, the reports still go to `reports`."""
    tree = Path(tempfile.mkdtemp(prefix="lighthouse-tree-"))
    try:
        archive = subprocess.run(["git", "archive", revision], cwd=stack.ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        node_dir = tree / "bench" / "lighthouse"
        node_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(__file__, tree / "bench" / "lighthouse.py")
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(NODE_DIR / name, node_dir / name)
        if not (node_dir / "node_modules").exists():
            (node_dir / "node_modules").symlink_to(NODE_DIR / "node_modules")
        commit = subprocess.run(
            ["git", "rev-parse", "--short", revision], cwd=stack.ROOT, capture_output=True, text=True, check=True
        )
        print(f"measuring commit {commit.stdout.strip()} ({revision}) exported to {tree}", flush=True)
        command = [sys.executable, str(tree / "bench" / "lighthouse.py"), *argv, "--reports", str(reports)]
        return subprocess.run(command, cwd=tree).returncode
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="only the pages whose name contains this (home, listing, …)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: mobile,desktop (default both)")
    parser.add_argument("--runs", type=int, default=3, help="runs per page and mode; the median counts (default 3)")
    parser.add_argument("--min-score", type=int, default=95, help="lowest passing score (default 95)")
    parser.add_argument("--database", default="bench_lighthouse", help="database to (re)create")
    parser.add_argument(
        "--reports",
        type=Path,
        default=stack.ROOT / ".test-artifacts" / "lighthouse",
        help="directory for the HTML and JSON reports (default .test-artifacts/lighthouse)",
    )
    parser.add_argument(
        "--commit",
        metavar="REV",
        help="measure this commit (e.g. HEAD) exported with git archive, not the working tree",
    )
    args = parser.parse_args()
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not set(modes) <= set(MODES) or args.runs < 1:
        parser.error(f"--modes takes {', '.join(MODES)}; --runs at least 1")
    pages = [page for page in PAGES if args.only in page[0]]
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not os.access(chrome, os.X_OK):
        print(f"no Chrome at {chrome}: set CHROME_PATH (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    try:
        ensure_lighthouse()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"cannot install Lighthouse: {exc}", file=sys.stderr)
        return 2
    args.reports = args.reports.resolve()
    args.reports.mkdir(parents=True, exist_ok=True)
    if args.commit:
        argv = sys.argv[1:]
        for option in ("--commit", "--reports"):  # "--commit REV" or "--commit=REV"
            while any(a == option or a.startswith(option + "=") for a in argv):
                i = next(i for i, a in enumerate(argv) if a == option or a.startswith(option + "="))
                del argv[i : i + (1 if "=" in argv[i] else 2)]
        return run_committed(args.commit, argv, args.reports)

    print(f"machine: {stack.machine_summary()}; load average {stack.load_average()} at start", flush=True)
    proxy_port = stack.free_port()
    # The proxy's origin is the one the browser sends with its add-to-cart POST.
    os.environ["DJANGO_CSRF_TRUSTED_ORIGINS"] = f"http://127.0.0.1:{proxy_port}"
    results: list[Result] = []
    with stack.Stack(database=args.database, products=0, web=1) as running:
        media = running.workdir / "media"
        with FrontProxy(port=proxy_port, upstream=running.urls[0], media_root=media) as proxy:
            print(f"front proxy (media + X-Forwarded-Proto: https) at {proxy.url}", flush=True)
            cookie = shopper_cookies(proxy.url, chrome) if any(needs for _, _, needs in pages) else None
            for name, path, needs_cookie in pages:
                for mode in modes:
                    runs = []
                    for n in range(args.runs):
                        started = time.monotonic()
                        result = lighthouse_again_on_failure(
                            proxy.url + path,
                            mode=mode,
                            cookie=cookie if needs_cookie else None,
                            chrome=chrome,
                            report=args.reports / f"{name}-{mode}-{n + 1}",
                        )
                        result.page = name
                        runs.append(result)
                        print(
                            f"  {name} {mode} run {n + 1}: "
                            + ", ".join(f"{k} {v}" for k, v in result.scores.items())
                            + f" ({time.monotonic() - started:.0f} s)",
                            flush=True,
                        )
                    results.append(median_result(runs))
    print(f"load average at the end: {stack.load_average()}")
    print()
    print(f"Lighthouse {LIGHTHOUSE_VERSION}, {args.runs} run(s) per cell (median), Chrome {chrome}")
    print(table(results))
    print()

    failed = []
    for r in results:
        for category in GATED:
            if r.scores.get(category, 0) < args.min_score:
                failed.append(f"{r.page} {r.mode}: {category} {r.scores.get(category)} < {args.min_score}")
        for finding in r.accessibility:
            blocking = finding.impact in BLOCKING_IMPACTS and not finding.experimental
            note = ", experimental rule, not counted" if finding.experimental else ""
            print(
                f"accessibility, {r.page} {r.mode}: {finding.audit} ({finding.impact or 'no impact'}{note}): "
                f"{finding.title}"
            )
            for element in finding.elements[:5]:
                print(f"    {element}")
            if blocking:
                failed.append(f"{r.page} {r.mode}: {finding.impact} axe violation {finding.audit}")
        for finding in r.best_practices:
            print(f"best practices, {r.page} {r.mode}: {finding.audit}: {finding.title}")
            for element in finding.elements[:5]:
                print(f"    {element}")
    print(f"reports: {args.reports}/<page>-<mode>-<run>.report.html")
    for line in failed:
        print(f"FAILED: {line}")
    if not failed:
        print(f"passed: every page ≥ {args.min_score} in {', '.join(GATED)}, no serious or critical axe violation")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
