"""
manage.py setup_demo: the demo shop for `make run`. Safe to run on every start.
"""

import os
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from catalog.cache import catalog_edited
from catalog.models import Product
from checkout.models import ShippingMethod, TaxRate
from inventory.importer import ImportRejected, catalog_import

DEMO_CATALOG = Path(settings.BASE_DIR) / "catalog" / "fixtures" / "demo-catalog.csv"
FEATURED_COUNT = 4
ADMIN_EMAIL = "admin@example.com"
DEFAULT_ADMIN_PASSWORD = "demo-admin-password"
SHIPPING_METHODS = [("Standard", Decimal("5.00")), ("Express", Decimal("15.00"))]


# A few countries with tax, so that the demo shows tax on cart, checkout and invoice.
DEMO_TAX_RATES = [
    ("GB", "VAT", Decimal("0.2000")),
    ("DE", "MwSt.", Decimal("0.1900")),
    ("IN", "GST", Decimal("0.1800")),
]


def demo_data_load(*, stdout) -> None:
    """The demo catalog (featured products), shipping methods and tax rates, idempotently;
    shared by setup_demo and seed_demo. Raises CommandError if the catalog is rejected."""
    try:
        result = catalog_import(paths=[DEMO_CATALOG])
    except ImportRejected as rejected:
        raise CommandError(
            "The demo catalog could not be imported:\n" + "\n".join(str(p) for p in rejected.problems)
        ) from rejected
    stdout.write(f"Demo catalog: {result.summary()}")

    # Only when nothing is featured: staff who picked their own featured products keep
    # their choice across restarts.
    if not Product.objects.filter(featured=True).exists():
        featured = Product.objects.filter(handle__in=result.handles[:FEATURED_COUNT]).update(featured=True)
        catalog_edited()  # an UPDATE sends no post_save: retire the cached home page
        stdout.write(f"Featured {featured} products.")

    for position, (name, price) in enumerate(SHIPPING_METHODS):
        # Matched by name: a price staff changed in the admin stays changed.
        _, created = ShippingMethod.objects.get_or_create(name=name, defaults={"price": price, "position": position})
        if created:
            stdout.write(f"Shipping method {name} ({price}) created.")

    for country, name, rate in DEMO_TAX_RATES:
        # Matched by country: a rate staff changed stays changed.
        _, created = TaxRate.objects.get_or_create(country=country, defaults={"name": name, "rate": rate})
        if created:
            stdout.write(f"Tax rate {name} {country} ({rate}) created.")


class Command(BaseCommand):
    help = (
        "Loads the demo shop: imports catalog/fixtures/demo-catalog.csv, features its first "
        f"{FEATURED_COUNT} products (only when no product is featured yet), creates the "
        "Standard and Express shipping methods, tax rates for GB, DE and IN, and the superuser "
        "admin@example.com (password from DEMO_ADMIN_PASSWORD, default demo-admin-password). "
        "Idempotent: a second run changes nothing, and nothing staff changed since is undone."
    )

    def handle(self, *args, **options):
        demo_data_load(stdout=self.stdout)

        password = os.environ.get("DEMO_ADMIN_PASSWORD") or DEFAULT_ADMIN_PASSWORD
        User = get_user_model()
        admin = User.objects.filter(email=ADMIN_EMAIL).first()
        if admin is None:
            User.objects.create_superuser(email=ADMIN_EMAIL, password=password)
            self.stdout.write(f"Superuser {ADMIN_EMAIL} created.")
        elif not admin.check_password(password):
            # Never reset a password someone changed: say so instead of printing a wrong one.
            self.stdout.write(f"Admin login: {ADMIN_EMAIL} (its password was changed and is not shown)")
            return
        self.stdout.write(self.style.SUCCESS(f"Admin login: {ADMIN_EMAIL} / {password}"))
