"""An order's lines as its pages show them: each with its variant's product and that product's
images read up front (the lines' thumbnails), two queries whatever the number of lines."""

from orders.models import Order, OrderLine


def order_lines_for_display(order: Order) -> list[OrderLine]:
    return list(order.lines.select_related("variant__product").prefetch_related("variant__product__images"))
