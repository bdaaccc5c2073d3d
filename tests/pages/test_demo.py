"""The demo creates the four content pages once, and never undoes what staff changed."""

import io

import pytest
from django.core.management import call_command

from pages.models import Page

pytestmark = pytest.mark.django_db

DEMO = [
    ("terms", "Terms and conditions"),
    ("privacy", "Privacy policy"),
    ("shipping-returns", "Shipping and returns"),
    ("contact", "Contact"),
]


def setup_demo() -> str:
    out = io.StringIO()
    call_command("setup_demo", stdout=out)
    return out.getvalue()


def test_setup_demo_creates_the_four_footer_pages_once_and_keeps_staff_edits(settings, client):
    settings.SITE_NAME = "Demo Shop"

    first = setup_demo()

    pages = list(Page.objects.order_by("footer_position"))
    assert [(p.slug, p.title) for p in pages] == DEMO
    assert all(p.published and p.in_footer for p in pages)
    assert all("Demo Shop" in p.body and "demo" in p.body for p in pages)
    assert "Content page Terms and conditions (/pages/terms/) created." in first
    for slug, _title in DEMO:
        assert client.get(f"/pages/{slug}/").status_code == 200

    Page.objects.filter(slug="terms").update(body="<p>Our own terms.</p>", title="Terms of sale")
    Page.objects.filter(slug="contact").update(published=False)
    second = setup_demo()

    assert Page.objects.count() == 4
    assert "Content page" not in second
    terms = Page.objects.get(slug="terms")
    assert (terms.title, terms.body) == ("Terms of sale", "<p>Our own terms.</p>")
    assert not Page.objects.get(slug="contact").published
