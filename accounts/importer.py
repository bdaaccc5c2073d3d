"""
Customer import: accounts brought from another shop, from Shopify's customers export or from
a generic file a home-grown backend can write.

Two formats, told apart by the header (Shopify's columns are capitalised):

- Shopify's customers export (20 columns: Customer ID, First Name, Last Name, Email, Accepts
  Email Marketing, Default Address Company/Address1/Address2/City/Province Code/Country
  Code/Zip/Phone, Phone, Accepts SMS Marketing, Total Spent, Total Orders, Note, Tax Exempt,
  Tags). Total Spent and Total Orders are export-only: read past. Shopify's "'" prefix is
  stripped from Customer ID, Phone, Default Address Phone and Default Address Zip.
- A generic file: email, first_name, last_name, password_hash, created_at, and optionally
  company, address1, address2, city, province_code, country_code, zip, phone,
  accepts_marketing, note, tags. `phone` is the customer's and their address's.

Only the email column is required; a column the file does not have leaves its field alone.

Accounts are keyed by email, case-insensitively (the stored spelling is kept; a new one is
stored with User.objects.normalize_email). Fields are written only where they differ, so a
second import of the same files changes nothing. Consent to email marketing gets its date
(marketing_consent_at = the import's time) when it turns on, and loses it when it turns off.
The default address is validated for its country like every other address
(kernel.addresses.validate_address; the province code is the ISO 3166-2 code Shopify writes);
it is added unless the account already has an identical one, and becomes the default when the
account has none. An address phone the phone library cannot read (a UK drama number) is kept
as it was typed rather than refusing the customer. Staff accounts are never touched: their
rows are counted as skipped.

Passwords (generic files, column password_hash), kept as they are so that the customer signs
in with their old password and Django re-hashes it with the first hasher of
settings.PASSWORD_HASHERS (Argon2) at that first sign-in:
- blank: no usable password (the customer sets one through an invitation or a reset);
- bcrypt "$2a$", "$2b$", "$2y$" (Node's bcrypt and bcryptjs, PHP, passlib): stored as
  Django's "bcrypt$" + hash, which BCryptPasswordHasher verifies;
- raw argon2 ("$argon2id$v=19$m=…", "$argon2i$…"): stored as Django's "argon2" + hash;
- Django's own encodings ("pbkdf2_sha256$…", "argon2$…", "bcrypt_sha256$…", "scrypt$…")
  when a hasher of settings.PASSWORD_HASHERS decodes them.
Anything else is a problem. A hash is written only to an account the import creates or one
with no usable password: a customer who has set a password here keeps it. No message, log or
output ever holds a hash or any part of one.

Like every import (kernel.csvfiles): the whole input is validated first; any problem (a
missing Email column, an invalid email, the same email twice with different data, a yes/no
that is neither, a date that is not one, an address its country refuses, a hash of unknown
format, a value longer than its field) is reported as FILE:LINE: column "COLUMN": message and
ImportRejected is raised before anything is written.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from kernel.addresses import (
    ADDRESS_FIELDS,
    AddressInvalid,
    address_from,
    country_area_from_code,
    phone_e164_or_as_is,
    validate_address,
)
from kernel.csvfiles import (
    CsvFile,
    ImportRejected,
    InvalidValue,
    Problem,
    ProgressCallback,
    apostrophe_strip,
    datetime_parse,
    problems_reject,
    yes_no_parse,
)
from kernel.locking import advisory_lock

from .models import Address, User

__all__ = [
    "CUSTOMER_FORMATS",
    "CustomersImportResult",
    "ImportRejected",
    "customers_differences",
    "customers_import",
    "customers_parse",
    "customers_without_email",
]

# How many accounts are looked up and written per round trip to the database.
CHUNK = 2000


@dataclass(frozen=True)
class CustomerFormat:
    """The column names of one input format, by what they hold."""

    name: str
    email: str
    first_name: str
    last_name: str
    accepts_marketing: str
    note: str
    tags: str
    phone: str
    # Address columns by ADDRESS_FIELDS name (country_area holds the ISO 3166-2 code).
    address: dict[str, str]
    external_id: str = ""
    accepts_sms_marketing: str = ""
    tax_exempt: str = ""
    password_hash: str = ""
    created_at: str = ""
    # Columns whose values Shopify prefixes with "'".
    apostrophe: tuple[str, ...] = ()

    @property
    def address_columns(self) -> tuple[str, ...]:
        return tuple(self.address.values())


SHOPIFY = CustomerFormat(
    name="Shopify customers export",
    email="Email",
    first_name="First Name",
    last_name="Last Name",
    accepts_marketing="Accepts Email Marketing",
    note="Note",
    tags="Tags",
    phone="Phone",
    address={
        "company": "Default Address Company",
        "line1": "Default Address Address1",
        "line2": "Default Address Address2",
        "city": "Default Address City",
        "country_area": "Default Address Province Code",
        "country": "Default Address Country Code",
        "postal_code": "Default Address Zip",
        "phone": "Default Address Phone",
    },
    external_id="Customer ID",
    accepts_sms_marketing="Accepts SMS Marketing",
    tax_exempt="Tax Exempt",
    apostrophe=("Customer ID", "Phone", "Default Address Phone", "Default Address Zip"),
)

GENERIC = CustomerFormat(
    name="generic customers file",
    email="email",
    first_name="first_name",
    last_name="last_name",
    accepts_marketing="accepts_marketing",
    note="note",
    tags="tags",
    phone="phone",
    address={
        "company": "company",
        "line1": "address1",
        "line2": "address2",
        "city": "city",
        "country_area": "province_code",
        "country": "country_code",
        "postal_code": "zip",
        "phone": "phone",
    },
    password_hash="password_hash",
    created_at="created_at",
)

CUSTOMER_FORMATS = (SHOPIFY, GENERIC)

# Where an address error is reported: the column of the field (the name is made of the
# customer's first and last names).
_ADDRESS_ERROR_FIELD = {"name": "first_name", "city_area": "city", "sorting_code": "postal_code"}

# Password hashes accepted as they are (see the module doc).
_BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
_ARGON2 = re.compile(r"\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")
# What a created_at that is not a date should be.
_DATE_HINT = "use ISO 8601, e.g. 2024-01-09T15:04:05+00:00"
ACCEPTED_HASHES = (
    'accepted: bcrypt ("$2a$", "$2b$", "$2y$"), argon2 ("$argon2id$", "$argon2i$") and Django\'s own '
    '("pbkdf2_sha256$…", "argon2$…", "bcrypt_sha256$…", "scrypt$…"), or blank for no password'
)

# The most a kept hash may cost to check, per Django algorithm and decode() parameter: a hash
# past these makes every sign-in attempt at that account (anyone can make one) burn seconds of
# CPU or gigabytes of memory. Usual costs are far below: bcrypt 10-12, Django's argon2
# m=102400 KiB t=2 p=8, PBKDF2 1,000,000 iterations, scrypt N=2**14 r=8.
_COST_LIMITS: dict[str, dict[str, int]] = {
    "bcrypt": {"work_factor": 16},  # log2 of the rounds: 2**16, a few seconds
    "bcrypt_sha256": {"work_factor": 16},
    "argon2": {"memory_cost": 524_288, "time_cost": 16, "parallelism": 16},  # memory in KiB
    "pbkdf2_sha256": {"iterations": 10_000_000},
    "pbkdf2_sha1": {"iterations": 10_000_000},
    "scrypt": {"work_factor": 2**18, "block_size": 32, "parallelism": 16},
}

# The fields of User an import sets, in the order differences are listed.
_USER_FIELDS = (
    "external_id",
    "first_name",
    "last_name",
    "phone",
    "accepts_marketing",
    "accepts_sms_marketing",
    "tax_exempt",
    "note",
    "tags",
    "date_joined",
)
_FIELD_LABELS = {
    "external_id": "customer ID",
    "first_name": "first name",
    "last_name": "last name",
    "accepts_marketing": "accepts email marketing",
    "accepts_sms_marketing": "accepts SMS marketing",
    "tax_exempt": "tax exempt",
    "date_joined": "created at",
    "marketing_consent_at": "consent date",
}


@dataclass
class CustomersImportResult:
    """What an import did (or, dry, would do): accounts created, updated, unchanged and
    skipped (staff accounts, never touched: `skipped_emails`), addresses created."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    addresses_created: int = 0
    skipped_emails: list[str] = field(default_factory=list)
    # Rows skipped for having no email (customers_without_email): "FILE:LINE (who)".
    without_email: list[str] = field(default_factory=list)
    dry_run: bool = False
    # What was (or would be) done, one line per account created or changed: "create
    # ann@example.com", "update bob@example.com: first name, tags, address". Never a value.
    changes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line of counts, for people and for logs."""
        text = (
            f"Customers: {self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped} skipped. Addresses: {self.addresses_created} created."
        )
        if self.skipped_emails:
            shown = ", ".join(self.skipped_emails[:10])
            more = f" and {len(self.skipped_emails) - 10} more" if len(self.skipped_emails) > 10 else ""
            text += f" Skipped (staff accounts, never changed by an import): {shown}{more}."
        if self.without_email:
            shown = ", ".join(self.without_email[:10])
            more = f" and {len(self.without_email) - 10} more" if len(self.without_email) > 10 else ""
            text += f" Skipped (no email, which an account here signs in with): {shown}{more}."
        if self.dry_run:
            text = "Dry run, nothing written. " + text
        return text


@dataclass(eq=False)
class ParsedCustomer:
    """One valid row: `fields` are User fields by name (only those whose column the file
    has), `address` a validated address dict or None, `password` Django's encoding of the
    hash ("" when the file has none for this customer, None when it has no such column)."""

    email: str
    file: str
    line: int
    fields: dict[str, object]
    address: dict[str, str] | None
    password: str | None

    @property
    def key(self) -> str:
        return self.email.lower()

    def same_data(self, other: ParsedCustomer) -> list[str]:
        """The names of what differs from `other` (User fields, "address", "password")."""
        names = sorted(set(self.fields) | set(other.fields))
        differ = [name for name in names if self.fields.get(name) != other.fields.get(name)]
        if self.address != other.address:
            differ.append("address")
        if self.password != other.password:
            differ.append("password")
        return differ

    def __repr__(self) -> str:
        # Never the password.
        return f"ParsedCustomer({self.email!r}, {self.file}:{self.line})"


def _header_of(path: str | Path) -> list[str] | None:
    """The first non-blank record of the file, or None when it cannot be read (CsvFile
    reports why)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for cells in csv.reader(fh):
                if any(c.strip() for c in cells):
                    return [c.strip() for c in cells]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def format_of(header: Sequence[str] | None) -> CustomerFormat:
    """Shopify's format unless the header has the generic "email" and no "Email"."""
    if header is not None and GENERIC.email in header and SHOPIFY.email not in header:
        return GENERIC
    return SHOPIFY


def password_encode(text: str) -> str:
    """`text`, a password hash, as Django stores it (see the module doc). Raises
    InvalidValue, whose message never holds the hash."""
    refused = InvalidValue(f"unknown password hash format; {ACCEPTED_HASHES}")
    if _BCRYPT.fullmatch(text):
        encoded = "bcrypt$" + text
    elif _ARGON2.fullmatch(text):
        encoded = "argon2" + text
    else:
        encoded = text
        try:
            hasher = identify_hasher(text)
        except ValueError:
            raise refused from None
        if hasher.algorithm in ("bcrypt", "bcrypt_sha256") and not _BCRYPT.fullmatch(text.split("$", 1)[1]):
            raise refused
    try:
        hasher = identify_hasher(encoded)
        decoded = hasher.decode(encoded)
    except Exception:  # noqa: BLE001 - any failure to decode (ValueError, argon2's errors): refused
        raise refused from None
    for name, most in _COST_LIMITS.get(hasher.algorithm or "", {}).items():
        if int(decoded.get(name) or 0) > most:
            raise InvalidValue(
                f"the hash's {name.replace('_', ' ')} is {decoded[name]}, over {most}: every sign-in would "
                "cost that much, for anyone who tries; re-hash it with a usual cost or leave it blank"
            )
    if len(encoded) > (_max_length("password") or 128):
        raise InvalidValue(f"password hash too long; {ACCEPTED_HASHES}")
    return encoded


def tags_normalize(text: str) -> str:
    """Comma-and-space separated, blanks dropped: "VIP,newsletter " → "VIP, newsletter"."""
    return ", ".join(t.strip() for t in text.split(",") if t.strip())


def _max_length(name: str) -> int | None:
    """The max_length of a User field (None for a text field without one)."""
    model_field = User._meta.get_field(name)
    return model_field.max_length if isinstance(model_field, models.Field) else None


class _Parser:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.customers: dict[str, ParsedCustomer] = {}
        # Customer ID -> the first customer with it.
        self.external_ids: dict[str, ParsedCustomer] = {}
        # Rows of customers who have no email (Shopify keeps customers known by their phone
        # alone): an account here signs in with its email, so they are skipped, each named.
        self.without_email: list[str] = []

    def problem(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(file, line, column, message))

    def parse_file(self, path: str | Path) -> None:
        fmt = format_of(_header_of(path))
        csv_file = CsvFile(path, self.problems, required=(fmt.email,))
        for line, row in csv_file.rows():
            assert csv_file.header is not None
            for column in fmt.apostrophe:
                if column in row:
                    row[column] = apostrophe_strip(row[column])
            customer = self.parse_row(fmt, csv_file.name, line, row, set(csv_file.header))
            if customer is not None:
                self.add(customer, fmt)

    def add(self, customer: ParsedCustomer, fmt: CustomerFormat) -> None:
        external_id = customer.fields.get("external_id")
        if external_id:
            holder = self.external_ids.setdefault(str(external_id), customer)
            if holder.key != customer.key:
                message = f"{external_id} is already the ID of {holder.email} at {holder.file}:{holder.line}"
                self.problem(customer.file, customer.line, fmt.external_id, message)
                return
        first = self.customers.get(customer.key)
        if first is None:
            self.customers[customer.key] = customer
            return
        differ = first.same_data(customer)
        if differ:
            message = (
                f"{customer.email} is already at {first.file}:{first.line}, with different data "
                f"({', '.join(_FIELD_LABELS.get(name, name.replace('_', ' ')) for name in differ)}); "
                "give each customer once"
            )
            self.problem(customer.file, customer.line, fmt.email, message)

    def parse_row(
        self, fmt: CustomerFormat, file: str, line: int, row: dict[str, str], header: set[str]
    ) -> ParsedCustomer | None:
        count = len(self.problems)

        def bad(column: str, message: str) -> None:
            self.problem(file, line, column, message)

        email = row.get(fmt.email, "")
        if not email:
            known_by = [row.get(c, "") for c in (fmt.external_id, fmt.first_name, fmt.last_name, fmt.phone) if c]
            shown = " ".join(value for value in known_by if value) or "no name"
            self.without_email.append(f"{file}:{line} ({shown})")
            return None
        else:
            try:
                validate_email(email)
            except ValidationError:
                bad(fmt.email, f'not a valid email address: "{email}"')
            # The username mirrors the email (150 characters).
            limit = min(_max_length("email") or 254, _max_length("username") or 150)
            if len(email) > limit:
                bad(fmt.email, f"longer than {limit} characters")

        fields: dict[str, object] = {}
        for name, column in (
            ("first_name", fmt.first_name),
            ("last_name", fmt.last_name),
            ("external_id", fmt.external_id),
            ("note", fmt.note),
            ("tags", fmt.tags),
        ):
            if not column or column not in header:
                continue
            value = row.get(column, "")
            fields[name] = value = tags_normalize(value) if name == "tags" else value
            most = _max_length(name)
            if most is not None and len(value) > most:
                bad(column, f"longer than {most} characters")
        for name, column in (
            ("accepts_marketing", fmt.accepts_marketing),
            ("accepts_sms_marketing", fmt.accepts_sms_marketing),
            ("tax_exempt", fmt.tax_exempt),
        ):
            if column and column in header:
                try:
                    fields[name] = yes_no_parse(row.get(column, ""))
                except InvalidValue as exc:
                    bad(column, str(exc))
        if fmt.created_at and row.get(fmt.created_at):
            try:
                fields["date_joined"] = datetime_parse(row[fmt.created_at], hint=_DATE_HINT)
            except InvalidValue as exc:
                bad(fmt.created_at, str(exc))

        address = self.parse_address(fmt, file, line, row, header)
        if fmt.phone in header:
            region = address["country"] if address else None
            fields["phone"] = phone_e164_or_as_is(row.get(fmt.phone, ""), region)

        password: str | None = None
        if fmt.password_hash and fmt.password_hash in header:
            text = row.get(fmt.password_hash, "")
            password = ""
            if text:
                try:
                    password = password_encode(text)
                except InvalidValue as exc:
                    bad(fmt.password_hash, str(exc))

        if len(self.problems) > count:
            return None
        return ParsedCustomer(
            email=User.objects.normalize_email(email),
            file=file,
            line=line,
            fields=fields,
            address=address,
            password=password,
        )

    def parse_address(
        self, fmt: CustomerFormat, file: str, line: int, row: dict[str, str], header: set[str]
    ) -> dict[str, str] | None:
        given = {name: row.get(column, "") for name, column in fmt.address.items()}
        if not any(given.values()):
            return None
        name = " ".join(filter(None, [row.get(fmt.first_name, ""), row.get(fmt.last_name, "")]))
        data = {field_name: given.get(field_name, "") for field_name in ADDRESS_FIELDS} | {"name": name}
        data["country_area"] = country_area_from_code(data["country"], data["country_area"])
        # The phone as typed is kept when the phone library cannot read it (see the module
        # doc): it is checked apart from the address.
        phone, data["phone"] = data["phone"], ""
        try:
            address = validate_address(data)
        except AddressInvalid as exc:
            columns = fmt.address | {"first_name": fmt.first_name}
            for field_name, messages in exc.errors.items():
                column = columns.get(_ADDRESS_ERROR_FIELD.get(field_name, field_name), fmt.address["line1"])
                self.problem(file, line, column, f"address: {' '.join(messages)}")
            return None
        address["phone"] = phone_e164_or_as_is(phone, address["country"])
        return address


def customers_parse(*, paths: Sequence[str | Path]) -> list[ParsedCustomer]:
    """Reads and validates every file of `paths` (either format, see the module doc).
    Writes nothing. Returns one ParsedCustomer per distinct email, in file order; a row
    without an email is left out (customers_without_email names them).

    Raises ImportRejected listing every problem, ordered by file then line."""
    return list(_parse(paths).customers.values())


def customers_without_email(*, paths: Sequence[str | Path]) -> list[str]:
    """The rows of `paths` whose customer has no email, which no import brings here (an
    account signs in with its email): "FILE:LINE (Customer ID, name, phone)", in file order.
    Raises ImportRejected as customers_parse does."""
    return _parse(paths).without_email


def _parse(paths: Sequence[str | Path]) -> _Parser:
    parser = _Parser()
    for path in paths:
        parser.parse_file(path)
    problems_reject(parser.problems, paths=paths)
    return parser


def customers_import(
    *, paths: Sequence[str | Path], dry_run: bool = False, progress: ProgressCallback | None = None
) -> CustomersImportResult:
    """Imports the customer files of `paths` (see the module doc): creates or updates
    accounts, their marketing consent, notes and tags, password hashes, default addresses.

    Returns the counts (CustomersImportResult). Raises ImportRejected, with every problem,
    before anything is written. All writes are one transaction; with `dry_run` they are
    rolled back, so the counts are exactly what an import would do. `progress(stage, done,
    total)` is called as customers ("customers") are done."""
    parser = _parse(paths)
    parsed = list(parser.customers.values())
    result = CustomersImportResult(dry_run=dry_run, without_email=parser.without_email)
    result.skipped += len(parser.without_email)
    now = timezone.now()
    with transaction.atomic():
        advisory_lock("import:customers")  # the same import run twice at once writes once
        for done, chunk in _chunks(parsed):
            _write_chunk(chunk, result, now)
            if progress:
                progress("customers", done, len(parsed))
        if dry_run:
            transaction.set_rollback(True)
    return result


def _chunks(parsed: list[ParsedCustomer]) -> Iterator[tuple[int, list[ParsedCustomer]]]:
    for start in range(0, len(parsed), CHUNK):
        chunk = parsed[start : start + CHUNK]
        yield start + len(chunk), chunk


def _existing(chunk: list[ParsedCustomer]) -> dict[str, User]:
    """The accounts of `chunk` by lower-cased email."""
    users = User.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=[c.key for c in chunk])
    return {user.email.lower(): user for user in users}


def _write_chunk(chunk: list[ParsedCustomer], result: CustomersImportResult, now: datetime) -> None:
    users = _existing(chunk)
    addresses: dict[int, list[Address]] = {}
    for stored in Address.objects.filter(user__in=list(users.values())):
        addresses.setdefault(stored.user_id, []).append(stored)
    for customer in chunk:
        user = users.get(customer.key)
        existed = user is not None
        if user is not None and (user.is_staff or user.is_superuser):
            result.skipped += 1
            result.skipped_emails.append(user.email)
            continue
        if user is None:
            user = User(email=customer.email, imported_at=now)
            for name, value in customer.fields.items():
                setattr(user, name, value)
            if customer.fields.get("accepts_marketing"):
                user.marketing_consent_at = now
            if customer.password:
                user.password = customer.password
            else:
                user.set_unusable_password()
            user.save()
            result.created += 1
            result.changes.append(f"create {user.email}")
            changed: list[str] = []
        else:
            changed = _update_user(user, customer, now)
        if customer.address is not None and _add_address(user, customer.address, addresses.get(user.pk, [])):
            result.addresses_created += 1
            changed.append("address")
        if existed:
            if changed:
                result.updated += 1
                labels = ", ".join(_FIELD_LABELS.get(name, name.replace("_", " ")) for name in changed)
                result.changes.append(f"update {user.email}: {labels}")
            else:
                result.unchanged += 1


def _update_user(user: User, customer: ParsedCustomer, now: datetime) -> list[str]:
    """Writes what differs; answers the names of the fields that did."""
    values = dict(customer.fields)
    if "accepts_marketing" in values:
        if values["accepts_marketing"] and not user.accepts_marketing:
            values["marketing_consent_at"] = now
        elif not values["accepts_marketing"] and user.marketing_consent_at is not None:
            values["marketing_consent_at"] = None
    changed = [name for name, value in values.items() if _stored(user, name) != value]
    for name in changed:
        setattr(user, name, values[name])
    if customer.password and not user.has_usable_password():
        user.password = customer.password
        changed.append("password")
    if changed:
        user.save(update_fields=changed)
    return changed


def _stored(user: User, name: str) -> object:
    value = getattr(user, name)
    # A PhoneNumber compares as its text: E.164, or what was typed when it never parsed.
    return str(value or "") if name == "phone" else value


def _add_address(user: User, address: dict[str, str], existing: list[Address]) -> bool:
    """Adds `address` to the account unless it has an identical one; True if it did. It is
    the default when the account has none."""
    if any(address_from(stored) == address for stored in existing):
        return False
    is_default = not any(stored.is_default for stored in existing)
    existing.append(Address.objects.create(user=user, is_default=is_default, **address))
    return True


def customers_differences(*, paths: Sequence[str | Path]) -> list[str]:
    """What the accounts here differ in from the customer files of `paths`, one line each:
    'zoe@example.com: last name "Martin" in the file, "Martins" here', "…: no account here",
    "…: the address in the file is not among the account's addresses", "…: a staff account
    here (not imported)", "FILE:LINE (who): a customer without an email, not imported". An
    empty list means none. Passwords are never compared (a customer's first sign-in
    re-hashes them). Writes nothing.

    Raises ImportRejected when the files have problems (see customers_parse)."""
    parser = _parse(paths)
    parsed = list(parser.customers.values())
    differences = [f"{row}: a customer without an email, not imported" for row in parser.without_email]
    for _, chunk in _chunks(parsed):
        users = _existing(chunk)
        addresses: dict[int, list[dict[str, str]]] = {}
        for stored in Address.objects.filter(user__in=list(users.values())):
            addresses.setdefault(stored.user_id, []).append(address_from(stored))
        for customer in chunk:
            user = users.get(customer.key)
            if user is None:
                differences.append(f"{customer.email}: no account here")
                continue
            if user.is_staff or user.is_superuser:
                differences.append(f"{customer.email}: a staff account here (not imported)")
                continue
            for name in _USER_FIELDS:
                if name not in customer.fields:
                    continue
                wanted, here = customer.fields[name], _stored(user, name)
                if wanted != here:
                    label = _FIELD_LABELS.get(name, name.replace("_", " "))
                    differences.append(f"{customer.email}: {label} {_show(wanted)} in the file, {_show(here)} here")
            if customer.address is not None and customer.address not in addresses.get(user.pk, []):
                differences.append(f"{customer.email}: the address in the file is not among the account's addresses")
    return differences


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat()
    return f'"{value}"'
