"""Input and output shapes of the accounts API. Validation only: the writes are in
accounts.services."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from accounts.models import User
from accounts.selectors import stored_email
from accounts.services import password_check
from api.addresses import AddressFieldsSerializer, validated_address
from kernel.addresses import address_from


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
    class Meta:
        model = User
        fields = ("id", "email", "first_name", "last_name", "date_joined")
        read_only_fields = ("id", "email", "date_joined")


class UserUpdateInputSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    last_name = serializers.CharField(max_length=150, allow_blank=True, required=False)


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
