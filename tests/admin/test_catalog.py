"""Products and variants in the admin: stock figures beside each variant, the stock ledger on
the variant's page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from catalog.models import ProductImage, ProductVariant
from inventory.admin import LEDGER_INLINE_ROWS
from inventory.models import StockMovement
from inventory.services import StockLine, stock_adjust, stock_reserve
from tests.factories import ProductFactory, stocked_variant

pytestmark = pytest.mark.django_db


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def post_data_of(response) -> dict:
    """The POST a browser would send back for an admin change page, unchanged."""
    data = {}
    adminform = response.context["adminform"].form
    for name in adminform.fields:
        value = adminform[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        for form in formset.forms:
            for name in form.fields:
                value = form[name].value()
                if value is not None and value is not False:
                    data[form.add_prefix(name)] = "on" if value is True else value
    return data


def test_product_page_shows_on_hand_and_available_for_each_variant(staff_client):
    variant = stocked_variant(on_hand=7)
    stock_reserve(lines=[StockLine(variant.pk, 3)], owner="checkout:x", ttl=timedelta(minutes=5))
    ProductImage.objects.create(product=variant.product, thumbnails={"200": "products/p/a-200.webp"}, alt="Front")

    response = staff_client.get(change_url(variant.product))

    assertContains(response, '<td class="field-on_hand"><p>7</p></td>', html=True)
    assertContains(response, '<td class="field-available"><p>4</p></td>', html=True)
    assertContains(
        response, '<img src="/media/products/p/a-200.webp" alt="Front" width="100" loading="lazy">', html=True
    )


def test_product_list_counts_variants(staff_client):
    product = ProductFactory()
    stocked_variant(product=product)
    stocked_variant(product=product)
    cl = staff_client.get(reverse("admin:catalog_product_changelist")).context["cl"]
    assert [(p.pk, cl.model_admin.variant_count(p)) for p in cl.result_list] == [(product.pk, 2)]


def test_products_can_be_found_by_variant_sku(staff_client):
    wanted = stocked_variant(sku="TEE-RED-M")
    stocked_variant(sku="MUG-01")  # another product, which the search leaves out
    cl = staff_client.get(reverse("admin:catalog_product_changelist"), {"q": "TEE-RED"}).context["cl"]
    assert [p.pk for p in cl.result_list] == [wanted.product_id]


def test_variant_list_shows_on_hand_reserved_and_available(staff_client):
    variant = stocked_variant(on_hand=9)
    stock_reserve(lines=[StockLine(variant.pk, 2)], owner="checkout:a", ttl=timedelta(minutes=5))
    stock_reserve(lines=[StockLine(variant.pk, 5)], owner="checkout:lapsed", ttl=timedelta(seconds=-1))
    cl = staff_client.get(reverse("admin:catalog_productvariant_changelist")).context["cl"]
    [row] = cl.result_list
    assert (row.on_hand, row.reserved, row.available) == (9, 2, 7)


def test_variant_page_shows_the_ledger_newest_first_read_only_with_an_adjust_link(staff_client):
    variant = stocked_variant(on_hand=5)
    stock_adjust(variant=variant, quantity=-2, reason=StockMovement.Reason.ADJUSTMENT, reference="count")

    response = staff_client.get(change_url(variant))

    assert response.status_code == 200
    [ledger] = response.context["inline_admin_formsets"]
    assert [f.instance.quantity for f in ledger.formset.forms] == [-2, 5]
    assert not (ledger.has_add_permission or ledger.has_change_permission or ledger.has_delete_permission)
    assert reverse("admin:catalog_productvariant_adjust_stock", args=[variant.pk]) in response.content.decode()


def test_variant_page_lists_only_the_newest_ledger_rows(staff_client):
    variant = stocked_variant(on_hand=1)
    for _ in range(LEDGER_INLINE_ROWS + 5):
        stock_adjust(variant=variant, quantity=1, reason=StockMovement.Reason.RECEIPT)
    [ledger] = staff_client.get(change_url(variant)).context["inline_admin_formsets"]
    assert len(ledger.formset.forms) == LEDGER_INLINE_ROWS
    assert ledger.formset.forms[0].instance.on_hand_after == LEDGER_INLINE_ROWS + 6


def test_saving_a_variant_changes_its_price_and_leaves_the_ledger_alone(staff_client):
    variant = stocked_variant(on_hand=1)
    for _ in range(LEDGER_INLINE_ROWS + 5):
        stock_adjust(variant=variant, quantity=1, reason=StockMovement.Reason.RECEIPT)
    url = change_url(variant)
    data = post_data_of(staff_client.get(url))
    data["price"] = "24.50"

    response = staff_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    variant.refresh_from_db()
    assert variant.price == Decimal("24.50")
    assert variant.stock.on_hand == LEDGER_INLINE_ROWS + 6
    assert StockMovement.objects.filter(variant=variant).count() == LEDGER_INLINE_ROWS + 6


def test_saving_a_product_keeps_its_variants_and_stock(staff_client):
    variant = stocked_variant(on_hand=4)
    url = change_url(variant.product)
    data = post_data_of(staff_client.get(url))
    data["title"] = "Renamed"

    response = staff_client.post(url, data)

    assert response.status_code == 302
    variant.refresh_from_db()
    assert variant.product.title == "Renamed"
    assert variant.stock.on_hand == 4
    assert ProductVariant.objects.count() == 1


def test_full_ledger_link_lists_only_that_variants_movements(staff_client):
    variant = stocked_variant(on_hand=5)
    stocked_variant(on_hand=3)  # another variant, whose movements the link leaves out
    stock_adjust(variant=variant, quantity=2, reason=StockMovement.Reason.RECEIPT)
    ledger_url = staff_client.get(change_url(variant)).context["ledger_url"]

    response = staff_client.get(ledger_url)

    assert response.status_code == 200
    assert sorted(m.quantity for m in response.context["cl"].result_list) == [2, 5]


def test_deleting_a_variant_with_stock_history_from_the_product_page_is_refused(staff_client):
    variant = stocked_variant(on_hand=4)
    url = change_url(variant.product)
    data = post_data_of(staff_client.get(url))
    data["variants-0-DELETE"] = "on"

    response = staff_client.post(url, data)

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert "protected related objects" in str(formset.non_form_errors())
    assert ProductVariant.objects.filter(pk=variant.pk).exists()


def test_a_variant_with_stock_history_cannot_be_deleted_from_its_page(staff_client):
    variant = stocked_variant(on_hand=4)
    url = reverse("admin:catalog_productvariant_delete", args=[variant.pk])

    assert staff_client.get(url).status_code == 200  # the "protected objects" explanation
    staff_client.post(url, {"post": "yes"})

    assert ProductVariant.objects.filter(pk=variant.pk).exists()
