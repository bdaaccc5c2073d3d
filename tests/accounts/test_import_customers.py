"""import_customers: Shopify's customers export and the generic file of home-grown backends,
written through the command as a merchant runs it."""

from __future__ import annotations

import io

import argon2
import bcrypt
import pytest
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.importer import customers_differences, customers_import
from accounts.models import Address, User
from config.settings.base import PASSWORD_HASHERS as BASE_PASSWORD_HASHERS
from orders.customer_export import CUSTOMER_COLUMNS
from tests.conftest import csv_rows_write
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
GENERIC_HEADER = ["email", "first_name", "last_name", "password_hash", "created_at"]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Sign-in rate limits count in the cache.
    cache.clear()
    yield
    cache.clear()


def shopify_row(email: str, **values: str) -> dict[str, str]:
    row = {
        "Customer ID": "'7000000000001",
        "First Name": "Ann",
        "Last Name": "Lee",
        "Email": email,
        "Accepts Email Marketing": "no",
        "Default Address Address1": "1 Main St",
        "Default Address City": "Springfield",
        "Default Address Province Code": "IL",
        "Default Address Country Code": "US",
        "Default Address Zip": "'62701",
        "Accepts SMS Marketing": "no",
        "Total Spent": "0.00",
        "Total Orders": "0",
        "Tax Exempt": "no",
    }
    row.update(values)
    return row


def ann(**values: str) -> dict[str, str]:
    return shopify_row("ann@example.com", **values)


ANN = ann()


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_customers", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def rejected(*args: str) -> tuple[str, str]:
    """stderr and the error of an import that must be refused."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("import_customers", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue(), str(exc.value)


# Tests never show a password hash, even when they fail: the assertions below compare hashes
# outside `assert` (pytest prints the operands of a failing one) and leave `password` out of
# the rows they compare.
USER_COLUMNS = [f.attname for f in User._meta.concrete_fields if f.name != "password"]


def shows(secret: str, text: str) -> bool:
    return secret in text


def hashed_with(user: User, prefix: str) -> bool:
    return user.password.startswith(prefix)


def snapshot() -> tuple[list[dict], list[dict]]:
    users = list(User.objects.order_by("pk").values(*USER_COLUMNS))
    addresses = list(Address.objects.order_by("pk").values())
    return users, addresses


# -- the shared sample -----------------------------------------------------------------------
def test_the_shared_customers_export_imports_completely(customers_csv, client):
    out, _ = run(str(customers_csv))

    assert "Customers: 40 created, 0 updated, 0 unchanged, 0 skipped. Addresses: 37 created." in out
    assert User.objects.count() == 40
    assert Address.objects.count() == 37
    assert Address.objects.filter(is_default=True).count() == 37
    assert Address.objects.exclude(company="").count() == 7
    assert User.objects.filter(tax_exempt=True).count() == 2
    countries = {c: Address.objects.filter(country=c).count() for c in ("US", "CA", "GB", "DE", "IN", "AU")}
    assert countries == {"US": 15, "CA": 5, "GB": 5, "DE": 4, "IN": 4, "AU": 4}
    assert not any(u.has_usable_password() for u in User.objects.all())
    assert not User.objects.filter(imported_at=None).exists()
    names = set(User.objects.values_list("first_name", "last_name"))
    assert {("花子", "山田"), ("Łukasz", "Nowak"), ("Kevin", "O'Brien"), ("Inés", "Ñúñez"), ("Zoë", "Martin")} <= names

    zoe = User.objects.get(email="zoe.martin@example.com")
    assert zoe.external_id == "7542461559134"
    assert zoe.tags == "VIP, newsletter"
    assert str(zoe.phone) == "+13235550147"
    assert zoe.accepts_marketing and zoe.accepts_sms_marketing and zoe.marketing_consent_at is not None
    home = zoe.addresses.get()
    assert (home.line1, home.line2, home.city, home.country_area, home.postal_code, str(home.phone)) == (
        "2417 Sunset Blvd",
        "Apt 5",
        "Los Angeles",
        "CA",
        "90026",
        "+13235550147",
    )
    olivia = User.objects.get(email="olivia.brooks@example.com")
    assert olivia.note == "Allergic to lavender scents.\nCall before delivery, the buzzer is broken."
    assert User.objects.get(email="rebecca.stone@example.org").addresses.get().postal_code == "02116"
    assert User.objects.get(email="arjun.mehta@example.com").addresses.get().country_area == "Maharashtra"
    sunflower = User.objects.get(email="hello.sunflower@example.org")
    assert (sunflower.first_name, sunflower.last_name, sunflower.addresses.count()) == ("", "", 0)
    assert User.objects.filter(accepts_marketing=False, marketing_consent_at__isnull=False).count() == 0

    # The upper-case email is one account with Marcus's orders' spellings, and signs in with them.
    marcus = User.objects.get(email__iexact="marcus.bell@example.net")
    assert marcus.email == "MARCUS.BELL@example.net"
    marcus.set_password("a new password for marcus")
    marcus.save()
    response = client.post(
        reverse("accounts:login"), {"username": "marcus.bell@example.net", "password": "a new password for marcus"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(marcus.pk)
    assert customers_differences(paths=[customers_csv]) == []


def test_a_second_import_changes_nothing(customers_csv):
    run(str(customers_csv))
    before = snapshot()

    out, _ = run(str(customers_csv))

    assert "Customers: 0 created, 0 updated, 40 unchanged, 0 skipped. Addresses: 0 created." in out
    assert snapshot() == before


def test_a_dry_run_writes_nothing(customers_csv):
    out, _ = run(str(customers_csv), "--dry-run")

    assert "Dry run, nothing written. Customers: 40 created" in out
    assert User.objects.count() == 0
    assert Address.objects.count() == 0


# -- updates -----------------------------------------------------------------------------------
def test_it_updates_an_account_by_email_in_any_case_and_keeps_its_spelling(tmp_path):
    user = UserFactory(email="ann.lee@example.com", first_name="Annie")
    path = csv_rows_write(tmp_path / "c.csv", CUSTOMER_COLUMNS, [shopify_row("ANN.LEE@Example.com", Tags="b ,a,, c")])

    out, _ = run(str(path))

    assert "Customers: 0 created, 1 updated, 0 unchanged" in out
    user.refresh_from_db()
    assert (user.email, user.first_name, user.tags, user.external_id) == (
        "ann.lee@example.com",
        "Ann",
        "b, a, c",
        "7000000000001",
    )
    assert user.imported_at is None  # marked on accounts the import creates
    assert user.check_password("correct horse battery staple")
    assert User.objects.count() == 1
    assert customers_differences(paths=[path]) == []

    User.objects.filter(pk=user.pk).update(last_name="Leigh")
    assert customers_differences(paths=[path]) == ['ANN.LEE@example.com: last name "Lee" in the file, "Leigh" here']


def test_consent_gets_its_date_when_it_turns_on_and_keeps_it(tmp_path):
    path = csv_rows_write(tmp_path / "c.csv", CUSTOMER_COLUMNS, [shopify_row("ann@example.com")])
    run(str(path))
    user = User.objects.get()
    assert not user.accepts_marketing and user.marketing_consent_at is None

    csv_rows_write(path, CUSTOMER_COLUMNS, [shopify_row("ann@example.com", **{"Accepts Email Marketing": "yes"})])
    run(str(path))
    user.refresh_from_db()
    given = user.marketing_consent_at
    assert user.accepts_marketing and given is not None

    out, _ = run(str(path))
    user.refresh_from_db()
    assert "1 unchanged" in out
    assert user.marketing_consent_at == given

    csv_rows_write(path, CUSTOMER_COLUMNS, [shopify_row("ann@example.com", **{"Accepts Email Marketing": "no"})])
    run(str(path))
    user.refresh_from_db()
    assert not user.accepts_marketing and user.marketing_consent_at is None


def test_a_new_address_is_added_but_the_default_stays(tmp_path):
    path = csv_rows_write(tmp_path / "c.csv", CUSTOMER_COLUMNS, [shopify_row("ann@example.com")])
    run(str(path))
    csv_rows_write(path, CUSTOMER_COLUMNS, [shopify_row("ann@example.com", **{"Default Address Address1": "2 Oak St"})])

    out, _ = run(str(path))

    assert "1 updated" in out and "Addresses: 1 created" in out
    addresses = list(User.objects.get().addresses.order_by("pk").values_list("line1", "is_default"))
    assert addresses == [("1 Main St", True), ("2 Oak St", False)]


def test_staff_accounts_are_skipped_and_never_changed(tmp_path):
    staff = UserFactory(email="boss@example.com", first_name="Boss", is_staff=True)
    path = csv_rows_write(
        tmp_path / "c.csv",
        CUSTOMER_COLUMNS,
        [shopify_row("Boss@example.com", **{"First Name": "Mallory", "Customer ID": "'7000000000009"}), ANN],
    )
    before = User.objects.filter(pk=staff.pk).values(*USER_COLUMNS).get()
    password = User.objects.get(pk=staff.pk).password

    out, _ = run(str(path))

    assert "Customers: 1 created, 0 updated, 0 unchanged, 1 skipped." in out
    assert "boss@example.com" in out
    assert User.objects.filter(pk=staff.pk).values(*USER_COLUMNS).get() == before
    unchanged = User.objects.get(pk=staff.pk).password == password
    assert unchanged
    assert not staff.addresses.exists()


# -- passwords ---------------------------------------------------------------------------------
def test_customers_sign_in_with_their_old_passwords_and_get_argon2(tmp_path, client, settings):
    settings.PASSWORD_HASHERS = BASE_PASSWORD_HASHERS
    bcrypt_2b = bcrypt.hashpw(b"pw 2b", bcrypt.gensalt(4)).decode()
    # PHP's crypt() writes "$2y$" for the same algorithm; the bcrypt package verifies it.
    bcrypt_2y = bcrypt.hashpw(b"pw 2y", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    made = {
        "2a": ("pw 2a", bcrypt.hashpw(b"pw 2a", bcrypt.gensalt(4, prefix=b"2a")).decode(), "bcrypt$$2a$"),
        "2b": ("pw 2b", bcrypt_2b, "bcrypt$$2b$"),
        "2y": ("pw 2y", bcrypt_2y, "bcrypt$$2y$"),
        "pbkdf2": ("pw pbkdf2", make_password("pw pbkdf2", hasher="pbkdf2_sha256"), "pbkdf2_sha256$"),
        "argon2": (
            "pw argon2",
            argon2.PasswordHasher(time_cost=1, memory_cost=1024).hash("pw argon2"),
            "argon2$argon2id$",
        ),
    }
    rows = []
    for name, (_, hashed, _) in made.items():
        for channel in ("web", "api"):
            rows.append({"email": f"{channel}-{name}@example.com", "first_name": name, "password_hash": hashed})
    rows.append({"email": "nopassword@example.com", "created_at": "2023-05-01 09:30:00 -0400"})
    path = csv_rows_write(tmp_path / "users.csv", GENERIC_HEADER, rows)

    out, err = run(str(path))

    assert "Customers: 11 created" in out
    printed = [name for name, (_, hashed, _) in made.items() if shows(hashed, out + err)]
    assert printed == []
    nobody = User.objects.get(email="nopassword@example.com")
    assert not nobody.has_usable_password()
    assert nobody.date_joined.isoformat() == "2023-05-01T13:30:00+00:00"

    api = APIClient()
    for name, (password, _, stored_as) in made.items():
        web_user = User.objects.get(email=f"web-{name}@example.com")
        api_user = User.objects.get(email=f"api-{name}@example.com")
        stored = hashed_with(web_user, stored_as) and hashed_with(api_user, stored_as)
        assert stored, f"{name}: not stored as {stored_as}…"

        client.logout()
        response = client.post(reverse("accounts:login"), {"username": web_user.email, "password": password})
        assert response.status_code == 302, name
        assert client.session["_auth_user_id"] == str(web_user.pk)

        response = api.post(TOKEN, {"email": api_user.email, "password": password}, format="json")
        assert response.status_code == 200, name
        assert set(response.json()) == {"access", "refresh"}

        for user in (web_user, api_user):
            user.refresh_from_db()
            rehashed = hashed_with(user, "argon2$argon2id$")
            assert rehashed, f"{name}: not re-hashed with Argon2"
            assert user.check_password(password)

    response = api.post(TOKEN, {"email": "web-2b@example.com", "password": "pw 2a"}, format="json")
    assert response.status_code == 401


def test_a_customer_who_set_a_password_keeps_it(tmp_path, settings):
    settings.PASSWORD_HASHERS = BASE_PASSWORD_HASHERS
    user = UserFactory(email="ann@example.com")
    waiting = UserFactory(email="bob@example.com")
    waiting.set_unusable_password()
    waiting.save()
    hashed = bcrypt.hashpw(b"old shop password", bcrypt.gensalt(4)).decode()
    rows = [{"email": e, "password_hash": hashed} for e in ("ann@example.com", "bob@example.com")]
    path = csv_rows_write(tmp_path / "users.csv", GENERIC_HEADER, rows)

    out, _ = run(str(path))

    assert "0 created, 1 updated, 1 unchanged" in out
    user.refresh_from_db()
    waiting.refresh_from_db()
    assert user.check_password("correct horse battery staple")
    assert waiting.check_password("old shop password")


@pytest.mark.parametrize(
    "unknown",
    [
        "5f4dcc3b5aa765d61d8327deb882cf99",  # bare MD5
        "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",  # LDAP
        "$1$saltsalt$YhJ9yXg8L0OvF0qLpBz1a/",  # md5-crypt
        "$2b$12$tooShort",
        "sha1$salt$6b1d5f0e3c4a",  # a hasher Django has but settings do not list
    ],
)
def test_an_unknown_hash_format_is_refused_without_showing_it(tmp_path, settings, unknown):
    settings.PASSWORD_HASHERS = BASE_PASSWORD_HASHERS
    UserFactory(email="already@example.com")
    good = bcrypt.hashpw(b"fine", bcrypt.gensalt(4)).decode()
    rows = [{"email": "ann@example.com", "password_hash": good}, {"email": "bob@example.com", "password_hash": unknown}]
    path = csv_rows_write(tmp_path / "users.csv", GENERIC_HEADER, rows)

    output, error = rejected(str(path))

    assert f'{path}:3: column "password_hash": unknown password hash format' in output
    assert "Import rejected: 1 problem(s); nothing was written." in error
    leaked = shows(unknown, output + error) or shows(good, output + error)
    assert not leaked, "a password hash was printed"
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("costly", "what"),
    [
        ("$2b$17$" + "a" * 53, "work factor is 17, over 16"),
        ("$argon2id$v=19$m=4194304,t=3,p=4$c2FsdHNhbHRzYWx0$" + "a" * 43, "memory cost is 4194304, over 524288"),
        ("pbkdf2_sha256$100000000$salt$" + "a" * 44, "iterations is 100000000, over 10000000"),
    ],
    ids=["bcrypt-cost-17", "argon2-4-GiB", "pbkdf2-10^8"],
)
def test_a_hash_too_costly_to_check_at_every_sign_in_is_refused(tmp_path, settings, costly, what):
    settings.PASSWORD_HASHERS = BASE_PASSWORD_HASHERS
    path = csv_rows_write(
        tmp_path / "users.csv", GENERIC_HEADER, [{"email": "ann@example.com", "password_hash": costly}]
    )

    output, _ = rejected(str(path))

    assert f'{path}:2: column "password_hash": the hash\'s {what}' in output
    assert not shows(costly, output), "a password hash was printed"
    assert User.objects.count() == 0


# -- malformed files ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rows", "line", "column", "message"),
    [
        (
            [shopify_row("ann@example.com"), shopify_row("not-an-email")],
            3,
            "Email",
            'not a valid email address: "not-an-email"',
        ),
        (
            [shopify_row("ann@example.com"), shopify_row("ANN@example.com", **{"Last Name": "Other"})],
            3,
            "Email",
            "ANN@example.com is already at",
        ),
        (
            [shopify_row("ann@example.com", **{"Default Address Zip": "ABCDE"})],
            2,
            "Default Address Zip",
            "address: Enter a valid ZIP code.",
        ),
        (
            [shopify_row("ann@example.com", **{"Default Address Province Code": "ZZ"})],
            2,
            "Default Address Province Code",
            "address: Select a valid state.",
        ),
        (
            [shopify_row("ann@example.com", **{"Tax Exempt": "maybe"})],
            2,
            "Tax Exempt",
            'must be "yes" or "no", not "maybe"',
        ),
    ],
    ids=["invalid-email", "same-email-twice", "us-zip", "province", "yes-no"],
)
def test_a_malformed_shopify_file_is_refused_with_line_and_column(tmp_path, rows, line, column, message):
    path = csv_rows_write(tmp_path / "c.csv", CUSTOMER_COLUMNS, rows)

    output, _ = rejected(str(path))

    assert f'{path}:{line}: column "{column}": {message}' in output
    assert User.objects.count() == 0
    assert Address.objects.count() == 0


def test_the_same_customer_twice_with_the_same_data_is_one_account(tmp_path):
    path = csv_rows_write(
        tmp_path / "c.csv", CUSTOMER_COLUMNS, [shopify_row("ann@example.com"), shopify_row("Ann@Example.com")]
    )

    out, _ = run(str(path))

    assert "Customers: 1 created" in out


def test_a_file_without_the_email_column_is_refused(tmp_path):
    header = [c for c in CUSTOMER_COLUMNS if c != "Email"]
    path = csv_rows_write(tmp_path / "c.csv", header, [shopify_row("ann@example.com")])

    output, _ = rejected(str(path))

    assert f'{path}:1: column "Email": required column is missing' in output
    assert User.objects.count() == 0


def test_a_generic_date_that_is_not_a_date_is_refused(tmp_path):
    rows = [
        {"email": "ann@example.com", "created_at": "2024-01-09T10:00:00Z"},
        {"email": "bob@example.com", "created_at": "09/01/2024"},
    ]
    path = csv_rows_write(tmp_path / "users.csv", GENERIC_HEADER, rows)

    output, _ = rejected(str(path))

    assert f'{path}:3: column "created_at": not a date: "09/01/2024"' in output
    assert User.objects.count() == 0


def test_a_generic_file_with_an_address(tmp_path):
    header = [*GENERIC_HEADER, "company", "address1", "city", "province_code", "country_code", "zip", "phone", "tags"]
    rows = [
        {
            "email": "asha@example.in",
            "first_name": "Asha",
            "last_name": "Rao",
            "address1": "12 MG Road",
            "city": "Bengaluru",
            "province_code": "KA",
            "country_code": "IN",
            "zip": "560001",
            "phone": "080 5550 4421",
            "tags": "wholesale,vip",
        },
        {
            "email": "bad@example.com",
            "address1": "1 Main St",
            "city": "Springfield",
            "province_code": "IL",
            "country_code": "US",
            "zip": "ABCDE",
        },
    ]
    path = csv_rows_write(tmp_path / "users.csv", header, rows)

    output, _ = rejected(str(path))
    assert f'{path}:3: column "zip": address: Enter a valid ZIP code.' in output
    assert f'{path}:3: column "first_name": address: This field is required.' in output

    csv_rows_write(path, header, rows[:1])
    result = customers_import(paths=[path])
    assert (result.created, result.addresses_created) == (1, 1)
    asha = User.objects.get()
    assert (asha.tags, str(asha.phone)) == ("wholesale, vip", "+918055504421")
    address = asha.addresses.get()
    assert (address.name, address.country_area, address.postal_code, str(address.phone)) == (
        "Asha Rao",
        "Karnataka",
        "560001",
        "+918055504421",
    )


def test_one_customer_id_for_two_emails_is_refused(tmp_path):
    rows = [ANN, shopify_row("bob@example.com")]  # both "'7000000000001"
    path = csv_rows_write(tmp_path / "c.csv", CUSTOMER_COLUMNS, rows)

    output, _ = rejected(str(path))

    assert f'{path}:3: column "Customer ID": 7000000000001 is already the ID of ann@example.com' in output
    assert User.objects.count() == 0


def test_a_dry_run_says_what_it_would_create_and_change(tmp_path):
    UserFactory(email="bob@example.com", first_name="Bob")
    rows = [ANN, shopify_row("BOB@example.com", **{"Customer ID": "'7000000000002", "First Name": "Robert"})]
    path = csv_rows_write(tmp_path / "c.csv", CUSTOMER_COLUMNS, rows)
    before = snapshot()

    out, _ = run(str(path), "--dry-run")

    assert "would create ann@example.com\n" in out
    assert "would update bob@example.com: first name, last name, customer ID, address\n" in out
    assert "Dry run, nothing written. Customers: 1 created, 1 updated, 0 unchanged, 0 skipped." in out
    assert snapshot() == before


def test_a_customer_known_by_phone_alone_is_skipped_and_named_not_a_reason_to_refuse_the_file(tmp_path):
    # Shopify keeps customers with a phone and no email; an account here signs in by email.
    phone_only = shopify_row("", **{"Customer ID": "'7000000000009", "Phone": "'+13235550111"})
    path = csv_rows_write(tmp_path / "c.csv", CUSTOMER_COLUMNS, [ANN, phone_only])

    out, _ = run(str(path))

    assert "1 created" in out and "1 skipped" in out
    assert f"{path}:3 (7000000000009 Ann Lee +13235550111)" in out
    assert list(User.objects.values_list("email", flat=True)) == ["ann@example.com"]
    report = io.StringIO()
    with pytest.raises(CommandError):
        call_command("migration_report", "--customers", str(path), stdout=report)
    assert f"{path}:3 (7000000000009 Ann Lee +13235550111): a customer without an email, not imported" in (
        report.getvalue()
    )
