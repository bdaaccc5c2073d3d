"""
manage.py setup_demo: the demo shop for `make run`. Safe to run on every start.
"""

import os
from decimal import Decimal
from email.utils import parseaddr
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.html import escape

from catalog.cache import catalog_edited
from catalog.models import Product
from checkout.models import ShippingMethod, TaxRate
from inventory.importer import ImportRejected, catalog_import
from pages.services import PageDraft, pages_ensure

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


def demo_pages() -> list[PageDraft]:
    """The demo's content pages, published and in the footer: short, plainly a demo's, in the
    shop's name, for staff to replace in the admin (Content pages). One block of HTML a line,
    as staff will edit it."""
    shop = escape(settings.SITE_NAME)
    email = escape(parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "shop@example.com")
    mail = f'<a href="mailto:{email}">{email}</a>'
    demo = (
        f"<p><em>This is the demo shop's sample text: {shop} is not a real business. "
        "Staff replace it under Content pages in the admin.</em></p>"
    )
    rates = "\n".join(f"<li>{name}: {price} {settings.SHOP_CURRENCY}</li>" for name, price in SHIPPING_METHODS)

    def page(slug: str, title: str, position: int, *blocks: str) -> PageDraft:
        return PageDraft(slug=slug, title=title, footer_position=position, body="\n".join([demo, *blocks]))

    return [
        page(
            "terms",
            "Terms and conditions",
            10,
            "<h2>Who we are</h2>",
            f"<p>{shop} sells the products shown in this shop to customers for their own use.</p>",
            "<h2>Orders</h2>",
            "<p>Your order is a request to buy. The contract is made when we confirm your payment by "
            "email. We hold your items while you pay; if the payment does not complete in time, the "
            "order expires and nothing is charged.</p>",
            "<h2>Prices and payment</h2>",
            f"<p>Prices are in {settings.SHOP_CURRENCY}. Taxes and shipping are shown before you "
            "place your order and on your invoice.</p>",
            "<h2>Cancellations and returns</h2>",
            '<p>See <a href="/pages/shipping-returns/">Shipping and returns</a>.</p>',
        ),
        page(
            "privacy",
            "Privacy policy",
            20,
            "<h2>What we keep</h2>",
            "<ul>",
            "<li>Your name, email address, phone number and addresses, to deliver your orders and "
            "send you their emails.</li>",
            "<li>Your orders and invoices, as the law requires us to keep them.</li>",
            "<li>No card numbers: the payment provider handles payments.</li>",
            "</ul>",
            "<h2>Your choices</h2>",
            "<p>Signed in, <em>Your account › Your data</em> downloads what we hold about you or "
            "deletes your account.</p>",
            "<h2>Questions</h2>",
            f"<p>Write to {mail}.</p>",
        ),
        page(
            "shipping-returns",
            "Shipping and returns",
            30,
            "<h2>Shipping</h2>",
            "<p>We ship within 2 working days of your payment.</p>",
            f"<ul>\n{rates}\n</ul>",
            "<h2>Returns</h2>",
            "<p>Changed your mind? Return unused items within 30 days of delivery for a refund of "
            "their price. Write to us first, with your order number, and we will tell you where to "
            "send them.</p>",
        ),
        page(
            "contact",
            "Contact",
            40,
            "<h2>Write to us</h2>",
            f"<p>{mail}: we answer on working days, usually within one day. For an order, please give its number.</p>",
        ),
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

    # Matched by slug: a page staff edited or unpublished stays as it is (one deleted comes
    # back at the next start: unpublish it instead).
    for page in pages_ensure(demo_pages()):
        stdout.write(f"Content page {page.title} (/pages/{page.slug}/) created.")


class Command(BaseCommand):
    help = (
        "Loads the demo shop: imports catalog/fixtures/demo-catalog.csv, features its first "
        f"{FEATURED_COUNT} products (only when no product is featured yet), creates the "
        "Standard and Express shipping methods, tax rates for GB, DE and IN, the content pages "
        "(terms, privacy, shipping-returns, contact), and the superuser "
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
