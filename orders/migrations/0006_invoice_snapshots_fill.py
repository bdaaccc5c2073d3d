"""Gives every invoice issued before snapshots existed the snapshot it renders from.

What such an invoice stated was never stored: its PDF was rendered from the order as it was at
each render. The order as it is now, at this migration, is the best record there is, so the
snapshot is taken from it, once; from here on the invoice never reads the order again. The
seller is SITE_NAME / SHOP_ADDRESS / SHOP_TAX_ID as configured now. Stored PDFs are left as
they are. Version 1 of the shape in orders.invoices.invoice_snapshot, copied here so that a
later change to that function never changes what this migration wrote.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import migrations
from django.utils import timezone

CENT = Decimal("0.01")


def _money(value) -> str:
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def _snapshot(invoice, order, lines) -> dict:
    line_tax = sum((line.tax_amount for line in lines), Decimal("0"))
    address = {
        "name": order.shipping_name,
        "line1": order.shipping_line1,
        "line2": order.shipping_line2,
        "postal_code": order.shipping_postal_code,
        "city": order.shipping_city,
        "country": order.shipping_country,
        "phone": order.shipping_phone,
    }
    return {
        "version": 1,
        "number": invoice.number,
        "issued_on": timezone.localdate(invoice.issued_at).isoformat(),
        "seller": {"name": settings.SITE_NAME, "address": settings.SHOP_ADDRESS, "tax_id": settings.SHOP_TAX_ID},
        "buyer": {"email": order.email, **address},
        "ship_to": {**address, "method": order.shipping_method_name},
        "order": {
            "number": order.number,
            "placed_on": timezone.localdate(order.created_at).isoformat(),
            "paid_on": timezone.localdate(order.paid_at).isoformat() if order.paid_at else None,
        },
        "currency": order.currency,
        "prices_include_tax": order.prices_include_tax,
        "lines": [
            {
                "line_id": line.pk,
                "title": line.product_title,
                "variant": line.variant_title,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "line_total": _money(line.line_total),
                "tax_rate": str(line.tax_rate),
                "tax_amount": _money(line.tax_amount),
            }
            for line in lines
        ],
        "subtotal": _money(order.subtotal),
        "discount": {"code": order.voucher_code, "amount": _money(order.discount_total)},
        "shipping": {
            "method": order.shipping_method_name,
            "price": _money(order.shipping_total),
            "tax": _money(order.tax_total - line_tax),
        },
        "tax_total": _money(order.tax_total),
        "total": _money(order.total),
    }


def fill_snapshots(apps, schema_editor):
    Invoice = apps.get_model("orders", "Invoice")
    OrderLine = apps.get_model("orders", "OrderLine")
    for invoice in Invoice.objects.filter(snapshot={}).select_related("order").order_by("pk").iterator(chunk_size=500):
        lines = list(OrderLine.objects.filter(order_id=invoice.order_id).order_by("pk"))
        invoice.snapshot = _snapshot(invoice, invoice.order, lines)
        invoice.save(update_fields=["snapshot"])


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0005_invoice_snapshots_credit_notes"),
    ]

    # Reversing keeps the snapshots: the column goes with 0005's reversal.
    operations = [migrations.RunPython(fill_snapshots, migrations.RunPython.noop)]
