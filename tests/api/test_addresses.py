"""auth/me/addresses/: a shopper's own address book; someone else's addresses are 404."""

import pytest

from accounts.models import Address

from .conftest import assert_error

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/me/addresses/"
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
    second = user_api.post(URL, {**HOME, "city": "Paris", "country": "FR", "is_default": True}, format="json").json()
    listed = user_api.get(URL).json()
    assert listed["total"] == 2
    assert [(a["id"], a["is_default"]) for a in listed["data"]] == [(second["id"], True), (first["id"], False)]


def test_patch_changes_fields_and_can_make_an_address_the_default(user_api):
    first = user_api.post(URL, HOME, format="json").json()
    second = user_api.post(URL, {**HOME, "city": "Paris"}, format="json").json()
    response = user_api.patch(f"{URL}{second['id']}/", {"phone": "+33 1 23", "is_default": True}, format="json")
    assert response.status_code == 200
    assert response.json()["phone"] == "+33 1 23"
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
        ({"country": "gb"}, "country"),
        ({"country": "GBR"}, "country"),
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
