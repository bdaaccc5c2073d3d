"""Addresses for every country at checkout (accounts.forms.AddressForm inside CheckoutForm,
kernel.addresses): what each country refuses is a field error on the page, what it accepts
is printed in its own format on the order page and the invoice; saved addresses, "save this
address", a billing address of its own; tax by state."""

from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Address
from accounts.services import address_create
from checkout.models import TaxRate
from orders.invoices import invoice_context, invoice_issue, invoice_render_pdf
from orders.models import Order
from tests.factories import UserFactory
from tests.orders.test_invoices import pdf_text
from tests.storefront.conftest import ADDRESS

pytestmark = pytest.mark.django_db

# One valid address per country, and the lines it prints (after the name and the street).
COUNTRIES = {
    "US": (
        {"line1": "1 Main St", "city": "Springfield", "country_area": "IL", "postal_code": "62701"},
        ["1 Main St", "Springfield, IL 62701", "United States"],
    ),
    "CA": (
        {"line1": "1 rue Sherbrooke", "city": "Montréal", "country_area": "QC", "postal_code": "H3Z 2Y7"},
        ["1 rue Sherbrooke", "Montréal QC H3Z 2Y7", "Canada"],
    ),
    "GB": (
        {"line1": "10 Downing Street", "city": "London", "postal_code": "sw1a 2aa"},
        ["10 Downing Street", "London", "SW1A 2AA", "United Kingdom"],
    ),
    "DE": (
        {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117"},
        ["Unter den Linden 1", "10117 Berlin", "Germany"],
    ),
    "IN": (
        {"line1": "12 MG Road", "city": "Bengaluru", "country_area": "Karnataka", "postal_code": "560001"},
        ["12 MG Road", "Bengaluru 560001", "Karnataka", "India"],
    ),
    "JP": (
        # Japan prints no town line of its own: the ward joins the street, the prefecture after it.
        {"line1": "1-1 Chiyoda", "city": "Chiyoda-ku", "country_area": "東京都", "postal_code": "100-0001"},
        ["1-1 Chiyoda", "Chiyoda-ku, Tokyo", "100-0001", "Japan"],
    ),
}


def address_of(country_code: str, **overrides) -> dict:
    fields, _lines = COUNTRIES[country_code]
    return {**ADDRESS, "line2": "", "country": country_code, **fields, **overrides}


def errors_of(response) -> dict:
    assert response.status_code == 200  # the page again, not a redirect to the review
    return response.context["form"].errors


class TestRefusedWithAFieldError:
    def test_a_us_address_without_its_state(self, shopper, variant, shipping):
        shopper.add(variant)
        response = shopper.checkout(shipping, **address_of("US", country_area=""))

        assert errors_of(response) == {"country_area": ["This field is required."]}
        page = response.content.decode()
        assert 'id="id_country_area_error"' in page and "This field is required." in page
        assert '<label class="field__label" for="id_country_area">State</label>' in page

    def test_a_gb_address_with_a_malformed_postcode(self, shopper, variant, shipping):
        shopper.add(variant)
        response = shopper.checkout(shipping, **address_of("GB", postal_code="SW1A1AA1"))

        assert errors_of(response) == {"postal_code": ["Enter a valid postcode."]}
        assert 'id="id_postal_code_error"' in response.content.decode()

    def test_a_country_that_is_not_one(self, shopper, variant, shipping):
        shopper.add(variant)
        response = shopper.checkout(shipping, **address_of("GB", country="ZZ"))

        assert list(errors_of(response)) == ["country"]
        assert 'id="id_country_error"' in response.content.decode()
        assert not Order.objects.exists()


@pytest.mark.parametrize("country", list(COUNTRIES))
def test_an_address_is_printed_in_its_countrys_format_on_the_order_page_and_the_invoice(
    shopper, variant, shipping, country
):
    _fields, lines = COUNTRIES[country]
    shopper.add(variant)
    response = shopper.checkout(shipping, **address_of(country, phone=""))
    assert response.status_code == 302, response.context["form"].errors
    shopper.pay(shopper.place())
    order = Order.objects.get()
    assert order.status == Order.Status.PAID

    page = shopper.client.get(order.get_guest_url()).content.decode()
    assert "<br>".join(["Ada Lovelace", *lines]) in page

    invoice = invoice_issue(order=order)
    html = render_to_string("orders/invoice.html", invoice_context(invoice=invoice))
    # Billed to (the shipping address, no other given) and shipped to, both in that format.
    assert html.count("<br>".join(["Ada Lovelace", *lines])) == 2


def test_the_invoice_pdf_prints_the_billing_address_in_its_format(shopper, variant, shipping):
    shopper.add(variant)
    billing = {f"billing-{name}": value for name, value in address_of("JP", name="Taro Yamada").items()}
    response = shopper.checkout(
        shipping,
        **address_of("US"),
        billing_choice_shown="1",
        **{k: v for k, v in billing.items() if k != "billing-email"},
    )
    assert response.status_code == 302, response.context["form"].errors
    shopper.pay(shopper.place())
    order = Order.objects.get()
    assert (order.billing_name, str(order.billing_country), order.billing_line2) == ("Taro Yamada", "JP", "Chiyoda-ku")

    text = pdf_text(invoice_render_pdf(invoice=invoice_issue(order=order)))

    billed, shipped = text.lower().index("billed to"), text.lower().index("shipped to")
    assert "Taro Yamada\n1-1 Chiyoda\nChiyoda-ku, Tokyo\n100-0001\nJapan" in text[billed:shipped]
    assert "Ada Lovelace\n1 Main St\nSpringfield, IL 62701\nUnited States" in text[shipped:]


def test_a_billing_address_of_its_own_is_checked_for_its_country(shopper, variant, shipping):
    shopper.add(variant)
    response = shopper.checkout(
        shipping,
        **address_of("GB"),
        billing_choice_shown="1",
        **{"billing-name": "Ann Lee", "billing-line1": "1 Main St", "billing-city": "Springfield"},
        **{"billing-postal_code": "62701", "billing-country": "US"},
    )

    assert response.status_code == 200
    assert response.context["form"].billing_form.errors == {"country_area": ["This field is required."]}
    assert 'id="id_billing-country_area_error"' in response.content.decode()


def test_ticked_same_as_shipping_bills_the_shipping_address_whatever_else_was_typed(shopper, variant, shipping):
    shopper.add(variant)
    response = shopper.checkout(
        shipping, **address_of("GB"), billing_choice_shown="1", billing_same="on", **{"billing-country": "ZZ"}
    )
    assert response.status_code == 302
    shopper.place()

    order = Order.objects.get()
    assert order.billing_address == order.shipping_address
    assert order.billing_postal_code == "SW1A 2AA"


def test_a_phone_is_stored_e164_read_with_the_addresss_country(shopper, variant, shipping):
    shopper.add(variant)
    response = shopper.checkout(shipping, **address_of("GB", phone="020 7946 0958"))
    assert response.status_code == 302
    shopper.place()

    assert str(Order.objects.get().shipping_phone) == "+442079460958"


class TestSignedIn:
    @pytest.fixture
    def user(self):
        return UserFactory(email="ada@example.com")

    @pytest.fixture
    def signed_in(self, shopper, user):
        shopper.client.force_login(user)
        return shopper

    def test_the_saved_addresses_are_offered_the_default_chosen_and_filled_in(self, signed_in, user, variant):
        other = address_create(user=user, **{k: v for k, v in address_of("DE").items() if k != "email"})
        home = address_create(user=user, is_default=True, **{k: v for k, v in address_of("US").items() if k != "email"})
        signed_in.add(variant)

        response = signed_in.client.get("/checkout/")

        form = response.context["form"]
        assert form["saved_address"].value() == str(home.pk)
        assert (form["line1"].value(), form["country"].value(), form["country_area"].value()) == (
            "1 Main St",
            "US",
            "IL",
        )
        page = response.content.decode()
        assert "Springfield, IL 62701" in page and "10117 Berlin" in page
        assert f'value="{other.pk}"' in page and 'value="new"' in page

    def test_a_saved_address_chosen_is_the_one_shipped_to(self, signed_in, user, variant, shipping):
        berlin = address_create(user=user, **{k: v for k, v in address_of("DE").items() if k != "email"})
        signed_in.add(variant)

        # The posted fields (another address) give way to the saved one chosen.
        response = signed_in.checkout(shipping, **address_of("GB"), saved_address=str(berlin.pk))
        assert response.status_code == 302
        signed_in.place()

        order = Order.objects.get()
        assert (order.shipping_city, order.shipping_postal_code, str(order.shipping_country)) == (
            "Berlin",
            "10117",
            "DE",
        )

    def test_save_this_address_keeps_a_new_address_once(self, signed_in, user, variant, shipping):
        signed_in.add(variant)

        signed_in.checkout(shipping, **address_of("CA", phone="514 555 0199"), save_address="on")
        signed_in.checkout(shipping, **address_of("CA", phone="514 555 0199"), save_address="on")

        saved = Address.objects.get(user=user)
        assert (saved.city, saved.country_area, str(saved.phone), saved.is_default) == (
            "Montréal",
            "QC",
            "+15145550199",
            True,
        )

    def test_without_the_box_nothing_is_saved(self, signed_in, user, variant, shipping):
        signed_in.add(variant)
        signed_in.checkout(shipping, **address_of("CA"))
        assert not Address.objects.exists()


class TestTaxByState:
    @pytest.fixture(autouse=True)
    def rates(self):
        TaxRate.objects.create(country="US", name="Sales tax", rate=Decimal("0.0500"))
        TaxRate.objects.create(country="US", country_area="CA", name="CA sales tax", rate=Decimal("0.0725"))

    def test_a_states_rate_wins_over_its_countrys(self, shopper, variant, shipping):
        shopper.add(variant)
        california = {"city": "Sacramento", "country_area": "CA", "postal_code": "95814"}
        shopper.checkout(shipping, **address_of("US", **california))
        shopper.place()

        order = Order.objects.get()
        assert {line.tax_rate for line in order.lines.all()} == {Decimal("0.0725")}

    def test_another_state_pays_the_countrys_rate(self, shopper, variant, shipping):
        shopper.add(variant)
        shopper.checkout(shipping, **address_of("US"))  # Illinois: no rate of its own
        review = shopper.client.get("/checkout/review/")

        assert review.context["pricing"].tax_rate == Decimal("0.0500")
        assert review.context["pricing"].tax_name == "Sales tax"


def test_staff_set_a_states_rate_by_its_code_or_name(admin_client):
    url = reverse("admin:checkout_taxrate_add")

    response = admin_client.post(url, {"country": "US", "country_area": "California", "name": "Tax", "rate": "0.0725"})
    assert response.status_code == 302
    assert TaxRate.objects.get().country_area == "CA"

    response = admin_client.post(url, {"country": "US", "country_area": "Atlantis", "name": "Tax", "rate": "0.01"})
    assert response.status_code == 200
    assert "Not a subdivision of United States" in str(response.context["adminform"].form.errors["country_area"])

    listing = admin_client.get(reverse("admin:checkout_taxrate_changelist")).content.decode()
    assert "United States" in listing


def test_the_confirmation_email_prints_both_addresses_in_their_format(
    shopper, variant, shipping, mailoutbox, django_capture_on_commit_callbacks
):
    shopper.add(variant)
    billing = {"billing-name": "Ann Lee", "billing-line1": "Unter den Linden 1", "billing-city": "Berlin"}
    shopper.checkout(
        shipping,
        **address_of("US", phone="(217) 555-0100"),
        billing_choice_shown="1",
        **billing,
        **{"billing-postal_code": "10117", "billing-country": "DE"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        shopper.pay(shopper.place())

    (email,) = [message for message in mailoutbox if "confirmed" in message.subject]
    assert "Ada Lovelace\n  1 Main St\n  Springfield, IL 62701\n  United States\n  +1 217-555-0100" in email.body
    assert "Billed to:\n  Ann Lee\n  Unter den Linden 1\n  10117 Berlin\n  Germany" in email.body
    html = email.alternatives[0][0]
    assert "Springfield, IL 62701<br>United States<br>+1 217-555-0100" in html
    assert "Unter den Linden 1<br>10117 Berlin<br>Germany" in html


def test_the_checkout_page_names_the_country_it_taxes_for(shopper, variant):
    TaxRate.objects.create(country="US", name="Sales tax", rate=Decimal("0.0500"))
    shopper.add(variant)

    page = shopper.client.get("/checkout/").content.decode()

    assert "(5 %, United States)" in page
