from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


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
    (a partial unique index is the backstop; accounts.services keeps it so)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="addresses")
    name = models.CharField("full name", max_length=200)
    line1 = models.CharField("address", max_length=255)
    line2 = models.CharField("address line 2", max_length=255, blank=True)
    city = models.CharField(max_length=120)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code, e.g. GB.")
    phone = models.CharField(max_length=40, blank=True)
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
