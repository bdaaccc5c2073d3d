"""The API's Swagger UI in a real browser, under the shop's Content-Security-Policy: the page
shows the operations, and the browser reports no CSP violation (the `page` fixture fails
the test on any console error, which is where Chromium reports a blocked script)."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 390])
def test_the_api_docs_show_the_operations_under_the_csp(page, shot, width):
    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("API")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 20
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/products/").first).to_be_visible()
    shot(f"api-docs-{width}")
    assert violations == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
