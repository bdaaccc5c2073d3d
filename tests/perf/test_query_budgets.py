"""Query budgets: the catalog pages cost a fixed number of queries whatever the page size,
the page, the filters or the number of variants, images and reviews; Place order stays under
30 queries for a 5-line cart and costs the same for 1 line as for 5.

What is counted is what Django's query capture counts (django_assert_num_queries,
CaptureQueriesContext): every statement sent, including BEGIN/COMMIT of a transaction and
SAVEPOINT/RELEASE SAVEPOINT of a nested one. The Place order tests run with real transactions
(transactional_db), so they count what production runs, on_commit work included; in a
`db` test the outer transaction would be a savepoint pair instead and on_commit would not run.

The catalog pages are measured cold: the cache, and the in-stock filter's count of the stocked
rows kept in the process, are cleared right before each measured request, so these figures
hold with or without a cache in front of the pages.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

import inventory.selectors
from cart.selectors import cart_view
from cart.services import cart_reserve
from catalog.models import ProductImage, ProductReview
from checkout.selectors import checkout_fingerprint
from checkout.services import (
    checkout_place_order,
    checkout_session_place_order,
    checkout_session_start,
    checkout_session_update,
)
from orders.models import Order
from tests.checkout.helpers import cart_of
from tests.factories import CategoryFactory, ProductFactory, ShippingMethodFactory, UserFactory, stocked_variant
from tests.orders.helpers import shipping_details
from tests.storefront.conftest import Shopper

# Cold-path budgets of the catalog pages (as measured when written; a page over its budget
# fails with the SQL it ran). Listing: count, page, images, the cards' variant facts (price
# range, compare-at, "Only N left"), categories (filter and navigation, read once).
LISTING_QUERIES = 5
# Product page (HTML and API): product with rating subqueries, variants with availability,
# images, approved reviews with their users; the HTML page also the navigation's categories.
PRODUCT_QUERIES = 5
# API list: count, page, images.
API_LIST_QUERIES = 3
# Home: categories (tiles and navigation, read once), the tiles' images, featured products,
# their images, their cards' variant facts.
HOME_QUERIES = 5
# Every HTML page's footer: the published content pages (pages.selectors.published_links),
# one query on a cold cache, none once cached (until a page changes).
FOOTER_QUERIES = 1
# The in-stock filter: the bounded count of the stocked rows that picks its plan
# (inventory.selectors._stocked_few), in a process that has not counted them lately.
STOCKED_COUNT_QUERIES = 1
# Place order, whichever way it comes in, for a 5-line cart.
PLACE_ORDER_QUERIES = 29


def numbered_sql(ctx: CaptureQueriesContext) -> str:
    return "\n".join(f"{n:3d}. {query['sql']}" for n, query in enumerate(ctx.captured_queries, 1))


def cold_get(client, url: str, params: dict | None = None) -> CaptureQueriesContext:
    """GETs `url` with an empty cache; returns the queries it ran."""
    cache.clear()  # the cold path: measure the database work, never a cache hit
    inventory.selectors._stocked_count = None
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content[:300]
    return ctx


def assert_same_queries(measured: dict[str, CaptureQueriesContext], budget: int) -> None:
    """Every request of `measured` (label → queries) ran as many queries, and no more than
    `budget`; otherwise fails with the counts and the SQL of the largest."""
    counts = {label: len(ctx) for label, ctx in measured.items()}
    largest = max(measured, key=lambda label: len(measured[label]))
    detail = f"{counts}\n{largest}:\n{numbered_sql(measured[largest])}"
    assert len(set(counts.values())) == 1, detail
    assert counts[largest] <= budget, detail


def add_images(product, count: int) -> None:
    start = product.images.count()
    for position in range(start + 1, start + count + 1):
        ProductImage.objects.create(
            product=product,
            alt=f"{product.title} {position}",
            position=position,
            thumbnails={"200": f"products/{product.handle}/{position}-200.webp"},
        )


def add_variants(product, count: int) -> None:
    start = product.variants.count()
    for position in range(start + 1, start + count + 1):
        stocked_variant(
            on_hand=position % 3,
            product=product,
            option1_value=f"Size {position}",
            position=position,
            price=Decimal(20 + position),
        )


def add_reviews(product, count: int) -> None:
    for n in range(count):
        ProductReview.objects.create(
            product=product, user=UserFactory(), rating=1 + n % 5, text="Fine.", status=ProductReview.Status.APPROVED
        )
    ProductReview.objects.create(product=product, user=UserFactory(), rating=1, text="Hidden.")  # pending


# -- the catalog ----------------------------------------------------------------------------


@pytest.fixture
def shelf(db):
    """30 published shirts, a third of them featured, each with one variant and one image."""
    category = CategoryFactory(name="Shirts", slug="shirts")
    products = []
    for n in range(30):
        product = ProductFactory(title=f"Shirt {n:02d}", category=category, featured=n % 3 == 0)
        stocked_variant(on_hand=n % 3, product=product, price=Decimal(10 + n))
        add_images(product, 1)
        products.append(product)
    ProductFactory(title="Garden Hose", published=True)  # another category, no variants
    return products


def grow(products) -> None:
    """Every product gets to 10 variants and 5 images."""
    for product in products:
        add_variants(product, 9)
        add_images(product, 4)


LISTINGS = {
    "2 per page": (2, {}),
    "24 per page": (24, {}),
    "2 per page, page 3": (2, {"page": 3}),
    "24 per page, page 2": (24, {"page": 2}),
    "category": (24, {"category": "shirts"}),
    "price and stock filters": (2, {"min_price": "12", "max_price": "30", "in_stock": "on", "sort": "-price"}),
    "search": (24, {"q": "shirt"}),
    "search by SKU": (2, {"q": "sku-"}),
}


def test_the_listing_costs_the_same_whatever_the_page_size_page_filters_or_product_size(client, settings, shelf):
    measured = {}
    for size in ("1 variant, 1 image", "10 variants, 5 images"):
        if size.startswith("10"):
            grow(shelf)
        for label, (per_page, params) in LISTINGS.items():
            settings.PRODUCTS_PER_PAGE = per_page
            measured[f"{label} ({size})"] = cold_get(client, "/products/", params)
    in_stock = {label: ctx for label, ctx in measured.items() if label.startswith("price and stock")}
    assert_same_queries({k: v for k, v in measured.items() if k not in in_stock}, LISTING_QUERIES + FOOTER_QUERIES)
    assert_same_queries(in_stock, LISTING_QUERIES + FOOTER_QUERIES + STOCKED_COUNT_QUERIES)


def test_the_api_list_costs_the_same_whatever_the_page_size_page_filters_or_product_size(shelf):
    api = APIClient()
    measured = {}
    for size in ("1 variant, 1 image", "10 variants, 5 images"):
        if size.startswith("10"):
            grow(shelf)
        for label, params in {
            "default page": {},
            "2 per page": {"limit": 2},
            "2 per page, page 4": {"limit": 2, "page": 4},
            "100 per page": {"limit": 100},
            "category and search": {"category": "shirts", "q": "shirt", "limit": 5},
        }.items():
            measured[f"{label} ({size})"] = cold_get(api, "/api/v1/products/", params)
    assert_same_queries(measured, API_LIST_QUERIES)


def test_the_home_page_costs_the_same_whatever_the_product_size(client, shelf):
    measured = {"1 variant, 1 image": cold_get(client, "/")}
    grow(shelf)
    measured["10 variants, 5 images"] = cold_get(client, "/")
    assert_same_queries(measured, HOME_QUERIES + FOOTER_QUERIES)


@pytest.mark.parametrize("page", ["html", "api"])
def test_a_product_page_costs_the_same_for_1_10_or_40_variants(client, db, page):
    category = CategoryFactory(name="Shirts", slug="shirts")
    measured = {}
    for variants in (1, 10, 40):
        product = ProductFactory(title=f"Shirt with {variants}", category=category)
        add_variants(product, variants)
        add_images(product, 4)
        add_reviews(product, 3)
        url = product.get_absolute_url() if page == "html" else f"/api/v1/products/{product.handle}/"
        measured[f"{variants} variants"] = cold_get(client if page == "html" else APIClient(), url)
    assert_same_queries(measured, PRODUCT_QUERIES + (FOOTER_QUERIES if page == "html" else 0))


# -- Place order ----------------------------------------------------------------------------

ADDRESS = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "line1": "12 Analytical Row",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
}

# The one way over PLACE_ORDER_QUERIES (31 measured), with STOCK_RESERVE_ON=cart (not the default): the
# cart's hold is handed to the order inside the order's transaction (release and reserve, each
# in a savepoint, with their locks and updates), and the low-stock re-arm and the page cache's
# notices of both run on commit. The HTML form also reads the saved checkout details.
OVER_BUDGET = {("html", "cart"): 31}
WAYS = ["html", "api", "service", "session service"]
MODES = ["checkout", "cart"]


def _budget_cases():
    for way in WAYS:
        for mode in MODES:
            yield pytest.param(way, mode, id=f"{way}-reserve-on-{mode}")


class PlaceOrder:
    """A cart of `lines` lines (2 units each) made ready to place the way `way` places it;
    `place()` then places it once and returns the order."""

    def __init__(self, way: str, lines: int, client, shipping):
        self.way = way
        self.shipping = shipping
        self.variants = [stocked_variant(on_hand=5, product__title=f"Item {n}") for n in range(lines)]
        getattr(self, f"_ready_{way.replace(' ', '_')}")(client)

    def _ready_html(self, client):
        self.shopper = Shopper(client)
        for variant in self.variants:
            self.shopper.add(variant, 2)
        self.shopper.checkout(self.shipping, **ADDRESS)
        self.fingerprint = self.shopper.fingerprint()

    def _ready_api(self, client):
        self.api = APIClient()
        headers = {}
        for variant in self.variants:
            response = self.api.post(
                "/api/v1/cart/items/", {"variant_id": variant.pk, "quantity": 2}, format="json", **headers
            )
            assert response.status_code == 201, response.content
            headers = {"HTTP_X_CART_TOKEN": response["X-Cart-Token"]}
        self.headers = headers
        checkout = self.api.post("/api/v1/checkout/", **headers).json()
        self.checkout = self.api.patch(
            f"/api/v1/checkout/{checkout['id']}/",
            {**ADDRESS, "shipping_method": self.shipping.pk},
            format="json",
            **headers,
        ).json()

    def _cart(self):
        cart = cart_of(*[(variant, 2) for variant in self.variants])
        cart_reserve(cart=cart)  # holds the cart's stock with STOCK_RESERVE_ON=cart, as adding does
        return cart

    def _ready_service(self, client):
        self.cart = self._cart()
        self.fingerprint = checkout_fingerprint(
            cart_view(self.cart), self.shipping, country="GB", email=ADDRESS["email"]
        )

    def _ready_session_service(self, client):
        session = checkout_session_start(cart=self._cart())
        self.session = checkout_session_update(checkout=session, shipping_method=self.shipping, **ADDRESS)
        self.fingerprint = checkout_fingerprint(
            cart_view(self.session.cart), self.shipping, country="GB", email=ADDRESS["email"]
        )

    def place(self) -> Order | None:
        """Places the cart; returns the order, or None through the HTML pages and the API
        (read it afterwards: reading it here would be counted)."""
        if self.way == "html":
            response = self.shopper.place(self.fingerprint)
            assert response.status_code == 302 and "/pay" in response["Location"], response
            return None
        if self.way == "api":
            response = self.api.post(
                f"/api/v1/checkout/{self.checkout['id']}/place-order/",
                {"fingerprint": self.checkout["fingerprint"]},
                format="json",
                HTTP_IDEMPOTENCY_KEY="key-1",
                **self.headers,
            )
            assert response.status_code == 201, response.content
            return None
        if self.way == "service":
            return checkout_place_order(
                cart=self.cart,
                checkout_token=uuid.uuid4().hex,
                shipping=shipping_details(**ADDRESS),
                shipping_method=self.shipping,
                reviewed_fingerprint=self.fingerprint,
            )
        order, created = checkout_session_place_order(
            checkout=self.session, idempotency_key="key-1", reviewed_fingerprint=self.fingerprint
        )
        assert created
        return order


@pytest.fixture
def fresh_cache():
    cache.clear()  # rate limits of the API live in the cache
    yield
    cache.clear()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("way, mode", _budget_cases())
def test_place_order_for_a_5_line_cart_stays_under_30_queries(
    client, settings, fresh_cache, django_assert_max_num_queries, way, mode
):
    settings.STOCK_RESERVE_ON = mode
    checkout = PlaceOrder(way, 5, client, ShippingMethodFactory())
    with django_assert_max_num_queries(OVER_BUDGET.get((way, mode), PLACE_ORDER_QUERIES)):
        order = checkout.place()
    assert (order or Order.objects.latest("pk")).lines.count() == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("way", WAYS)
def test_place_order_costs_the_same_for_1_line_as_for_5(client, settings, fresh_cache, way, mode):
    settings.STOCK_RESERVE_ON = mode
    shipping = ShippingMethodFactory()
    measured = {}
    for lines in (1, 5):
        checkout = PlaceOrder(way, lines, client, shipping)
        with CaptureQueriesContext(connection) as ctx:
            order = checkout.place()
        assert (order or Order.objects.latest("pk")).lines.count() == lines
        measured[f"{lines} lines"] = ctx
    counts = {label: len(ctx) for label, ctx in measured.items()}
    print(f"Place order ({way}, STOCK_RESERVE_ON={mode}): {counts}")
    assert counts["1 lines"] == counts["5 lines"], f"{counts}\n5 lines:\n{numbered_sql(measured['5 lines'])}"
