"""Input and output shapes of the accounts API. Validation only: the writes are in
accounts.services."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from accounts.models import User
from accounts.selectors import stored_email
from accounts.services import password_check
from api.addresses import AddressFieldsSerializer, validated_address
from kernel.addresses import address_from, phone_e164


class RegisterInputSerializer(serializers.Serializer):
    # username mirrors the email and is a varchar(150) (see storefront.accounts.forms.SignUpForm).
    email = serializers.EmailField(max_length=150)
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})

    def validate(self, attrs):
        try:
            password_check(password=attrs["password"], email=attrs["email"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class UserSerializer(serializers.ModelSerializer):
    email_verified = serializers.SerializerMethodField(
        help_text="Whether the owner has opened the link mailed to this address (false after a change of email)."
    )
    phone = serializers.SerializerMethodField(help_text='E.164 ("+442079460958"); "" when none.')

    class Meta:
        model = User
        fields = ("id", "email", "email_verified", "first_name", "last_name", "phone", "date_joined")
        read_only_fields = ("id", "email", "date_joined")

    def get_email_verified(self, user: User) -> bool:
        return user.email_verified_at is not None

    def get_phone(self, user: User) -> str:
        return str(user.phone or "")


PHONE_HELP = (
    "Stored E.164. Without its +country code it is read as a number of the default address's country; "
    'without a default address it must start with it. "" or null removes it.'
)


class UserUpdateInputSerializer(serializers.Serializer):
    """What PATCH auth/me/ may change: only the fields sent change."""

    # The view passes `phone_region` (accounts.selectors.phone_region_for_user) in the
    # context: phones are read as the profile page reads them.
    first_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    last_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    # As sign-up's: the username mirrors the email and is a varchar(150).
    email = serializers.EmailField(
        max_length=150,
        required=False,
        help_text="The login too. A new address is unverified until its owner opens the link we mail "
        "to it; the old address is told of the change. 400 `email_taken` if another account has it "
        "in any letter case.",
    )
    phone = serializers.CharField(
        max_length=64, allow_blank=True, allow_null=True, required=False, trim_whitespace=True, help_text=PHONE_HELP
    )

    def validate_phone(self, value: str | None) -> str:
        if not value:
            return ""
        region = self.context.get("phone_region")
        try:
            return phone_e164(value, region)
        except ValueError as exc:
            message = str(exc)
            if not region:
                message = _("Enter a valid phone number starting with its country code, e.g. +44 20 7946 0000.")
            raise serializers.ValidationError(message) from exc


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Bearer token, short-lived (minutes).")
    refresh = serializers.CharField(help_text="Good once: POST it to auth/token/refresh/ for a new pair.")


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(help_text="A refresh token from sign-in, sign-up or an earlier refresh.")


class PasswordConfirmInputSerializer(serializers.Serializer):
    password = serializers.CharField(
        max_length=128, style={"input_type": "password"}, help_text="The account's current password."
    )


class RegisterOutputSerializer(TokenPairSerializer):
    user = UserSerializer()


class EmailTokenObtainSerializer(TokenObtainPairSerializer):
    """simplejwt's sign-in (email + password → access + refresh), accepting the email in any
    letter case the way the sign-in page does (storefront.accounts.forms.EmailAuthenticationForm)."""

    def validate(self, attrs):
        email = attrs.get(self.username_field, "")
        attrs[self.username_field] = stored_email(email) or email
        return super().validate(attrs)


class PasswordResetInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class AddressSerializer(AddressFieldsSerializer):
    """A saved address: validated for its country (kernel.addresses, as the address book page
    does); a partial update is validated as the whole address it makes."""

    id = serializers.IntegerField(read_only=True)
    is_default = serializers.BooleanField(required=False)

    def validate(self, attrs):
        is_default = attrs.pop("is_default", None)
        if self.instance is not None:
            attrs = {**address_from(self.instance), **attrs}
        cleaned = validated_address(attrs)
        if is_default is not None:
            cleaned["is_default"] = is_default
        return cleaned
