import pytest

from pages.models import Page


def page(slug: str, **fields) -> Page:
    """A published footer page at /pages/<slug>/ unless `fields` say otherwise."""
    defaults = {"title": slug.replace("-", " ").capitalize(), "body": f"<p>About {slug}.</p>"}
    return Page.objects.create(slug=slug, **{"published": True, "in_footer": True, **defaults, **fields})


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_user(
        email="staff@example.com", password="a long enough password", is_staff=True, is_superuser=True
    )
    client.force_login(staff)
    return client
