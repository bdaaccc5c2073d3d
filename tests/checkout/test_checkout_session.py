"""checkout.services' API checkouts (CheckoutSession): what an update writes."""

import pytest

from checkout.models import CheckoutSession
from checkout.services import checkout_session_start, checkout_session_update
from tests.checkout.helpers import cart_of
from tests.factories import ShippingMethodFactory, stocked_variant

pytestmark = pytest.mark.django_db


def test_an_update_writes_only_what_it_changes_not_what_another_request_set_meanwhile():
    checkout = checkout_session_start(cart=cart_of((stocked_variant(on_hand=3), 1)))
    read_before = CheckoutSession.objects.get(pk=checkout.pk)
    method = ShippingMethodFactory(name="Standard")
    # Another request (the client's next PATCH) sets the method after ours read the checkout.
    checkout_session_update(checkout=checkout, shipping_method=method)

    checkout_session_update(checkout=read_before, email="ada@example.com", name="Ada Lovelace")

    saved = CheckoutSession.objects.get(pk=checkout.pk)
    assert (saved.email, saved.name, saved.shipping_method_id) == ("ada@example.com", "Ada Lovelace", method.pk)
    assert saved.updated_at >= read_before.updated_at
