"""Account forms. Sign-up and sign-in: Django's auth forms do the work, these only adapt them
to an account whose identifier is its email address. The profile; the password change is
Django's PasswordChangeForm as it is; the address form is kernel.addresses'."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField
from phonenumber_field.widgets import RegionalPhoneNumberWidget

from accounts.forms import AddressForm
from accounts.services import DUPLICATE_EMAIL_ERROR

User = get_user_model()

INVALID_LOGIN_ERROR = _("That email and password don't match an account. Please try again.")


class SignUpForm(BaseUserCreationForm):
    """Email + password twice. Passwords go through AUTH_PASSWORD_VALIDATORS (via the base
    class), the email must not match an existing account in any letter case."""

    # username mirrors the email (User.save) and is a varchar(150), so a longer email would
    # pass EmailField's 254 and then fail in the database.
    email = forms.EmailField(
        label=_("Email"),
        max_length=150,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(BaseUserCreationForm.Meta):
        model = User
        fields = ("email",)
        field_classes: dict = {}

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"].strip())
        # People type their address in whatever case they like; the database's unique
        # index on lower(email) is the backstop for a race between two sign-ups.
        if User._default_manager.filter(email__iexact=email).exists():
            raise forms.ValidationError(DUPLICATE_EMAIL_ERROR, code="duplicate_email")
        return email


class EmailAuthenticationForm(AuthenticationForm):
    """Django's AuthenticationForm; its `username` field holds the email address."""

    username = forms.EmailField(
        label=_("Email"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        # Same text whether the email is unknown, the password wrong or the account
        # disabled: the form must not reveal which accounts exist.
        "invalid_login": INVALID_LOGIN_ERROR,
    }

    def clean_username(self) -> str:
        email = self.cleaned_data["username"].strip()
        # The backend looks the email up exactly; map what was typed to the stored spelling
        # so that "Ann@Example.com" can sign in as "ann@example.com". Authentication itself
        # is still Django's (AuthenticationForm.clean -> authenticate()).
        stored = (
            User._default_manager.filter(email__iexact=email).order_by("pk").values_list("email", flat=True).first()
        )
        return stored or email


class AccountDeleteForm(forms.Form):
    """The current password and an explicit "yes" before an account is deleted. Whether the
    password is right is the service's to say (checkout.privacy.customer_delete_own)."""

    password = forms.CharField(
        label=_("Your current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label=_("I understand that my account and personal data will be deleted, and that this cannot be undone."),
        error_messages={"required": _("Tick the box to confirm that you want your account deleted.")},
    )


class ProfileForm(forms.Form):
    """Name, email and phone of the signed-in account. A plain form, not a ModelForm: an
    invalid submission must not touch request.user (a ModelForm writes into its instance while
    validating), and the writes are accounts.services'."""

    first_name = forms.CharField(
        label=_("First name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    # As SignUpForm's: the username mirrors the email and is a varchar(150).
    email = forms.EmailField(
        label=_("Email"),
        max_length=150,
        help_text=_("You log in with this address. If you change it, we email the new one a link to confirm it."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args, user, region: str | None = None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        # Stored in E.164; typed nationally when the region is known (the country of the
        # default address), otherwise with its +country code.
        self.fields["phone"] = PhoneNumberField(
            label=_("Phone"),
            required=False,
            region=region,
            help_text=_("For delivery questions only.")
            if region
            else _("For delivery questions only. Start with your country code, e.g. +44 20 7946 0000."),
            widget=RegionalPhoneNumberWidget(region=region, attrs={"autocomplete": "tel"}),
        )

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"].strip())
        # The same rule as sign-up, leaving out the account itself (it may change the letter
        # case of its own address); accounts.services.user_email_change checks it again.
        if User._default_manager.filter(email__iexact=email).exclude(pk=self.user.pk).exists():
            raise forms.ValidationError(DUPLICATE_EMAIL_ERROR, code="duplicate_email")
        return email


class AddressBookForm(AddressForm):
    """The address book's form: the shop's address form for every country (accounts.forms),
    and whether the address is the default (laid out after the address's fields)."""

    is_default = forms.BooleanField(label=_("Use as my default address"), required=False)
