"""Product reviews: only a shopper who bought the product (a paid, or later, order of theirs
with a line of one of its variants) may review it, once; a review shows on the product page
only after staff approve it; the page shows the approved reviews and their average rating in
a fixed number of queries; bad input is a form error or a 403/404, never a 500."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import ProductReview
from catalog.services import review_create, reviews_moderate
from orders.models import Order
from orders.services import ReviewNotAllowed, order_cancel, order_create, order_mark_paid, review_submit
from tests.factories import UserFactory, stocked_variant
from tests.orders.helpers import shipping_details, snapshot

pytestmark = pytest.mark.django_db

GOOD = {"rating": "5", "title": "Lovely", "text": "Soft, warm and it fits."}


def order_of(user, *variants, paid: bool = True) -> Order:
    order, _ = order_create(
        checkout_token=uuid.uuid4().hex,
        lines=[snapshot(variant) for variant in variants],
        shipping=shipping_details(email=user.email),
        shipping_method_name="Standard",
        shipping_price=Decimal("5.00"),
        currency="USD",
        user=user,
        reservation_ttl=timedelta(minutes=15),
    )
    if paid:
        order = order_mark_paid(order=order, reference=f"pay-{order.number}", reservation_ttl=timedelta(minutes=15))
    return order


def review_url(product) -> str:
    return reverse("orders:review", args=[product.handle])


def page(client, product) -> str:
    response = client.get(product.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def shirt():
    return stocked_variant(on_hand=20, price=Decimal("23.00"), product__title="Linen Shirt")


@pytest.fixture
def buyer(shirt):
    user = UserFactory(first_name="Ada")
    order_of(user, shirt)
    return user


@pytest.fixture
def buyer_client(client, buyer):
    client.force_login(buyer)
    return client


def approved(product, *ratings: int) -> None:
    """Approved reviews of `product` with these ratings, each by a new user."""
    for rating in ratings:
        review_create(product=product, user=UserFactory(), rating=rating, text=f"Worth {rating} stars.")
    reviews_moderate(reviews=ProductReview.objects.filter(product=product), status=ProductReview.Status.APPROVED)


# Who may review ---------------------------------------------------------------------------------


def test_a_buyer_sees_the_form_and_their_review_waits_for_moderation(buyer_client, buyer, shirt):
    product = shirt.product
    assert f'action="{review_url(product)}"' in page(buyer_client, product)

    response = buyer_client.post(review_url(product), GOOD, follow=True)

    assert response.redirect_chain == [(product.get_absolute_url(), 302)]
    review = ProductReview.objects.get()
    assert (review.product, review.user, review.rating, review.title, review.text, review.status) == (
        product,
        buyer,
        5,
        "Lovely",
        "Soft, warm and it fits.",
        ProductReview.Status.PENDING,
    )
    html = response.content.decode()
    assert "will appear once it has been checked" in html  # the message
    assert "Soft, warm and it fits." not in html  # not shown before approval
    assert f'action="{review_url(product)}"' not in html  # no second form


def test_a_shopper_who_bought_something_else_cannot_review(client, shirt):
    other = stocked_variant(on_hand=5)
    shopper = UserFactory()
    order_of(shopper, other)
    client.force_login(shopper)

    assert f'action="{review_url(shirt.product)}"' not in page(client, shirt.product)
    assert "written by shoppers who bought this product" in page(client, shirt.product)
    response = client.post(review_url(shirt.product), GOOD)

    assert response.status_code == 403
    assert "Only shoppers who bought this product can review it." in response.content.decode()
    assert not ProductReview.objects.exists()


@pytest.mark.parametrize("status", ["pending_payment", "cancelled"])
def test_an_order_that_was_never_paid_does_not_make_a_buyer(client, shirt, status):
    shopper = UserFactory()
    order = order_of(shopper, shirt, paid=False)
    if status == "cancelled":
        order_cancel(order=order, reason="Changed my mind")
    client.force_login(shopper)

    assert client.post(review_url(shirt.product), GOOD).status_code == 403
    assert not ProductReview.objects.exists()


@pytest.mark.parametrize(
    "status", [Order.Status.FULFILLED, Order.Status.DELIVERED, Order.Status.PARTIALLY_REFUNDED, Order.Status.REFUNDED]
)
def test_an_order_shipped_delivered_or_refunded_after_payment_still_makes_a_buyer(client, shirt, status):
    shopper = UserFactory()
    order = order_of(shopper, shirt)
    Order.objects.filter(pk=order.pk).update(status=status)
    client.force_login(shopper)

    assert client.post(review_url(shirt.product), GOOD).status_code == 302
    assert ProductReview.objects.filter(user=shopper).exists()


def test_a_buyer_of_another_variant_of_the_same_product_may_review(client, shirt):
    sibling = stocked_variant(on_hand=5, product=shirt.product, option1_value="Blue")
    shopper = UserFactory()
    order_of(shopper, sibling)
    client.force_login(shopper)

    assert client.post(review_url(shirt.product), GOOD).status_code == 302


def test_a_guest_is_asked_to_log_in(client, shirt):
    assert "Log in</a> to review" in page(client, shirt.product)

    response = client.post(review_url(shirt.product), GOOD)

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert not ProductReview.objects.exists()


def test_a_buyer_reviews_a_product_only_once(buyer_client, shirt):
    assert buyer_client.post(review_url(shirt.product), GOOD).status_code == 302

    again = buyer_client.post(review_url(shirt.product), {**GOOD, "rating": "1"})

    assert again.status_code == 403
    assert "You have already reviewed this product." in again.content.decode()
    assert ProductReview.objects.get().rating == 5


def test_the_review_rule_lives_in_orders_and_says_why(buyer, shirt):
    stranger = UserFactory()

    with pytest.raises(ReviewNotAllowed) as refused:
        review_submit(user=stranger, product=shirt.product, rating=4, text="Nice")
    assert refused.value.reason == "not_bought"

    review_submit(user=buyer, product=shirt.product, rating=4, text="Nice")
    with pytest.raises(ReviewNotAllowed) as twice:
        review_submit(user=buyer, product=shirt.product, rating=4, text="Nice")
    assert twice.value.reason == "already_reviewed"


# Bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, field",
    [
        ({**GOOD, "rating": "0"}, "rating"),
        ({**GOOD, "rating": "6"}, "rating"),
        ({**GOOD, "rating": "five"}, "rating"),
        ({**GOOD, "rating": "4.5"}, "rating"),
        ({"title": "No stars", "text": "Hmm"}, "rating"),
        ({"rating": "3", "title": "No text"}, "text"),
        ({**GOOD, "text": "   "}, "text"),
        ({**GOOD, "text": "x" * 5001}, "text"),
        ({**GOOD, "title": "t" * 121}, "title"),
    ],
)
def test_bad_input_is_a_form_error_not_a_review_or_a_500(buyer_client, shirt, data, field):
    response = buyer_client.post(review_url(shirt.product), data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not ProductReview.objects.exists()


def test_an_unknown_or_unpublished_product_is_a_404(buyer_client, shirt):
    hidden = stocked_variant(on_hand=1, product__published=False).product

    assert buyer_client.post(reverse("orders:review", args=["no-such-product"]), GOOD).status_code == 404
    assert buyer_client.post(review_url(hidden), GOOD).status_code == 404


def test_the_review_page_answers_get_and_post_only(buyer_client, shirt):
    assert buyer_client.get(review_url(shirt.product)).status_code == 200
    assert buyer_client.put(review_url(shirt.product)).status_code == 405


def test_the_database_refuses_a_rating_outside_1_to_5(buyer, shirt):
    with pytest.raises(IntegrityError):
        ProductReview.objects.create(product=shirt.product, user=buyer, rating=6, text="Off the scale")


# What the product page shows ---------------------------------------------------------------------------


def test_only_approved_reviews_show_with_their_average_rating(client, shirt):
    product = shirt.product
    approved(product, 5, 4)
    hidden = UserFactory()
    review_create(product=product, user=hidden, rating=1, text="Pending rant.")
    rejected = review_create(product=product, user=UserFactory(), rating=1, text="Rejected rant.")
    reviews_moderate(reviews=ProductReview.objects.filter(pk=rejected.pk), status=ProductReview.Status.REJECTED)

    response = client.get(product.get_absolute_url())
    html = response.content.decode()

    assert (response.context["product"].rating_count, response.context["product"].rating_average) == (2, Decimal("4.5"))
    assert "<span data-rating-average>4.5</span> / 5 (2 reviews)" in html
    assert "Worth 5 stars." in html and "Worth 4 stars." in html
    assert "rant" not in html


def test_a_product_without_approved_reviews_shows_no_average(client, shirt):
    review_create(product=shirt.product, user=UserFactory(), rating=2, text="Still pending.")

    html = page(client, shirt.product)

    assert "No reviews yet." in html
    assert "data-rating-average" not in html


def test_reviews_show_the_buyers_first_name_never_their_email(client, buyer, shirt):
    review_submit(user=buyer, product=shirt.product, rating=4, text="Good shirt.")
    reviews_moderate(reviews=ProductReview.objects.all(), status=ProductReview.Status.APPROVED)

    html = page(client, shirt.product)

    assert "Ada," in html
    assert buyer.email not in html


def test_staff_approve_and_reject_reviews_in_the_admin(client, buyer, shirt):
    review = review_submit(user=buyer, product=shirt.product, rating=4, text="Good shirt.")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    changelist = reverse("admin:catalog_productreview_changelist")

    client.post(changelist, {"action": "approve_reviews", "_selected_action": [review.pk]})
    review.refresh_from_db()
    assert review.status == ProductReview.Status.APPROVED and review.moderated_at is not None
    assert "Good shirt." in page(client, shirt.product)

    client.post(changelist, {"action": "reject_reviews", "_selected_action": [review.pk]})
    review.refresh_from_db()
    assert review.status == ProductReview.Status.REJECTED
    assert "Good shirt." not in page(client, shirt.product)


def test_the_product_page_costs_the_same_queries_for_one_review_as_for_twenty(buyer_client, shirt):
    product = shirt.product

    def queries(client) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(product.get_absolute_url()).status_code == 200
        return len(ctx.captured_queries)

    approved(product, 3)
    one = queries(buyer_client)
    approved(product, *([4] * 19))

    assert queries(buyer_client) == one
