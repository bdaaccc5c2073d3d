"""The back office's look, through its pages: the shop's name in the header, "Reports and
tools" as a list, order lists that flag only the orders needing attention and show money in
its currency, the variant table's columns, and the product description edited as formatted
text and saved as sanitised HTML. The layout itself (widths at 1280 px) is checked in a real
browser: tests/browser/test_admin_layout.py."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from catalog.models import Product
from orders.models import Order
from tests.admin.conftest import place_order
from tests.admin.test_catalog import change_url, post_data_of
from tests.factories import ProductFactory, stocked_variant

pytestmark = pytest.mark.django_db


def test_the_header_and_title_carry_the_shops_name(staff_client, settings):
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert re.search(r'<div id="site-name"><a href="/admin/">\s*Small Shop\s*</a></div>', page)
    assert "<title>Back office | Small Shop back office</title>" in page
    assert "Django administration" not in page and "Django site admin" not in page
    listing = staff_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "| Small Shop back office</title>" in listing


def test_reports_and_tools_are_a_list_of_links_with_what_each_does(staff_client):
    page = staff_client.get(reverse("admin:index")).content.decode()
    tools = page.split('id="shop-reports"', 1)[1].split("</ul>", 1)[0]
    assert "<table" not in tools and "<th" not in tools
    items = re.findall(r'<li>\s*<a href="([^"]+)">([^<]+)</a>\s*<p>([^<]+)</p>\s*</li>', tools)
    assert [name for _url, name, _what in items] == ["Sales reports", "Stock report", "Expiry sweeps"]


def test_the_order_list_flags_only_the_orders_needing_attention(staff_client):
    calm = place_order(stocked_variant(on_hand=2))
    flagged = place_order(stocked_variant(on_hand=2))
    Order.objects.filter(pk=flagged.pk).update(needs_attention=True)

    page = staff_client.get(reverse("admin:orders_order_changelist")).content.decode()

    rows = {
        number: row
        for row in re.findall(r"<tr>.*?</tr>", page, re.S)
        if (number := next((o.number for o in (calm, flagged) if f">{o.number}</a>" in row), None))
    }
    attention = {n: re.search(r'<td class="field-attention">(.*?)</td>', row, re.S).group(1) for n, row in rows.items()}
    assert "Needs attention" in attention[flagged.number]
    assert attention[calm.number].strip() in ("", "&nbsp;")  # blank: no red ✖ on an ordinary order
    assert "icon-no.svg" not in page.split('id="result_list"', 1)[1]


def test_the_order_list_shows_money_in_its_currency(staff_client):
    order = place_order(stocked_variant(on_hand=2, price=Decimal("79.00")))
    assertContains(staff_client.get(reverse("admin:orders_order_changelist")), f"${order.total:,.2f}")


def test_the_variant_table_shows_only_the_options_the_product_names(staff_client):
    product = ProductFactory(option1_name="Size", option2_name="", option3_name="")
    stocked_variant(product=product, option1_value="M")
    page = staff_client.get(change_url(product)).content.decode()
    assert 'name="variants-0-option1_value"' in page
    assert 'name="variants-0-option2_value"' not in page and 'name="variants-0-option3_value"' not in page


def test_the_description_is_edited_as_formatted_text(staff_client):
    product = stocked_variant().product
    response = staff_client.get(change_url(product))
    assertContains(response, "data-rich-text")
    assertContains(response, "/static/js/admin-description.js")
    assertNotContains(response, "HTML, as in Shopify")


def test_saving_a_description_keeps_its_formatting_and_drops_active_content(staff_client):
    product = stocked_variant().product
    url = change_url(product)
    data = post_data_of(staff_client.get(url))
    data["description"] = (
        "<p>Soft <strong>merino</strong>, <em>light</em>.</p><ul><li>Machine washable</li></ul>"
        '<script>alert(1)</script><p onclick="steal()">See <a href="javascript:alert(1)">care</a>'
        ' and <a href="https://example.com/care">the guide</a>.</p><iframe src="https://evil.example"></iframe>'
    )

    assert staff_client.post(url, data).status_code == 302

    saved = Product.objects.get(pk=product.pk).description
    assert "<strong>merino</strong>" in saved and "<em>light</em>" in saved
    assert "<ul><li>Machine washable</li></ul>" in saved
    assert '<a href="https://example.com/care" rel="noopener noreferrer">the guide</a>' in saved
    for active in ("<script", "alert(1)", "onclick", "javascript:", "<iframe"):
        assert active not in saved


def test_an_emptied_editor_saves_an_empty_description(staff_client):
    product = stocked_variant(product__description="<p>Old words</p>").product
    url = change_url(product)
    data = post_data_of(staff_client.get(url))
    data["description"] = "<p><br></p>"
    assert staff_client.post(url, data).status_code == 302
    assert Product.objects.get(pk=product.pk).description == ""
