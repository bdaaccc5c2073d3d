"""Product page views are counted without slowing the page: one cache increment per view, no
database write; the beat task catalog.tasks.flush_product_views moves the counts into
ProductViewStat, never losing a view counted while it runs."""

import socket
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import ProductViewStat
from catalog.services import FLUSH_LOCK_KEY, product_view_key, product_view_record, product_views_flush
from catalog.tasks import flush_product_views
from tests.factories import ProductFactory, UserFactory, VariantFactory, stocked_variant

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture(autouse=True)
def _empty_cache():
    from catalog.services import _gathered

    cache.clear()
    _gathered.clear()  # views a test gathered in this process and never handed over
    yield
    cache.clear()
    _gathered.clear()


@pytest.fixture
def product():
    return stocked_variant(on_hand=5).product


def counted(product) -> int | None:
    return cache.get(product_view_key(product.pk))


def stored(product) -> int:
    return ProductViewStat.objects.filter(product=product).values_list("views", flat=True).first() or 0


def visit(client, product, times: int = 1) -> None:
    for _ in range(times):
        assert client.get(product.get_absolute_url()).status_code == 200


def test_each_page_view_is_counted_in_the_cache_not_the_database(client, product):
    visit(client, product, 3)

    assert counted(product) == 3
    assert not ProductViewStat.objects.exists()


def test_the_product_page_writes_nothing_to_the_database_to_count_a_view(client, product):
    visit(client, product)  # the first view creates the cache key; the next ones only increment
    for _ in range(2):
        with CaptureQueriesContext(connection) as ctx:
            visit(client, product)
        assert [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)] == []


def test_the_product_page_does_one_cache_operation(client, product, monkeypatch):
    visit(client, product)
    backend = caches["default"]
    calls = []
    for name in ("get", "set", "add", "incr", "decr", "delete", "get_many", "set_many", "delete_many", "get_or_set"):
        original = getattr(backend, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(backend, name, spy)

    visit(client, product)

    assert calls == ["incr"]
    assert counted(product) == 2


def test_views_gathered_in_the_process_reach_the_cache_together_once_the_interval_passes(
    client, product, settings, monkeypatch
):
    """PRODUCT_VIEWS_BUFFER_SECONDS: pages within the interval spend no cache operation on
    counting; the first one after it hands all of them over in one incr."""
    import catalog.services as services

    settings.PRODUCT_VIEWS_BUFFER_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(services, "_gathered_since", clock[0])
    visit(client, product, times=3)
    assert counted(product) is None  # nothing in the cache yet
    clock[0] += 5
    visit(client, product)
    assert counted(product) == 4


def test_a_process_exiting_hands_over_its_gathered_views(client, product, settings):
    from catalog.services import product_views_hand_over

    settings.PRODUCT_VIEWS_BUFFER_SECONDS = 3600
    visit(client, product, times=2)
    product_views_hand_over()
    assert counted(product) == 2


def test_adding_to_the_cart_is_not_a_page_view(client, product):
    variant = product.variants.get()
    client.post(product.get_absolute_url(), {"variant": variant.pk, "quantity": 1})

    assert counted(product) is None


def test_an_unknown_or_unpublished_product_is_not_counted(client, product):
    hidden = ProductFactory(published=False)

    assert client.get(hidden.get_absolute_url()).status_code == 404
    assert client.get(reverse("catalog:product_detail", args=["no-such-thing"])).status_code == 404
    assert counted(hidden) is None


def test_a_cache_that_is_down_loses_the_view_not_the_page(client, product, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(caches["default"], "incr", down)
    monkeypatch.setattr(caches["default"], "add", down)

    assert client.get(product.get_absolute_url()).status_code == 200


def test_the_task_moves_the_counts_into_the_database_and_leaves_the_cache_at_zero(client, product):
    other = stocked_variant(on_hand=1).product
    visit(client, product, 3)
    visit(client, other, 1)

    assert flush_product_views.delay().get() == 4

    assert (stored(product), stored(other)) == (3, 1)
    assert (counted(product), counted(other)) == (0, 0)


def test_flushing_again_adds_only_the_new_views(client, product):
    visit(client, product, 3)
    product_views_flush()
    assert product_views_flush() == 0  # nothing new: nothing moved, nothing counted twice

    visit(client, product, 2)
    product_views_flush()

    assert stored(product) == 5


def test_a_view_counted_while_the_flush_runs_is_kept_for_the_next_flush(client, product, monkeypatch):
    visit(client, product, 3)
    backend = caches["default"]
    read = backend.get_many

    def get_many_then_a_view_arrives(keys, *args, **kwargs):
        values = read(keys, *args, **kwargs)
        product_view_record(product_id=product.pk)  # between the read and the claim
        return values

    monkeypatch.setattr(backend, "get_many", get_many_then_a_view_arrives)
    assert product_views_flush() == 3
    monkeypatch.undo()

    assert (stored(product), counted(product)) == (3, 1)
    product_views_flush()
    assert stored(product) == 4


def test_a_second_flush_while_one_runs_does_nothing(client, product):
    visit(client, product, 2)
    cache.add(FLUSH_LOCK_KEY, 1)  # another worker's flush holds the lock

    assert product_views_flush() == 0
    assert (stored(product), counted(product)) == (0, 2)

    cache.delete(FLUSH_LOCK_KEY)
    assert product_views_flush() == 2


def test_a_failed_database_write_puts_the_counts_back_for_the_next_flush(client, product, monkeypatch):
    visit(client, product, 3)

    def broken(*args, **kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(ProductViewStat.objects, "bulk_create", broken)
    with pytest.raises(DatabaseError):
        product_views_flush()
    monkeypatch.undo()

    assert (stored(product), counted(product)) == (0, 3)
    assert cache.get(FLUSH_LOCK_KEY) is None  # the lock is not left behind
    product_views_flush()
    assert stored(product) == 3


def test_a_wiped_cache_loses_only_the_views_not_yet_flushed(client, product):
    visit(client, product, 3)
    product_views_flush()
    visit(client, product, 2)

    cache.clear()  # Redis restarted without persistence
    visit(client, product, 1)
    product_views_flush()

    assert stored(product) == 4


def test_views_of_a_deleted_product_are_dropped_without_an_error(client):
    product = VariantFactory().product  # never stocked, so it may be deleted
    visit(client, product, 2)
    product.delete()

    assert product_views_flush() == 0


def test_beat_flushes_every_minute_by_default():
    entry = settings.CELERY_BEAT_SCHEDULE["flush-product-views"]

    assert entry["task"] == "catalog.tasks.flush_product_views"
    assert entry["schedule"] == timedelta(seconds=60)


def test_the_admin_product_list_shows_views_and_sorts_by_them(client, product):
    other = stocked_variant(on_hand=1, product__title="Zebra").product
    visit(client, product, 1)
    visit(client, other, 4)
    product_views_flush()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:catalog_product_changelist"), {"o": "-7"})  # 7th column: page views

    assert [(p.title, p.n_views) for p in response.context["cl"].result_list] == [("Zebra", 4), (product.title, 1)]
    assert "page views" in response.content.decode().lower()


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_reachable(), reason="no Redis on 127.0.0.1:6379")
def test_counting_and_flushing_work_the_same_with_redis(client, product, settings):
    # A key prefix of our own: only this test's keys are touched (never FLUSHDB).
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
            "KEY_PREFIX": prefix,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
    redis_cache = caches["default"]
    try:
        visit(client, product, 3)
        assert redis_cache.get(product_view_key(product.pk)) == 3
        assert product_views_flush() == 3
        assert (stored(product), redis_cache.get(product_view_key(product.pk))) == (3, 0)
    finally:
        redis_cache.delete_pattern("*")
