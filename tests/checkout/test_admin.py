"""Checkout in the back office: shipping methods with bands and countries, tax rates,
vouchers whose uses only checkout counts."""

from decimal import Decimal

import pytest
from django.urls import reverse

from checkout.models import ShippingMethod, TaxRate, Voucher, VoucherRedemption
from tests.checkout.helpers import cart_of, place
from tests.factories import ShippingMethodFactory, UserFactory, stocked_variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def inline(prefix: str, rows: list[dict]) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


def test_staff_set_up_a_weight_based_method_with_bands_and_countries(staff_client):
    response = staff_client.post(
        reverse("admin:checkout_shippingmethod_add"),
        {
            "name": "Parcel",
            "kind": "weight",
            "price": "0.00",
            "free_over": "100.00",
            "active": "on",
            "position": "1",
            **inline("bands", [{"max_grams": "1000", "price": "4.00"}, {"max_grams": "5000", "price": "9.00"}]),
            **inline("countries", [{"country": "GB"}, {"country": "IE"}]),
        },
    )

    assert response.status_code == 302, response.context["errors"] if response.context else response
    method = ShippingMethod.objects.get(name="Parcel")
    assert list(method.bands.values_list("max_grams", "price")) == [(1000, Decimal("4.00")), (5000, Decimal("9.00"))]
    assert sorted(method.countries.values_list("country", flat=True)) == ["GB", "IE"]
    assert method.free_over == Decimal("100.00")


def test_a_country_must_be_a_country(staff_client):
    response = staff_client.post(
        reverse("admin:checkout_taxrate_add"), {"country": "UK", "name": "VAT", "rate": "0.2000"}
    )

    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["adminform"].form.errors["country"])
    assert not TaxRate.objects.exists()


def test_a_tax_rate_is_a_fraction_below_one(staff_client):
    response = staff_client.post(reverse("admin:checkout_taxrate_add"), {"country": "GB", "name": "VAT", "rate": "20"})

    assert response.status_code == 200
    assert not TaxRate.objects.exists()


def test_a_voucher_code_taken_in_another_case_is_refused_with_a_message(staff_client):
    Voucher.objects.create(code="SUMMER10", kind="percent", value=Decimal("10"))

    response = staff_client.post(
        reverse("admin:checkout_voucher_add"),
        {
            "code": "summer10",
            "kind": "percent",
            "value": "15",
            "min_spend": "0.00",
            "active": "on",
            **inline("redemptions", []),
        },
    )

    assert response.status_code == 200
    assert "A voucher with this code already exists." in response.content.decode()
    assert Voucher.objects.count() == 1


def test_the_voucher_use_count_and_its_redemptions_are_read_only(staff_client):
    code = Voucher.objects.create(code="SUMMER10", kind="percent", value=Decimal("10"))
    place(cart_of((stocked_variant(), 1)), ShippingMethodFactory(), voucher_code="SUMMER10")

    page = staff_client.get(reverse("admin:checkout_voucher_change", args=[code.pk]))

    assert "used_count" not in page.context["adminform"].form.fields
    redemption = VoucherRedemption.objects.get()
    assert staff_client.get(reverse("admin:checkout_voucherredemption_delete", args=[redemption.pk])).status_code == 403
    assert staff_client.get(reverse("admin:checkout_voucher_delete", args=[code.pk])).status_code == 403


def test_a_usage_limit_below_the_uses_so_far_is_refused(staff_client):
    code = Voucher.objects.create(code="SUMMER10", kind="percent", value=Decimal("10"), used_count=3)

    response = staff_client.post(
        reverse("admin:checkout_voucher_change", args=[code.pk]),
        {
            "code": "SUMMER10",
            "kind": "percent",
            "value": "10",
            "min_spend": "0.00",
            "usage_limit": "2",
            "active": "on",
            **inline("redemptions", []),
        },
    )

    assert response.status_code == 200
    assert "The usage limit cannot be below the number of uses so far (3)." in response.content.decode()
