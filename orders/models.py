"""
Orders and their lines. Lines are snapshots (title, SKU, unit price at the time of the
order), so later catalog edits never change what a customer bought. Money is Decimal in
the order's currency. Status changes only through orders.services, each writing an
OrderEvent.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField

from catalog.models import ProductVariant
from kernel.addresses import ADDRESS_FIELDS

# No 0/O or 1/I: numbers are read over the phone.
NUMBER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_order_number() -> str:
    return "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))


def new_access_token() -> str:
    return secrets.token_urlsafe(24)


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Pending payment")
        PAID = "paid", _("Paid")
        PAYMENT_FAILED = "payment_failed", _("Payment failed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        PARTIALLY_FULFILLED = "partially_fulfilled", _("Partially shipped")
        FULFILLED = "fulfilled", _("Shipped")
        DELIVERED = "delivered", _("Delivered")

    # Ours are 8 characters of NUMBER_ALPHABET; an imported order keeps its own ("#1001").
    number = models.CharField(max_length=32, unique=True, default=new_order_number)
    # Guests reach their order through a link carrying this token.
    access_token = models.CharField(max_length=64, unique=True, default=new_access_token)
    # The checkout session that placed it: placing the same checkout twice returns this order.
    checkout_token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    email = models.EmailField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT, db_index=True)
    currency = models.CharField(max_length=3)
    # The language the order was placed in (the shopper's active language at order_create);
    # its emails and documents are written in it. Blank: the shop's default (imported orders).
    language = models.CharField(max_length=10, blank=True)
    # Money in the order currency. subtotal = Σ line totals as shown (tax-inclusive when
    # prices_include_tax); total = subtotal − discount_total + shipping_total
    # (+ tax_total when prices exclude tax). tax_total is the tax contained in or added to it.
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2)
    discount_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    tax_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    prices_include_tax = models.BooleanField(default=True)
    voucher_code = models.CharField(max_length=40, blank=True)
    shipping_method_name = models.CharField(max_length=120)
    # The addresses as they were when the order was placed (never a link to an address book
    # entry that may change): the fields of accounts.Address, prefixed. The billing address
    # is the shipping one unless the shopper gave another; orders placed before it existed
    # got their shipping address copied (orders 0007).
    shipping_name = models.CharField(max_length=200)
    shipping_company = models.CharField("company", max_length=200, blank=True)
    shipping_line1 = models.CharField("address", max_length=255)
    shipping_line2 = models.CharField("address line 2", max_length=255, blank=True)
    shipping_city = models.CharField("city", max_length=120, blank=True)
    shipping_city_area = models.CharField("district", max_length=120, blank=True)
    shipping_postal_code = models.CharField("postal code", max_length=20, blank=True)
    shipping_sorting_code = models.CharField("sorting code", max_length=20, blank=True)
    shipping_country_area = models.CharField("state / province", max_length=120, blank=True)
    shipping_country = CountryField("country")
    shipping_phone = PhoneNumberField("phone", blank=True)
    billing_name = models.CharField("billing name", max_length=200, blank=True)
    billing_company = models.CharField("billing company", max_length=200, blank=True)
    billing_line1 = models.CharField("billing address", max_length=255, blank=True)
    billing_line2 = models.CharField("billing address line 2", max_length=255, blank=True)
    billing_city = models.CharField("billing city", max_length=120, blank=True)
    billing_city_area = models.CharField("billing district", max_length=120, blank=True)
    billing_postal_code = models.CharField("billing postal code", max_length=20, blank=True)
    billing_sorting_code = models.CharField("billing sorting code", max_length=20, blank=True)
    billing_country_area = models.CharField("billing state / province", max_length=120, blank=True)
    billing_country = CountryField("billing country", blank=True)
    billing_phone = PhoneNumberField("billing phone", blank=True)
    reservation_expires_at = models.DateTimeField(null=True, blank=True)
    refunded_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # Set when something needs a person (a payment we could not accept, …); see its events.
    needs_attention = models.BooleanField(default=False, db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # Orders are never deleted once money moved: staff archive them (hidden from the default
    # admin list, kept for the books).
    archived_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Orders brought from another shop (orders.importer): history only. They moved no stock,
    # have no payment, invoice or email of ours, and are never paid, shipped or refunded
    # here. `source_data` keeps what the source said that has no field of ours (Shopify's
    # financial and fulfilment statuses and dates, tax lines, payment reference, …), by
    # column name, so nothing is lost and the export writes it back.
    imported_at = models.DateTimeField(null=True, blank=True, db_index=True)
    source_data = models.JSONField(default=dict, blank=True)
    # A default, not auto_now_add: an imported order keeps the date it was placed.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("orders:detail", args=[self.number])

    @property
    def reservation_owner(self) -> str:
        """The owner string under which inventory holds this order's reservations."""
        return f"order:{self.number}"

    def get_guest_url(self) -> str:
        return reverse("orders:guest_detail", args=[self.number, self.access_token])

    def address(self, kind: str = "shipping") -> dict[str, str]:
        """The "shipping" or "billing" snapshot as a dict of ADDRESS_FIELDS (str values: the
        country its code, the phone E.164 or as stored), what kernel.addresses formats."""
        return {field: str(getattr(self, f"{kind}_{field}") or "") for field in ADDRESS_FIELDS}

    @property
    def shipping_address(self) -> dict[str, str]:
        return self.address("shipping")

    @property
    def billing_is_shipping(self) -> bool:
        """Whether the order is billed to the address it ships to (pages then say so once)."""
        return self.billing_address == self.shipping_address

    @property
    def billing_address(self) -> dict[str, str]:
        """The billing address; the shipping one when none was given (billing_line1 empty)."""
        return self.address("billing") if self.billing_line1 else self.address("shipping")


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(ProductVariant, null=True, on_delete=models.SET_NULL, related_name="order_lines")
    product_title = models.CharField(max_length=255)
    variant_title = models.CharField(max_length=255, blank=True)
    sku = models.CharField("SKU", max_length=100)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    line_total = models.DecimalField(max_digits=12, decimal_places=2)
    # Tax of this line: rate as a fraction (0.2000 = 20 %) and amount in the order currency,
    # contained in line_total when the order's prices include tax, else added on top.
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4, default=0)
    tax_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # Units shipped so far (Σ of its shipment lines); never more than quantity.
    shipped_quantity = models.PositiveIntegerField(default=0)
    # Units put back on hand after a refund or return; never more than quantity.
    restocked_quantity = models.PositiveIntegerField(default=0)
    # An imported line's source columns that have no field of ours (see Order.source_data).
    source_data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def tax_percent(self) -> str:
        """tax_rate for people: Decimal("0.2000") → "20", Decimal("0.0550") → "5.5"."""
        return f"{self.tax_rate * 100:.2f}".rstrip("0").rstrip(".")


# The notes a shopper reads in their order's history (templates/orders/detail.html), by
# OrderEvent.code: English with %(name)s placeholders filled from OrderEvent.params. `note`
# stores them filled in, in English, for staff; OrderEvent.shopper_note reads them in the
# active language. (A note a person wrote, staff's reason for cancelling, has no code.)
NOTE_CANCELLED_BY_CUSTOMER = "cancelled_by_customer"
NOTE_CANCELLED_BY_STAFF = "cancelled_by_staff"
EVENT_NOTES = {
    NOTE_CANCELLED_BY_CUSTOMER: gettext_noop("By the customer: %(reason)s"),
    NOTE_CANCELLED_BY_STAFF: gettext_noop("Cancelled by staff"),
}


def event_note(code: str, **params: str) -> str:
    """The note `code` (a key of EVENT_NOTES) with `params`, in English: what OrderEvent.note
    stores. Raises KeyError for an unknown code or a missing param."""
    return EVENT_NOTES[code] % params


class OrderEvent(models.Model):
    class Type(models.TextChoices):
        PLACED = "placed", _("Order placed")
        PAID = "paid", _("Payment captured")
        PAYMENT_FAILED = "payment_failed", _("Payment failed")
        EXPIRED = "expired", _("Reservation expired")
        CANCELLED = "cancelled", _("Cancelled")
        FLAGGED = "flagged", _("Needs attention")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        INVOICED = "invoiced", _("Invoice issued")
        CREDITED = "credited", _("Credit note issued")
        EMAIL_SENT = "email_sent", _("Email sent")
        REFUNDED = "refunded", _("Refunded")
        RESTOCKED = "restocked", _("Restocked")
        NOTE = "note", _("Note")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=20, choices=Type.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    # What the note says, for the shopper's language: a key of EVENT_NOTES and its params.
    # Blank for notes with no translation (a person's words, provider ids, "3 × SKU").
    code = models.CharField(max_length=40, blank=True)
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.order.number}: {self.get_type_display()}"

    def shopper_note(self) -> str:
        """The note in the active language: a coded one translated and filled in, any
        other as it was written."""
        text = EVENT_NOTES.get(self.code)
        return gettext(text) % self.params if text else self.note


class SweepRun(models.Model):
    """One run of the expiry sweep (orders.services.sweep_run): when, why, what it expired.

    Written only by the sweep. A run with no finished_at is still going, or its process died.
    """

    class Trigger(models.TextChoices):
        BEAT = "beat", "Celery beat"
        COMMAND = "command", "Management command"
        ADMIN = "admin", "Admin button"

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    reservations_expired = models.PositiveIntegerField(default=0)
    orders_expired = models.PositiveIntegerField(default=0)
    # The exception, if the sweep failed; the counts then say how far it got.
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        # Beat adds a row a minute: "the last sweep" and the admin list read by start time.
        indexes = [models.Index(fields=["started_at"], name="sweeprun_started_at_idx")]
        permissions = [("run_sweep", "Can run the expiry sweep from the admin")]

    def __str__(self) -> str:
        return f"Sweep {self.started_at:%Y-%m-%d %H:%M:%S} ({self.get_trigger_display()})"

    @property
    def duration(self) -> timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None


class Shipment(models.Model):
    """Lines (or part of them) handed to a carrier, with the tracking number."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    carrier = models.CharField(max_length=100)
    tracking_number = models.CharField(max_length=100)
    tracking_url = models.URLField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="shipment_line_quantity_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × order line {self.line_id}"


class InvoiceCounter(models.Model):
    """The last invoice number issued in a year. Its row is locked while a number is taken,
    so numbers are sequential and gap-free per year (a rolled-back transaction gives its
    number back). After a database restore the next number also steps past every number in
    the table and among the stored PDFs (orders.invoices.number_next), so none repeats."""

    year = models.PositiveIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: last number {self.last_number}"


def invoice_pdf_path(instance: "Invoice", filename: str) -> str:
    # By the invoice's year, not the day the file is written: a December invoice rendered in
    # January stays with its year, so the number's file is found where number_next looks.
    # (Files stored before this rule are under the year they were written; rows name them.)
    return f"invoices/{instance.year}/{filename}"


class Invoice(models.Model):
    """An issued invoice: a document. `snapshot` holds everything it states, fixed when it
    was issued (seller, buyer, addresses, lines, taxes, totals; money as decimal strings; see
    orders.invoices.invoice_snapshot); the PDF is rendered from it alone, stored once and
    never replaced. Corrections and money going back are CreditNotes."""

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="invoice")
    number = models.CharField(max_length=32, unique=True)  # e.g. INV-2026-000123
    year = models.PositiveIntegerField()
    sequence = models.PositiveIntegerField()
    issued_at = models.DateTimeField()
    snapshot = models.JSONField(default=dict, editable=False)
    pdf = models.FileField(upload_to=invoice_pdf_path, blank=True)
    # Of the stored file, hex: a file restored from a backup can be checked against it.
    pdf_sha256 = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-year", "-sequence"]
        constraints = [models.UniqueConstraint(fields=["year", "sequence"], name="invoice_year_sequence_unique")]

    def __str__(self) -> str:
        return self.number


class CreditNoteCounter(models.Model):
    """The last credit note number issued in a year: the same scheme as InvoiceCounter, a
    sequence of its own (CN-<year>-<6 digits>)."""

    year = models.PositiveIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: last number {self.last_number}"


def credit_note_pdf_path(instance: "CreditNote", filename: str) -> str:
    return f"credit_notes/{instance.year}/{filename}"


class CreditNote(models.Model):
    """A credit note: money going back on an invoice (a refund, a paid order cancelled), a
    document like the invoice it corrects (orders.credit_notes). `amount` is what it credits
    (Decimal, the order currency, > 0; tax included, as the invoice's total is), `tax_amount`
    the tax within it. `key` names the event it documents ("cancel:<order pk>",
    "refund:<refund pk>"), so asking twice issues it once."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="credit_notes")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=32, unique=True)  # e.g. CN-2026-000007
    year = models.PositiveIntegerField()
    sequence = models.PositiveIntegerField()
    issued_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    tax_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    reason = models.CharField(max_length=255, blank=True)
    key = models.CharField(max_length=100, unique=True)
    snapshot = models.JSONField(default=dict, editable=False)
    pdf = models.FileField(upload_to=credit_note_pdf_path, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["year", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="credit_note_year_sequence_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="credit_note_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return self.number


class EmailLog(models.Model):
    """One row per email the shop sent for an event, keyed so that the same event never
    sends twice even when its task runs twice (e.g. "order_confirmation", "<order number>")."""

    kind = models.CharField(max_length=40)
    key = models.CharField(max_length=255)
    to = models.EmailField()
    subject = models.CharField(max_length=255)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="email_log_kind_key_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} → {self.to}"
