"""The shopper's language (issue 16): the footer's switcher sets it (Django's set_language),
a signed-in customer's choice is kept on the account and comes back at sign-in, and the
account's emails are written in it. Until German is translated, prices ("38,00 $") and the
response's Content-Language show which language a page was rendered in."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import User
from accounts.tasks import send_email_verification, send_welcome_email
from storefront.i18n import catalogs_compiled
from tests.factories import UserFactory, stocked_variant

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
COOKIE = settings.LANGUAGE_COOKIE_NAME


def login(client, email):
    return client.post(reverse("accounts:login"), {"username": email, "password": PASSWORD})


def choose(client, language, next_url="/products/"):
    return client.post("/i18n/setlang/", {"language": language, "next": next_url})


def test_every_page_s_footer_offers_each_language_in_its_own_name(client):
    page = client.get("/").content.decode()
    assert page.count('action="/i18n/setlang/"') == 1
    assert '<option value="en" lang="en" selected>English</option>' in page
    assert '<option value="de" lang="de">Deutsch</option>' in page
    # No CSRF token: the footer is on pages the catalog cache serves to everyone (language_set is csrf_exempt).
    assert "csrfmiddlewaretoken" not in page.split('action="/i18n/setlang/"')[1]
    assert '<input type="hidden" name="next" value="/">' in page


def test_the_switcher_is_left_out_when_the_shop_offers_one_language(client, settings):
    settings.LANGUAGES = [("en", "English")]
    assert "/i18n/setlang/" not in client.get("/").content.decode()


def test_choosing_german_sets_the_cookie_and_the_next_pages_are_german(client):
    stocked_variant(product__title="Linen Shirt", product__handle="linen-shirt", price=Decimal("38.00"))
    response = choose(client, "de")
    assert response.status_code == 302 and response.url == "/products/"
    assert response.cookies[COOKIE].value == "de"
    page = client.get("/products/linen-shirt/")
    assert page["Content-Language"] == "de"
    html = page.content.decode()
    assert "38,00\xa0$" in html and "$38.00" not in html
    assert '<option value="de" lang="de" selected>Deutsch</option>' in html


def test_accept_language_chooses_until_the_shopper_picks_one(client):
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")["Content-Language"] == "de"
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")["Content-Language"] == "en"
    choose(client, "en")
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")["Content-Language"] == "en"


def test_the_switcher_answers_post_only_and_ignores_a_language_not_offered(client):
    assert client.get("/i18n/setlang/?language=de").status_code == 405
    response = choose(client, "fr")
    assert response.status_code == 302
    assert COOKIE not in response.cookies


def test_a_signed_in_customer_s_choice_is_kept_on_the_account(client):
    user = UserFactory(email="ann@example.com")
    client.force_login(user)
    choose(client, "de")
    user.refresh_from_db()
    assert user.language == "de"
    choose(client, "fr")  # not offered: nothing changes
    user.refresh_from_db()
    assert user.language == "de"


def test_signing_in_brings_the_saved_language_back(client):
    UserFactory(email="ann@example.com", language="de")
    response = login(client, "ann@example.com")
    assert response.status_code == 302
    assert response.cookies[COOKIE].value == "de"
    assert client.get("/")["Content-Language"] == "de"


def test_signing_in_keeps_the_language_chosen_before_when_none_was_saved(client):
    user = UserFactory(email="ann@example.com")
    choose(client, "de")
    login(client, "ann@example.com")
    user.refresh_from_db()
    assert user.language == "de"


def test_signing_in_without_any_choice_changes_nothing(client):
    user = UserFactory(email="ann@example.com")
    response = login(client, "ann@example.com")
    assert COOKIE not in response.cookies
    user.refresh_from_db()
    assert user.language == ""


@pytest.mark.parametrize(("language", "expected"), [("de", "de"), ("", settings.LANGUAGE_CODE), ("fr", "en-us")])
def test_the_account_s_emails_are_written_in_its_language(mailoutbox, language, expected):
    user = UserFactory(email="ann@example.com", language=language)
    assert send_welcome_email(user.pk) == 1
    User.objects.filter(pk=user.pk).update(email_verified_at=None)
    assert send_email_verification(user.pk) == 1
    assert [m.message()["Content-Language"] for m in mailoutbox] == [expected, expected]


def test_the_deploy_check_names_a_catalog_that_was_not_compiled(settings, tmp_path):
    po = tmp_path / "de" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n', encoding="utf-8")
    settings.LOCALE_PATHS = [tmp_path]
    assert [w.id for w in catalogs_compiled()] == ["storefront.W001"]
    po.with_suffix(".mo").write_bytes(b"")
    assert catalogs_compiled() == []


def test_numbers_for_machines_stay_in_dot_notation_on_german_pages(client):
    # Django writes numbers the language's way in templates ("38,00" in German): an input of
    # type number and Open Graph's price need "38.00", or the browser drops the value.
    stocked_variant(product__title="Linen Shirt", product__handle="linen-shirt", price=Decimal("38.00"))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "de"
    product = client.get("/products/linen-shirt/").content.decode()
    assert '<meta property="product:price:amount" content="38.00">' in product
    listing = client.get("/products/?min_price=10.5&max_price=1200").content.decode()
    assert 'name="min_price" min="0" step="0.01" inputmode="decimal" value="10.5"' in listing


@pytest.mark.parametrize(
    ("accept_language", "currency", "expected"),
    [
        ("en-US,en;q=0.9", "USD", "$38.00"),
        ("de-DE,de;q=0.9", "USD", "38,00\xa0$"),
        ("de-DE,de;q=0.9", "EUR", "38,00\xa0€"),
        ("en-IN,en;q=0.9", "INR", "₹3,800.00"),
        ("de-DE,de;q=0.9", "INR", "3.800,00\xa0₹"),
    ],
)
def test_the_product_page_writes_its_price_for_the_shopper_in_the_shop_s_currency(
    client, settings, accept_language, currency, expected
):
    settings.SHOP_CURRENCY = currency
    price = Decimal("3800.00") if currency == "INR" else Decimal("38.00")
    stocked_variant(product__title="Linen Shirt", product__handle="linen-shirt", price=price)
    page = client.get("/products/linen-shirt/", HTTP_ACCEPT_LANGUAGE=accept_language).content.decode()
    assert expected in page, expected
