"""Real-browser tests: Playwright for Python driving Debian's chromium against pytest-django's
live_server. One browser for all of them, a fresh context (cookies, storage) per test.

Each test gets `page` (a Playwright page whose base URL is the live server) and `shot` (saves
a numbered screenshot of the current step). Every test fails at teardown if the page logged a
console error, threw an uncaught exception, or saw a failed request or an HTTP error (>= 400)
from our own origin.

Screenshots go to $BROWSER_ARTIFACTS/<test name>/NN-<step>.png (default
.test-artifacts/browser/ in the repository).
"""

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS") or REPO / ".test-artifacts" / "browser")
# Long enough for a cold live server on a busy 2-core machine; short enough to fail fast.
TIMEOUT_MS = 15_000


def _unavailable(reason: str):
    """Under CI the browser is a requirement (`make test` installs it): fail. Locally, skip."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="package")
def browser():
    """A headless chromium (Playwright Browser) shared by all the browser tests.

    Package scope, not session: Playwright's sync API runs an asyncio event loop in this
    thread from start to stop, and Django refuses ORM calls in a thread with a running loop
    (SynchronousOnlyOperation). The browser tests call the ORM only between browser steps,
    never concurrently with the loop's work, so they set DJANGO_ALLOW_ASYNC_UNSAFE while the
    browser lives; stopping it after this package keeps both the loop and the setting out of
    the rest of the suite."""
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with pytest.MonkeyPatch.context() as env, sync_playwright() as playwright:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@dataclass
class PageProblems:
    """What went wrong in a page, as readable lines; `origin` is the live server's URL."""

    origin: str
    lines: list[str] = field(default_factory=list)

    def ours(self, url: str) -> bool:
        return url == self.origin or url.startswith(self.origin + "/")

    def on_console(self, message) -> None:
        if message.type == "error":
            self.lines.append(f"console error: {message.text} (at {message.location.get('url', '?')})")

    def on_page_error(self, error) -> None:
        self.lines.append(f"uncaught exception: {error}")

    def on_request_failed(self, request) -> None:
        # A sub-resource still loading when the page moves on (a lazy image, an admin icon)
        # is cancelled by the browser itself: net::ERR_ABORTED, not a failure of ours. A
        # server error still shows as its HTTP status (on_response).
        if request.failure == "net::ERR_ABORTED" and request.resource_type != "document":
            return
        if self.ours(request.url):
            self.lines.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def on_response(self, response) -> None:
        if response.status >= 400 and self.ours(response.url):
            self.lines.append(f"HTTP {response.status}: {response.request.method} {response.url}")


@pytest.fixture(autouse=True)
def page_cache_on(settings):
    """The catalog page cache as in production: the live server commits for real, so its
    tokens change as they would (config/settings/test.py turns it off for the other tests)."""
    from django.core.cache import cache

    settings.CATALOG_CACHE_SECONDS = 300
    cache.clear()


@pytest.fixture
def page(browser, live_server):
    """A page in a new browser context, base URL the live server; fails the test at teardown
    on any console error, page error, failed request or HTTP error from our origin."""
    context = browser.new_context(
        base_url=live_server.url, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = PageProblems(origin=live_server.url)
    page.on("console", problems.on_console)
    page.on("pageerror", problems.on_page_error)
    page.on("requestfailed", problems.on_request_failed)
    page.on("response", problems.on_response)
    yield page
    context.close()
    if problems.lines:
        pytest.fail("the browser saw problems:\n" + "\n".join(problems.lines), pytrace=False)


@pytest.fixture
def shot(page, request):
    """shot("cart") saves a full-page screenshot as NN-cart.png in this test's artifact
    directory (emptied when the test starts); returns the file's path."""
    directory = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    taken = 0

    def save(step: str) -> Path:
        nonlocal taken
        taken += 1
        path = directory / f"{taken:02d}-{step}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return save
