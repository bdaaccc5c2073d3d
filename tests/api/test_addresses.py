"""auth/me/addresses/: a shopper's own address book; someone else's addresses are 404."""

from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Address

from .conftest import assert_error

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/me/addresses/"
GERMAN_CATALOG = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES" / "django.mo"
HOME = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


def test_the_first_address_becomes_the_default(user_api, user):
    response = user_api.post(URL, HOME, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["is_default"] is True
    assert body["line2"] == "" and body["phone"] == ""
    assert Address.objects.get().user == user


def test_a_new_default_takes_over_from_the_old(user_api):
    first = user_api.post(URL, HOME, format="json").json()
    paris = {**HOME, "city": "Paris", "postal_code": "75001", "country": "FR", "is_default": True}
    second = user_api.post(URL, paris, format="json").json()
    listed = user_api.get(URL).json()
    assert listed["total"] == 2
    assert [(a["id"], a["is_default"]) for a in listed["data"]] == [(second["id"], True), (first["id"], False)]


def test_patch_changes_fields_and_can_make_an_address_the_default(user_api):
    first = user_api.post(URL, HOME, format="json").json()
    second = user_api.post(URL, {**HOME, "city": "Paris"}, format="json").json()
    response = user_api.patch(f"{URL}{second['id']}/", {"phone": "020 7946 0958", "is_default": True}, format="json")
    assert response.status_code == 200
    assert response.json()["phone"] == "+442079460958"  # read as a GB number, stored E.164
    assert Address.objects.get(is_default=True).pk == second["id"]
    assert user_api.get(f"{URL}{first['id']}/").json()["is_default"] is False


def test_deleting_the_default_hands_it_to_the_oldest_remaining(user_api):
    first = user_api.post(URL, HOME, format="json").json()
    second = user_api.post(URL, {**HOME, "city": "Paris"}, format="json").json()
    assert user_api.delete(f"{URL}{first['id']}/").status_code == 204
    assert Address.objects.get().pk == second["id"]
    assert Address.objects.get().is_default is True


@pytest.mark.parametrize(
    "change, field",
    [
        ({"country": "ZZ"}, "country"),
        ({"country": "GBR"}, "country"),
        ({"country": ""}, "country"),
        ({"postal_code": "SW1A1AA1"}, "postal_code"),
        ({"phone": "+44 1"}, "phone"),
        ({"name": ""}, "name"),
        ({"postal_code": "x" * 21}, "postal_code"),
        ({"city": None}, "city"),
    ],
)
def test_it_rejects_bad_addresses(user_api, change, field):
    error = assert_error(user_api.post(URL, {**HOME, **change}, format="json"), 400, "invalid")
    assert field in error["fields"]
    assert not Address.objects.exists()


def test_someone_elses_address_is_404_for_every_method(user_api, outsider_api):
    address = user_api.post(URL, HOME, format="json").json()
    detail = f"{URL}{address['id']}/"
    assert_error(outsider_api.get(detail), 404, "not_found")
    assert_error(outsider_api.patch(detail, {"city": "Mars"}, format="json"), 404, "not_found")
    assert_error(outsider_api.delete(detail), 404, "not_found")
    assert outsider_api.get(URL).json()["total"] == 0
    assert Address.objects.get().city == "London"


def test_addresses_require_authentication(api, db):
    assert_error(api.get(URL), 401, "not_authenticated")
    assert_error(api.post(URL, HOME, format="json"), 401, "not_authenticated")
    assert_error(api.get(f"{URL}1/"), 401, "not_authenticated")


def test_a_us_address_needs_its_state_and_a_gb_one_a_real_postcode(user_api):
    us = {"name": "Ann Lee", "line1": "1 Main St", "city": "Springfield", "postal_code": "62701", "country": "US"}
    error = assert_error(user_api.post(URL, us, format="json"), 400, "invalid")
    assert error["fields"] == {"country_area": ["This field is required."]}

    error = assert_error(user_api.post(URL, {**HOME, "postal_code": "SW1A1AA1"}, format="json"), 400, "invalid")
    assert error["fields"] == {"postal_code": ["Enter a valid postcode."]}

    error = assert_error(user_api.post(URL, {**HOME, "country": "ZZ"}, format="json"), 400, "invalid")
    assert list(error["fields"]) == ["country"]
    assert not Address.objects.exists()


def test_an_address_comes_back_cleaned_for_its_country_with_its_lines(user_api):
    us = {
        "name": "Ann Lee",
        "line1": "1 Main St",
        "city": "Springfield",
        "postal_code": "62701",
        "country": "us",
        "country_area": "Illinois",
        "phone": "(217) 555-0100",
    }
    body = user_api.post(URL, us, format="json").json()

    assert (body["country"], body["country_area"], body["phone"]) == ("US", "IL", "+12175550100")
    assert body["country_name"] == "United States"
    assert body["lines"] == ["Ann Lee", "1 Main St", "Springfield, IL 62701", "United States"]
    assert str(Address.objects.get().phone) == "+12175550100"


def test_a_partial_change_is_checked_as_the_whole_address_it_makes(user_api):
    address = user_api.post(URL, HOME, format="json").json()

    # A GB address moved to the US without a state (nor a ZIP code) is refused.
    error = assert_error(user_api.patch(f"{URL}{address['id']}/", {"country": "US"}, format="json"), 400, "invalid")
    assert "country_area" in error["fields"] and "postal_code" in error["fields"]
    assert Address.objects.get().country == "GB"


def test_the_address_rules_of_a_country(api):
    body = api.get("/api/v1/address-rules/jp/").json()

    assert body["labels"]["country_area"] == "Prefecture" and body["labels"]["postal_code"] == "Postal code"
    assert ["東京都", "Tokyo"] in body["country_area_choices"]
    assert "city" not in body["used"] and "country_area" in body["required"]
    assert api.get("/api/v1/address-rules/US/").json()["labels"]["postal_code"] == "ZIP code"
    assert api.get("/api/v1/address-rules/ZZ/").status_code == 404
    assert body["country_area_prompt"] == "Select a prefecture" and body["postal_code_hint"] == "e.g. 154-0023"


@pytest.mark.skipif(not GERMAN_CATALOG.exists(), reason="German catalog not compiled: run make translations")
def test_the_address_rules_answer_in_the_shopper_s_language(api):
    response = api.get("/api/v1/address-rules/US/", HTTP_ACCEPT_LANGUAGE="de")
    body = response.json()
    assert body["labels"] == {
        "country_area": "Bundesstaat",
        "postal_code": "ZIP-Code",
        "city": "Ort",
        "city_area": "Stadtteil",
    }
    assert body["country_area_prompt"] == "Bundesstaat auswählen"
    assert body["postal_code_hint"].startswith("z. B. ")
    # Browsers keep a copy per language: the cookie the switcher sets, or Accept-Language.
    assert {"Accept-Language", "Cookie"} <= {part.strip() for part in response["Vary"].split(",")}
    assert api.get("/api/v1/address-rules/US/").json()["labels"]["country_area"] == "State"


@pytest.mark.skipif(not GERMAN_CATALOG.exists(), reason="German catalog not compiled: run make translations")
def test_an_address_refused_in_german_says_why_in_german(user_api):
    response = user_api.post(URL, {**HOME, "postal_code": "SW1A1AA1"}, format="json", HTTP_ACCEPT_LANGUAGE="de")
    error = assert_error(response, 400, "invalid")
    assert error["fields"] == {"postal_code": ["Bitte geben Sie eine gültige Postleitzahl ein."]}
