"""Staff write content pages in the admin; what is saved is the sanitised body."""

import re

import pytest

from pages.models import Page

from .conftest import page

pytestmark = pytest.mark.django_db

HOSTILE = (
    '<h2 onclick="steal()">Returns</h2>'
    "<script>alert(1)</script>"
    '<p onmouseover="steal()" style="color:red">Within <strong>30 days</strong>.</p>'
    '<ul><li><a href="javascript:steal()">bad</a></li><li><a href="https://example.com/x">good</a></li></ul>'
    '<img src="x" onerror="steal()">'
)


def form(**fields) -> dict:
    return {
        "title": "Shipping and returns",
        "slug": "shipping-returns",
        "body": HOSTILE,
        "published": "on",
        "in_footer": "on",
        "footer_position": "30",
        **fields,
    }


def assert_clean(body: str) -> None:
    assert "<script" not in body and "alert(1)" not in body
    assert not re.search(r"\son\w+=", body), body
    assert "javascript:" not in body and "style=" not in body
    assert "<h2>Returns</h2>" in body and "<strong>30 days</strong>" in body
    assert '<a href="https://example.com/x"' in body


def test_staff_add_a_page_and_the_saved_body_is_sanitised(staff_client):
    response = staff_client.post("/admin/pages/page/add/", form())

    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Page.objects.get(slug="shipping-returns")
    assert_clean(saved.body)
    assert saved.published and saved.in_footer and saved.footer_position == 30


def test_staff_edit_a_page_and_the_change_page_previews_the_sanitised_body(staff_client):
    terms = page("terms", title="Terms")

    response = staff_client.post(
        f"/admin/pages/page/{terms.pk}/change/", form(title="Terms and conditions", slug="terms")
    )

    assert response.status_code == 302
    terms.refresh_from_db()
    assert terms.title == "Terms and conditions"
    assert_clean(terms.body)
    change = staff_client.get(f"/admin/pages/page/{terms.pk}/change/").content.decode()
    preview = change.split('class="page-preview"', 1)[1].split("</div>", 1)[0]
    assert "<h2>Returns</h2>" in preview and "steal()" not in preview


def test_a_page_saved_outside_the_admin_is_sanitised_too():
    terms = page("terms", body=HOSTILE)

    terms.refresh_from_db()
    assert_clean(terms.body)


def test_the_list_searches_titles_and_the_add_page_fills_the_url_from_the_title(staff_client):
    page("terms", title="Terms and conditions")
    page("privacy", title="Privacy policy")

    listing = staff_client.get("/admin/pages/page/", {"q": "privacy"}).content.decode()
    add = staff_client.get("/admin/pages/page/add/").content.decode()

    assert "Privacy policy" in listing and "Terms and conditions" not in listing
    assert "&quot;name&quot;: &quot;slug&quot;, &quot;dependency_ids&quot;: [&quot;#id_title&quot;]" in add
