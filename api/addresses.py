"""Addresses in the API: the fields of kernel.addresses, validated by its validate_address
(what the web pages' AddressForm uses too), so the API refuses what the pages refuse: a code
that is not a country ("ZZ"), a US address without its state, a malformed postcode, a phone
number that is not one, each as 400 with the message under its field. Phones come back E.164.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from kernel.addresses import AddressInvalid, country_name, format_address, validate_address


def validated_address(data: dict[str, Any]) -> dict[str, str]:
    """`data` cleaned by validate_address, or a 400 naming each field."""
    try:
        return validate_address(data)
    except AddressInvalid as exc:
        raise serializers.ValidationError(exc.errors) from exc


class AddressOutputMixin(serializers.Serializer):
    country_name = serializers.SerializerMethodField(help_text="The country's name, e.g. United Kingdom.")
    lines = serializers.SerializerMethodField(help_text="The address as its country prints it, one line each.")

    def get_country_name(self, obj: Any) -> str:
        country = obj.get("country") if isinstance(obj, dict) else getattr(obj, "country", "")
        return country_name(str(country or ""))

    def get_lines(self, obj: Any) -> list[str]:
        return format_address(obj)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if "phone" in data:
            data["phone"] = str(data["phone"] or "")
        return data


class AddressOutputSerializer(AddressOutputMixin):
    """An address as stored (kernel.addresses.ADDRESS_FIELDS), read-only, with the country's
    name and the lines it prints: the order's and the checkout's shipping address."""

    name = serializers.CharField()
    company = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    city_area = serializers.CharField()
    postal_code = serializers.CharField()
    sorting_code = serializers.CharField()
    country_area = serializers.CharField()
    country = serializers.CharField()
    phone = serializers.CharField(help_text="E.164 (one stored before phones were checked: as typed).")


class AddressFieldsSerializer(AddressOutputMixin):
    """An address alone (a checkout's billing address): ADDRESS_FIELDS in and out, with the
    country's name and the lines it prints as read-only extras."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True)
    line1 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    line2 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    city = serializers.CharField(max_length=120, required=False, allow_blank=True)
    city_area = serializers.CharField(max_length=120, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    sorting_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country_area = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        help_text='State, province, prefecture…: its code where the country has a list ("IL", "ON"); '
        "see /api/v1/address-rules/{country}/.",
    )
    country = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. GB.")
    phone = serializers.CharField(
        max_length=40, required=False, allow_blank=True, help_text="Answered in E.164, e.g. +442079460958."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return validated_address(attrs)


class AddressRulesSerializer(serializers.Serializer):
    country = serializers.CharField()
    required = serializers.ListField(child=serializers.CharField())
    used = serializers.ListField(child=serializers.CharField())
    labels = serializers.DictField(
        child=serializers.CharField(), help_text="What the country calls its fields, in the request's language."
    )
    country_area_prompt = serializers.CharField(
        help_text="The empty first choice of the subdivision list, e.g. “Select a state”."
    )
    country_area_choices = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()), help_text="[key, name] pairs, by name."
    )
    postal_code_examples = serializers.ListField(child=serializers.CharField())
    postal_code_hint = serializers.CharField(
        allow_blank=True, help_text="The postcode field's help, e.g. “e.g. SW1A 1AA”; empty without examples."
    )
