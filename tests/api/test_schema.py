"""The OpenAPI document and its Swagger UI, served without any CDN."""

import html
import re

import pytest
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

SCHEMA = "/api/v1/schema/"


@pytest.fixture
def schema(api):
    response = api.get(SCHEMA, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_a_valid_openapi_3_document(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # drf-spectacular's validator (OpenAPI 3.0 JSON Schema); raises if not


def test_the_schema_documents_every_endpoint(schema):
    assert set(schema["paths"]) == {
        "/api/v1/products/",
        "/api/v1/products/{handle}/",
        "/api/v1/categories/",
        "/api/v1/auth/register/",
        "/api/v1/auth/token/",
        "/api/v1/auth/token/refresh/",
        "/api/v1/auth/logout/",
        "/api/v1/auth/password-reset/",
        "/api/v1/auth/me/",
        "/api/v1/auth/me/data/",
        "/api/v1/auth/me/addresses/",
        "/api/v1/auth/me/addresses/{id}/",
        "/api/v1/address-rules/{country}/",
        "/api/v1/orders/",
        "/api/v1/orders/{number}/",
        "/api/v1/orders/{number}/invoice/",
        "/api/v1/orders/{number}/credit-notes/{credit_note}/",
        "/api/v1/orders/{number}/payments/",
        "/api/v1/orders/{number}/cancel/",
        "/api/v1/payments/razorpay/verify/",
        "/api/v1/cart/",
        "/api/v1/cart/items/",
        "/api/v1/cart/items/{line_id}/",
        "/api/v1/cart/validate/",
        "/api/v1/checkout/",
        "/api/v1/checkout/{checkout_id}/",
        "/api/v1/checkout/{checkout_id}/place-order/",
    }


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith("4")}
            assert errors, f"{method.upper()} {path} documents no errors"
            for response in errors.values():
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path)


def test_lists_document_the_page_shape(schema):
    listed = schema["paths"]["/api/v1/products/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = schema["components"]["schemas"][listed["$ref"].rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"data", "total", "page", "totalPages", "suggestion"}  # products: + suggestion


def test_swagger_ui_is_served_from_our_own_static_files(api):
    response = api.get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_swagger_ui_has_no_inline_script_and_its_start_up_script_is_a_file(api):
    """The Content-Security-Policy allows scripts from our origin only, no inline ones: the
    docs page must carry none, and its start-up script must be served as JavaScript."""
    response = api.get("/api/v1/docs/")
    page = response.content.decode()
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts
    assert all(body.strip() == "" for _attrs, body in scripts), "an inline script the CSP would block"
    sources = [re.search(r'src="([^"]+)"', attrs).group(1) for attrs, _body in scripts]
    start_up = [src for src in sources if "script=" in src]
    assert len(start_up) == 1
    script = api.get(html.unescape(start_up[0]))
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
    assert '"/api/v1/schema/"' in script.content.decode()
