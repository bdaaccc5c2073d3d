"""kernel/replica.py: which reads go to the replica (DATABASE_REPLICA_URL) and which to the
primary. In tests the alias "replica" is a mirror of the test database (config/settings/test.py),
switched on here with REPLICA_DATABASE="replica"; which connection a view's queries ran on
shows where the router sent them."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connections, transaction
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cart.models import Cart
from catalog.cache import EDIT, catalog_edited, listing_cached
from catalog.models import Category, Product, ProductVariant
from inventory.models import StockItem
from inventory.services import StockLine, stock_reserve
from kernel.replica import (
    ReplicaRouter,
    primary_position,
    primary_reads,
    reading_from_replica,
    replica_reads,
    replica_view,
    replication_lag_seconds,
)
from tests.factories import UserFactory, stocked_variant

User = get_user_model()
router = ReplicaRouter()
on = override_settings(REPLICA_DATABASE="replica")


# -- the router, without a database ------------------------------------------------------------


@on
def test_catalog_reads_in_the_block_go_to_the_replica():
    with replica_reads():
        assert router.db_for_read(Product) == "replica"
        assert router.db_for_read(ProductVariant) == "replica"
        assert router.db_for_read(StockItem) == "replica"  # availability shown on the page


@on
def test_outside_the_block_everything_reads_the_primary():
    assert router.db_for_read(Product) == "default"
    # Even an object loaded from the replica (a cached product): its related reads too.
    product = Product(pk=1)
    product._state.db = "replica"
    assert router.db_for_read(ProductVariant, instance=product) == "default"


@on
def test_shoppers_data_reads_the_primary_even_in_the_block():
    with replica_reads():
        assert router.db_for_read(User) == "default"
        assert router.db_for_read(Cart) == "default"


@on
def test_primary_reads_inside_the_block():
    with replica_reads():
        with primary_reads():
            assert router.db_for_read(Product) == "default"
        assert router.db_for_read(Product) == "replica"


@on
def test_a_write_in_the_block_sends_the_rest_of_it_to_the_primary():
    with replica_reads():
        assert router.db_for_write(Product) == "default"
        assert router.db_for_read(Product) == "default"
    with replica_reads():  # a new block starts on the replica again
        assert router.db_for_read(Product) == "replica"


@on
def test_replica_alias_is_never_migrated_and_relations_are_allowed():
    assert router.allow_migrate("replica", "catalog") is False
    assert router.allow_migrate("default", "catalog") is None
    a, b = Product(pk=1), Category(pk=1)
    a._state.db, b._state.db = "replica", "default"
    assert router.allow_relation(a, b) is True


def test_without_a_replica_the_router_decides_nothing():
    with replica_reads():
        assert router.db_for_read(Product) is None
        assert router.db_for_write(Product) is None
        assert not reading_from_replica(Product)
    assert router.allow_migrate("default", "catalog") is None
    # An object cached from a replica that is no longer configured goes to the primary.
    product = Product(pk=1)
    product._state.db = "gone"
    assert router.db_for_read(ProductVariant, instance=product) == "default"
    assert router.db_for_write(Product, instance=product) == "default"


@on
@pytest.mark.parametrize("method", ["get", "head"])
def test_replica_view_opts_in_a_safe_request(method):
    seen = []
    view = replica_view(lambda request: seen.append(reading_from_replica(Product)))
    view(getattr(RequestFactory(), method)("/"))
    assert seen == [True]
    assert not reading_from_replica(Product)  # and only for the view's duration


@on
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_replica_view_leaves_a_request_that_may_write_on_the_primary(method):
    seen = []
    view = replica_view(lambda request: seen.append(reading_from_replica(Product)))
    view(getattr(RequestFactory(), method)("/"))
    assert seen == [False]


# -- views and services, committed for real (the mirror sees only committed rows) --------------

pytestmark_db = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def _queries(client_call) -> tuple[list[str], list[str], object]:
    """(SQL run on the primary, SQL run on the replica, the response) of one request."""
    with CaptureQueriesContext(connections["default"]) as primary, CaptureQueriesContext(connections["replica"]) as rep:
        response = client_call()
    return [q["sql"] for q in primary], [q["sql"] for q in rep], response


def _catalog(sqls: list[str]) -> list[str]:
    return [sql for sql in sqls if '"catalog_' in sql or '"inventory_' in sql]


@pytest.fixture
def variant():
    return stocked_variant(on_hand=5)


@on
@pytestmark_db
@pytest.mark.parametrize(
    "url",
    [
        lambda v: reverse("catalog:home"),
        lambda v: reverse("catalog:product_list"),
        lambda v: reverse("catalog:product_list") + "?q=product&in_stock=1",
        lambda v: reverse("catalog:product_list") + f"?category={v.product.category.slug}",
        lambda v: reverse("catalog:product_detail", args=[v.product.handle]),
        lambda v: "/api/v1/products/",
        lambda v: f"/api/v1/products/{v.product.handle}/",
        lambda v: "/api/v1/categories/",
        lambda v: "/sitemap.xml",
    ],
)
def test_catalog_pages_read_the_catalog_from_the_replica(client, variant, url):
    primary, replica, response = _queries(lambda: client.get(url(variant)))
    assert response.status_code == 200
    assert _catalog(replica), "no catalog query reached the replica"
    assert not _catalog(primary), f"catalog queries on the primary: {_catalog(primary)}"


@on
@pytestmark_db
def test_a_signed_in_shoppers_page_reads_the_session_and_user_from_the_primary(client, variant):
    client.force_login(UserFactory())
    primary, replica, response = _queries(
        lambda: client.get(reverse("catalog:product_detail", args=[variant.product.handle]))
    )
    assert response.status_code == 200
    assert _catalog(replica)
    # The published reviews shown join their authors' names: display. The session, the
    # signed-in user and whether they may review (their orders) come from the primary.
    own = ('FROM "django_session"', 'FROM "accounts_user"', 'FROM "orders_')
    assert not [sql for sql in replica if any(table in sql for table in own)]
    for table in own:
        assert [sql for sql in primary if table in sql], table


@on
@pytestmark_db
def test_adding_to_the_cart_from_the_product_page_reads_nothing_from_the_replica(client, variant):
    url = reverse("catalog:product_detail", args=[variant.product.handle])
    client.get(url)  # the page (and its cache entry) first, from the replica
    primary, replica, response = _queries(lambda: client.post(url, {"variant": variant.pk, "quantity": 2}))
    assert response.status_code == 302, response.content[:500]
    assert replica == []
    assert Cart.objects.get().lines.get().quantity == 2


@on
@pytestmark_db
def test_cart_checkout_and_account_pages_never_read_the_replica(client, variant):
    url = reverse("catalog:product_detail", args=[variant.product.handle])
    client.force_login(UserFactory())
    client.post(url, {"variant": variant.pk, "quantity": 1})
    for page in ("/cart/", "/checkout/", "/accounts/", "/orders/", "/api/v1/cart/"):
        primary, replica, response = _queries(lambda page=page: client.get(page))
        assert response.status_code in (200, 302, 401, 403), (page, response.status_code)
        assert replica == [], page
        assert primary, page


@on
@pytestmark_db
def test_reserving_stock_in_a_replica_block_locks_and_reads_the_primary(variant):
    with replica_reads(), CaptureQueriesContext(connections["replica"]) as replica:
        stock_reserve(lines=[StockLine(variant.pk, 5)], owner="test", ttl=timedelta(minutes=5))
    assert replica.captured_queries == []


@on
@pytestmark_db
def test_inside_a_transaction_the_block_reads_the_primary(variant):
    with replica_reads():
        assert reading_from_replica(Product)
        with transaction.atomic():
            assert not reading_from_replica(Product)
            with CaptureQueriesContext(connections["replica"]) as replica:
                Product.objects.get(pk=variant.product_id)
        assert replica.captured_queries == []


# -- the catalog page cache (catalog/cache.py) with a replica -----------------------------------


def _build_where(settings, bump: bool) -> tuple[list[str], list[str]]:
    """(SQL on the primary, SQL on the replica) of building one listing entry in a replica block,
    after a catalog change (a token naming the primary's position) or before any."""
    settings.CATALOG_CACHE_SECONDS = 60
    cache.clear()
    if bump:
        catalog_edited()  # outside a transaction: the new token is set at once
        assert "@" in cache.get(EDIT)
    with (
        replica_reads(),
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica"]) as replica,
    ):
        listing_cached("test", [bump], lambda: list(Product.objects.values_list("pk", flat=True)))
    return _catalog([q["sql"] for q in primary]), [q["sql"] for q in replica]


@on
@pytestmark_db
def test_an_entry_under_a_change_the_replica_has_not_replayed_is_built_from_the_primary(settings, variant):
    # The test "replica" is the primary itself, never in recovery: it has replayed nothing.
    primary, replica = _build_where(settings, bump=True)
    assert primary, "the entry was not built from the primary"
    assert not _catalog(replica)
    assert any("pg_last_wal_replay_lsn" in sql for sql in replica)


@on
@pytestmark_db
def test_an_entry_under_tokens_without_a_position_is_built_from_the_replica(settings, variant):
    primary, replica = _build_where(settings, bump=False)
    assert not primary
    assert _catalog(replica)


@on
@pytestmark_db
def test_primary_position_is_the_primarys_wal_position():
    assert re.fullmatch(r"[0-9A-F]+/[0-9A-F]+", primary_position())


def test_primary_position_is_blank_without_a_replica():
    assert primary_position() == ""


# -- an unreachable or lagging replica ------------------------------------------------------------


@pytest.fixture
def replica_unreachable():
    """The replica alias pointed at a port nothing listens on (a replica that is down)."""
    replica = connections["replica"]
    replica.close()
    port = replica.settings_dict["PORT"]
    replica.settings_dict["PORT"] = "1"
    yield
    replica.close()
    replica.settings_dict["PORT"] = port


@on
@override_settings(REPLICA_MAX_LAG_SECONDS=30, REPLICA_CHECK_SECONDS=0)
@pytestmark_db
def test_with_the_replica_down_catalog_pages_read_the_primary(client, variant, replica_unreachable, caplog):
    with CaptureQueriesContext(connections["default"]) as primary:  # (capturing would connect)
        response = client.get(reverse("catalog:product_list"))
    assert response.status_code == 200
    assert _catalog([q["sql"] for q in primary])
    assert "moved from the replica: unreachable" in caplog.text


@on
@override_settings(REPLICA_MAX_LAG_SECONDS=30, REPLICA_CHECK_SECONDS=0)
@pytestmark_db
def test_a_replica_within_the_lag_limit_is_read(client, variant):
    # The test "replica" is the primary itself: 0 s behind.
    assert replication_lag_seconds() == 0.0
    primary, replica, response = _queries(lambda: client.get(reverse("catalog:product_list")))
    assert response.status_code == 200
    assert _catalog(replica)
    assert not _catalog(primary)


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_health_detailed_shows_the_replicas_lag_to_staff(client, settings):
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/health/detailed/").json()["replica"] is None  # none configured
    settings.REPLICA_DATABASE = "replica"
    body = client.get("/health/detailed/").json()
    assert body["replica"] == {"lag_seconds": 0.0, "catalog_reads_from_it": True}
    assert body["status"] == "ok"
