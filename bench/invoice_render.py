#!/usr/bin/env python
"""
Invoice PDF rendering time in a long-lived process (a Celery worker's view): the median time
of `orders.invoices.invoice_render_pdf` for a 1-page invoice (3 lines) and a 3-page one
(65 lines), after a warm-up, plus what the first render in a fresh process costs. Prints the
1-page median against the target (TARGET_MS, issue 17) and the load average at the start and
the end (wall times on a busy machine are long; the CPU median much less so).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop .venv/bin/python bench/invoice_render.py
    .venv/bin/python bench/invoice_render.py --renders 20 --warmup 3

Drops and recreates the database `shop_bench` (--database) on DATABASE_URL's server and
migrates it. Not part of the test suite. Renders only (template + WeasyPrint): issuing the
number and storing the file are single-row writes and not measured here.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # sets sys.path for the project

SHORT_LINES = 3
LONG_LINES = 65
TARGET_MS = 150.0  # issue 17: a one-page invoice in under 150 ms in a long-lived worker


def load_average() -> str:
    return "load average " + " ".join(f"{figure:.2f}" for figure in os.getloadavg())


def make_invoice(lines: int, tag: str):
    """A paid order of `lines` lines (tax at 20 %, included) and its invoice."""
    from django.utils import timezone

    from orders.invoices import invoice_issue
    from orders.models import Order, OrderLine

    unit = Decimal("24.00")
    rows = [
        OrderLine(
            product_title=f"Linen shirt, style {n}",
            variant_title=["Small", "Medium", "Large"][n % 3],
            sku=f"BENCH-{tag}-{n:03d}",
            quantity=1 + n % 3,
            unit_price=unit,
            line_total=unit * (1 + n % 3),
            tax_rate=Decimal("0.2000"),
            tax_amount=(unit * (1 + n % 3) / 6).quantize(Decimal("0.01")),
        )
        for n in range(lines)
    ]
    subtotal = sum((row.line_total for row in rows), Decimal("0"))
    order = Order.objects.create(
        checkout_token=f"bench-invoice-{tag}",
        email="ada@example.com",
        currency="USD",
        status=Order.Status.PAID,
        paid_at=timezone.now(),
        subtotal=subtotal,
        shipping_total=Decimal("5.00"),
        total=subtotal + Decimal("5.00"),
        tax_total=sum((row.tax_amount for row in rows), Decimal("0")),
        shipping_method_name="Standard",
        shipping_name="Ada Lovelace",
        shipping_line1="12 Analytical Row",
        shipping_city="London",
        shipping_postal_code="N1 9GU",
        shipping_country="GB",
    )
    for row in rows:
        row.order = order
    OrderLine.objects.bulk_create(rows)
    return invoice_issue(order=order)


def page_count(pdf: bytes) -> int | str:
    try:
        from pypdf import PdfReader  # requirements-dev.txt
    except ImportError:
        return "?"
    return len(PdfReader(io.BytesIO(pdf)).pages)


def render_as_before(invoice) -> bytes:
    """The invoice rendered the way every render went before issue 17: a new WeasyPrint
    FontConfiguration each time and the whole stylesheet in the document's <style>. Must give
    the same bytes as invoice_render_pdf (checked below)."""
    from django.conf import settings
    from django.template.loader import render_to_string
    from weasyprint import HTML

    from orders.invoices import _display

    html = render_to_string("orders/invoice.html", {"doc": _display(invoice.snapshot)})
    fixed = render_to_string("orders/_document.css")
    return HTML(string=html.replace("</style>", fixed + "</style>", 1), base_url=str(settings.BASE_DIR)).write_pdf()


def measure(invoice, *, warmup: int, renders: int, baseline: bool = False) -> dict:
    """Times invoice_render_pdf (and, with `baseline`, render_as_before, alternating with it so
    that both see the same load) after `warmup` untimed renders of each."""
    from orders.invoices import invoice_render_pdf

    renderers = {"now": lambda: invoice_render_pdf(invoice=invoice)}
    if baseline:
        renderers["before"] = lambda: render_as_before(invoice)
    for render in renderers.values():
        for _ in range(warmup):
            pdf = render()
    times: dict[str, list[float]] = {name: [] for name in renderers}
    cpu_times: dict[str, list[float]] = {name: [] for name in renderers}
    outputs = {}
    for _ in range(renders):
        for name, render in renderers.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            outputs[name] = render()
            times[name].append(time.perf_counter() - start)
            cpu_times[name].append(time.process_time() - cpu_start)
    pdf = outputs["now"]
    result = {
        "pages": page_count(pdf),
        "bytes": len(pdf),
        "median": statistics.median(times["now"]),
        "min": min(times["now"]),
        "max": max(times["now"]),
        # CPU time of this process: what the render costs a worker, nearly unaffected by
        # other processes competing for the machine (wall time is).
        "cpu_median": statistics.median(cpu_times["now"]),
    }
    if baseline:
        result["before_median"] = statistics.median(times["before"])
        result["before_cpu_median"] = statistics.median(cpu_times["before"])
        result["same_bytes"] = outputs["before"] == pdf
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=20, help="timed renders per invoice (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed renders first (default 3)")
    parser.add_argument("--database", default="shop_bench", help="database to (re)create (default shop_bench)")
    args = parser.parse_args(argv)

    print(load_average())
    url = common.recreate_database(args.database)
    common.setup_django(url)
    common.migrate()

    short = make_invoice(SHORT_LINES, "S")
    long = make_invoice(LONG_LINES, "L")

    from orders.invoices import invoice_render_pdf

    # The first render in a fresh process: imports WeasyPrint (Pango, fonts) and compiles the
    # template. A worker pays it once; a web process rendering on download pays it once too.
    start = time.perf_counter()
    invoice_render_pdf(invoice=short)
    cold = time.perf_counter() - start

    print(f"invoice_render_pdf, {args.warmup} warm-up + {args.renders} timed renders each, one process (wall time)")
    print(f"  first render in a fresh process (imports WeasyPrint): {cold * 1000:7.1f} ms")
    results = {}
    for label, invoice, lines in (("1-page", short, SHORT_LINES), ("3-page", long, LONG_LINES)):
        result = results[label] = measure(invoice, warmup=args.warmup, renders=args.renders, baseline=label == "1-page")
        print(
            f"  {label} invoice ({lines:2d} lines, {result['pages']} page(s), {result['bytes'] / 1024:5.1f} KiB): "
            f"median {result['median'] * 1000:7.1f} ms   min {result['min'] * 1000:7.1f} ms   "
            f"max {result['max'] * 1000:7.1f} ms   CPU median {result['cpu_median'] * 1000:7.1f} ms"
        )
    one_page = results["1-page"]
    print(
        f"  1-page rendered as before issue 17 (fresh FontConfiguration, stylesheet inline), alternating: "
        f"median {one_page['before_median'] * 1000:7.1f} ms   CPU median {one_page['before_cpu_median'] * 1000:7.1f} ms"
        f"   now/before {one_page['median'] / one_page['before_median']:.2f}× "
        f"(CPU {one_page['cpu_median'] / one_page['before_cpu_median']:.2f}×); "
        f"same bytes: {'yes' if one_page['same_bytes'] else 'NO'}"
    )
    print(
        f"1-page vs target: median {one_page['median'] * 1000:.1f} ms, target < {TARGET_MS:.0f} ms: "
        f"{one_page['median'] * 1000 / TARGET_MS:.2f}× the target "
        f"(CPU median {one_page['cpu_median'] * 1000 / TARGET_MS:.2f}×)"
    )
    print(load_average())
    return 0 if one_page["same_bytes"] else 1


if __name__ == "__main__":
    sys.exit(main())
