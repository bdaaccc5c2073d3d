"""The address book pages: list, add, edit, delete (after a confirmation), make default.
Exactly one default while any address exists; another customer's address is a 404."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Address
from accounts.services import address_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LONDON = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "line2": "",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "",
}
PARIS = {**LONDON, "line1": "5 Rue de Rivoli", "city": "Paris", "postal_code": "75001", "country": "FR"}
SPRINGFIELD = {
    **LONDON,
    "line1": "742 Evergreen Terrace",
    "city": "Springfield",
    "country_area": "IL",
    "postal_code": "62701",
    "country": "US",
    "phone": "+1 217 555 0100",
}


@pytest.fixture
def user():
    return UserFactory(email="ada@example.com")


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def saved(user, **fields):
    return address_create(user=user, **{**LONDON, **fields})


def defaults(user):
    return list(Address.objects.filter(user=user, is_default=True).values_list("line1", flat=True))


def test_the_list_shows_each_address_in_its_country_format_the_default_first(signed_in, user):
    saved(user, **PARIS)
    saved(user)

    page = signed_in.get(reverse("accounts:addresses")).content.decode()

    assert page.index("5 Rue de Rivoli") < page.index("12 St James")  # the first saved is the default
    assert "France" in page and "United Kingdom" in page  # countries by name
    assert page.count("Make default") == 1
    assert f'href="{reverse("accounts:address_add")}"' in page


def test_an_address_is_saved_cleaned_and_listed_in_its_country_format(signed_in, user):
    signed_in.post(reverse("accounts:address_add"), SPRINGFIELD)

    address = Address.objects.get(user=user)
    assert (address.country_area, str(address.phone)) == ("IL", "+12175550100")  # E.164
    page = signed_in.get(reverse("accounts:addresses")).content.decode()
    assert "Springfield, IL 62701" in page
    assert "United States" in page


def test_an_empty_address_book_says_so(signed_in):
    assert "You have no saved addresses" in signed_in.get(reverse("accounts:addresses")).content.decode()


def test_adding_the_first_address_makes_it_the_default(signed_in, user):
    assert signed_in.get(reverse("accounts:address_add")).status_code == 200

    response = signed_in.post(reverse("accounts:address_add"), LONDON)

    assert response.status_code == 302 and response["Location"] == reverse("accounts:addresses")
    address = Address.objects.get(user=user)
    assert (address.line1, address.country, address.is_default) == ("12 St James's Square", "GB", True)
    assert "The address is saved." in signed_in.get(response["Location"]).content.decode()


def test_adding_an_address_as_the_default_takes_over_from_the_old_one(signed_in, user):
    saved(user)

    signed_in.post(reverse("accounts:address_add"), {**PARIS, "is_default": "on"})

    assert defaults(user) == ["5 Rue de Rivoli"]
    assert Address.objects.filter(user=user).count() == 2


def test_adding_a_second_address_without_the_box_keeps_the_default(signed_in, user):
    saved(user)

    signed_in.post(reverse("accounts:address_add"), PARIS)

    assert defaults(user) == ["12 St James's Square"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**LONDON, "name": ""}, "name"),
        ({**LONDON, "line1": ""}, "line1"),
        ({**LONDON, "country": "ZZ"}, "country"),
        ({**LONDON, "postal_code": "SW1Y 4JHX"}, "postal_code"),
        ({**SPRINGFIELD, "country_area": ""}, "country_area"),
        ({**LONDON, "phone": "12"}, "phone"),
    ],
)
def test_an_invalid_address_shows_the_field_error_and_saves_nothing(signed_in, user, data, field):
    response = signed_in.post(reverse("accounts:address_add"), data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert 'class="field__errors' in response.content.decode() or "errorlist" in response.content.decode()
    assert not Address.objects.filter(user=user).exists()


def test_editing_changes_the_address(signed_in, user):
    address = saved(user)
    page = signed_in.get(reverse("accounts:address_edit", args=[address.pk])).content.decode()
    assert "12 St James" in page

    response = signed_in.post(reverse("accounts:address_edit", args=[address.pk]), {**LONDON, "line1": "1 Pall Mall"})

    assert response.status_code == 302
    address.refresh_from_db()
    assert address.line1 == "1 Pall Mall" and address.is_default


def test_an_invalid_edit_shows_the_field_error_and_changes_nothing(signed_in, user):
    address = saved(user)

    response = signed_in.post(reverse("accounts:address_edit", args=[address.pk]), {**LONDON, "city": ""})

    assert response.status_code == 200
    assert "city" in response.context["form"].errors
    address.refresh_from_db()
    assert address.city == "London"


def test_editing_another_address_can_make_it_the_default(signed_in, user):
    saved(user)
    paris = saved(user, **PARIS)

    signed_in.post(reverse("accounts:address_edit", args=[paris.pk]), {**PARIS, "is_default": "on"})

    assert defaults(user) == ["5 Rue de Rivoli"]


def test_make_default_moves_the_default_to_that_address_only(signed_in, user):
    saved(user)
    paris = saved(user, **PARIS)

    response = signed_in.post(reverse("accounts:address_default", args=[paris.pk]))

    assert response.status_code == 302
    assert defaults(user) == ["5 Rue de Rivoli"]
    assert "That is now your default address." in signed_in.get(response["Location"]).content.decode()


def test_make_default_answers_only_a_post(signed_in, user):
    paris = saved(user, **PARIS)

    assert signed_in.get(reverse("accounts:address_default", args=[paris.pk])).status_code == 405


def test_delete_asks_first_and_deletes_on_post(signed_in, user):
    address = saved(user)

    page = signed_in.get(reverse("accounts:address_delete", args=[address.pk]))
    assert page.status_code == 200 and "Delete this address?" in page.content.decode()
    assert Address.objects.filter(pk=address.pk).exists()

    response = signed_in.post(reverse("accounts:address_delete", args=[address.pk]))

    assert response.status_code == 302
    assert not Address.objects.filter(pk=address.pk).exists()


def test_deleting_the_default_hands_it_to_the_oldest_other_address(signed_in, user):
    london = saved(user)
    saved(user, **PARIS)
    saved(user, line1="3 Baker Street")

    signed_in.post(reverse("accounts:address_delete", args=[london.pk]))

    assert defaults(user) == ["5 Rue de Rivoli"]


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("address_edit", "get"),
        ("address_edit", "post"),
        ("address_delete", "get"),
        ("address_delete", "post"),
        ("address_default", "post"),
    ],
)
def test_another_customers_address_is_not_found_and_stays_as_it_is(signed_in, name, method):
    other = UserFactory(email="grace@example.com")
    theirs = saved(other, line1="1 Navy Yard")

    response = getattr(signed_in, method)(reverse(f"accounts:{name}", args=[theirs.pk]), {**LONDON, "line1": "Taken"})

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.line1 == "1 Navy Yard" and theirs.is_default


def test_the_address_forms_refuse_a_post_without_the_csrf_token(user):
    address = saved(user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.post(reverse("accounts:address_add"), PARIS).status_code == 403
    assert client.post(reverse("accounts:address_delete", args=[address.pk])).status_code == 403
    assert Address.objects.filter(user=user).count() == 1
