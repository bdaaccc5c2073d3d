"""Writes to the catalog that are not plain admin edits: product page view counts, review
moderation and the products' search vectors (catalog/search.py).

Views are counted in the cache, not the database: a product page never writes a row and
never waits on a lock. Each process gathers its views for PRODUCT_VIEWS_BUFFER_SECONDS and
then adds them to one cache counter per product ("product-views:<id>", INCRBY), so a busy
page usually spends no cache round trip on counting at all. The beat task
catalog.tasks.flush_product_views moves the counts into ProductViewStat every
PRODUCT_VIEWS_FLUSH_SECONDS. What that costs: the figures lag by up to the two intervals; a
process that dies loses its gathered views (at most one buffer interval's worth; a process
that exits normally hands them over); if the cache is wiped (Redis restarted without
persistence, evicted keys) the views counted since the last flush are lost.
A per-process memory cache (locmem, the embedded default) counts per process and is never
seen by a worker in another process: counting needs the shared Redis cache to be useful.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from http import HTTPStatus

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel.errors import DomainError

from .cache import catalog_edited
from .models import Product, ProductReview, ProductViewStat
from .search import full_text_search, search_vector

logger = logging.getLogger(__name__)

VIEW_KEY_PREFIX = "product-views:"
# Held while a flush runs, so that two flushes (a slow one and the next beat tick) never
# claim the same counts twice. Expires by itself should the flushing process die.
FLUSH_LOCK_KEY = "product-views:flush-lock"
FLUSH_LOCK_SECONDS = 300
# Product ids per cache get_many (one MGET on Redis) and per database statement.
FLUSH_CHUNK = 1000


def product_view_key(product_id: int) -> str:
    return f"{VIEW_KEY_PREFIX}{product_id}"


# This process's views not yet added to the cache, by product id (threads share it: runserver).
_gathered: Counter[int] = Counter()
_gathered_lock = threading.Lock()
_gathered_since = time.monotonic()


def product_view_record(*, product_id: int) -> None:
    """Counts one view of the product's page, never a database write: gathered in this
    process, and added to the cache together with the others once PRODUCT_VIEWS_BUFFER_SECONDS
    (seconds; 0: at once) have passed since the last hand-over. Best effort: a cache that is
    down loses the views, never the page."""
    global _gathered_since
    with _gathered_lock:
        _gathered[product_id] += 1
        now = time.monotonic()
        if now - _gathered_since < settings.PRODUCT_VIEWS_BUFFER_SECONDS:
            return
        counts = dict(_gathered)
        _gathered.clear()
        _gathered_since = now
    _views_add(counts)


@atexit.register
def product_views_hand_over() -> None:
    """Adds the views this process gathered to the cache now (at exit, e.g. a gunicorn worker
    replaced after its max requests)."""
    with _gathered_lock:
        counts = dict(_gathered)
        _gathered.clear()
    _views_add(counts)


def _views_add(counts: dict[int, int]) -> None:
    for product_id, count in counts.items():
        key = product_view_key(product_id)
        try:
            try:
                cache.incr(key, count)
            except ValueError:
                # First views since the last wipe: incr refuses a missing key (locmem and
                # django-redis alike). add() is a no-op if another process created it
                # meanwhile, so the incr that follows never loses these views.
                cache.add(key, 0, timeout=None)
                cache.incr(key, count)
        except Exception:  # a view counter must never break the product page
            logger.warning("could not count %s views of product %s", count, product_id, exc_info=True)


def _chunks(ids: Iterator[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for pk in ids:
        chunk.append(pk)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _claim(counts: dict[int, int]) -> dict[int, int]:
    """Takes `counts` out of the cache counters by decrementing each by what was read
    (atomic per key), so views arriving between the read and now stay in the cache for the
    next flush instead of being deleted unseen."""
    claimed: dict[int, int] = {}
    for product_id, count in counts.items():
        # ValueError: the key vanished after we read it (evicted, cache wiped); the views we
        # read were real, and nobody else can claim them.
        with contextlib.suppress(ValueError):
            cache.decr(product_view_key(product_id), count)
        claimed[product_id] = count
    return claimed


def _add_to_stats(counts: dict[int, int]) -> None:
    """Adds `counts` to ProductViewStat in two statements: create missing rows, then one
    UPDATE … SET views = views + CASE … for all of them (no read-modify-write race)."""
    with transaction.atomic():
        ProductViewStat.objects.bulk_create(
            [ProductViewStat(product_id=pk, views=0) for pk in counts], ignore_conflicts=True
        )
        ProductViewStat.objects.filter(product_id__in=list(counts)).update(
            views=F("views")
            + Case(*(When(product_id=pk, then=Value(n)) for pk, n in counts.items()), default=Value(0)),
            updated_at=timezone.now(),
        )


def product_views_flush() -> int:
    """Moves the view counts from the cache into ProductViewStat; returns the number of
    views moved (0 when another flush is running).

    Reads the counters of every product in chunks (cache get_many), claims what it read by
    decrementing the counters (never delete: a view counted meanwhile would be lost), then
    adds the claimed counts in the database. Should the database write fail, the claimed
    counts are put back into the cache for the next flush (best effort). A product deleted
    meanwhile simply has no row to receive its counts.
    """
    if not cache.add(FLUSH_LOCK_KEY, 1, timeout=FLUSH_LOCK_SECONDS):
        return 0
    moved = 0
    try:
        ids = Product.objects.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=FLUSH_CHUNK)
        for chunk in _chunks(ids, FLUSH_CHUNK):
            cached = cache.get_many([product_view_key(pk) for pk in chunk])
            counts = {
                int(key.removeprefix(VIEW_KEY_PREFIX)): int(value)
                for key, value in cached.items()
                if value and int(value) > 0
            }
            if not counts:
                continue
            claimed = _claim(counts)
            try:
                _add_to_stats(claimed)
            except Exception:
                for product_id, count in claimed.items():
                    try:
                        cache.incr(product_view_key(product_id), count)
                    except ValueError:
                        cache.add(product_view_key(product_id), count, timeout=None)
                raise
            moved += sum(claimed.values())
    finally:
        cache.delete(FLUSH_LOCK_KEY)
    return moved


class DuplicateReview(DomainError):
    """The user has already reviewed this product (one review per user and product)."""

    code = "duplicate_review"
    http_status = HTTPStatus.CONFLICT

    @property
    def message(self) -> str:
        return _("You have already reviewed this product.")


def review_create(*, product: Product, user, rating: int, text: str, title: str = "") -> ProductReview:
    """Stores a review, pending moderation. Who may review is not decided here (that is
    orders.services.review_submit: only buyers). `rating` is an integer 1–5, `text` must not
    be blank (at most 5000 characters; the title at most 120). Raises ValueError for bad
    input, DuplicateReview for a second review by the same user (the unique constraint
    decides, so two submissions at once make one review)."""
    text = text.strip()
    in_range = isinstance(rating, int) and ProductReview.MIN_RATING <= rating <= ProductReview.MAX_RATING
    if not in_range or isinstance(rating, bool):
        raise ValueError(f"rating must be a whole number from 1 to 5, not {rating!r}")
    if not text:
        raise ValueError("a review needs some text")
    title_limit, text_limit = ProductReview.TITLE_MAX_LENGTH, ProductReview.TEXT_MAX_LENGTH
    if len(title.strip()) > title_limit or len(text) > text_limit:
        raise ValueError(f"a review's title is at most {title_limit} characters, its text {text_limit}")
    try:
        # Its own savepoint: the IntegrityError of a duplicate must not break the caller's
        # transaction.
        with transaction.atomic():
            return ProductReview.objects.create(
                product=product, user=user, rating=rating, title=title.strip(), text=text
            )
    except IntegrityError as exc:
        if ProductReview.objects.filter(product=product, user=user).exists():
            raise DuplicateReview from exc
        raise


def reviews_moderate(*, reviews: QuerySet[ProductReview], status: str) -> int:
    """Sets `status` (approved or rejected) on every review of `reviews` not already in it,
    in one UPDATE; returns how many changed. Only approved reviews show on the shop."""
    if status not in (ProductReview.Status.APPROVED, ProductReview.Status.REJECTED):
        raise ValueError(f"a review is moderated to approved or rejected, not {status!r}")
    changed = reviews.exclude(status=status).update(status=status, moderated_at=timezone.now())
    if changed:
        catalog_edited()  # an UPDATE sends no post_save: retire the cached product pages
    return changed


# -- search vectors ------------------------------------------------------------------------

# Product ids gathered inside product_search_vectors_deferred(); None outside it.
_deferred_vectors: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar("deferred_vectors", default=None)
# Products per UPDATE of a whole-catalog rebuild.
REBUILD_CHUNK = 2000


def product_search_vector_update(product_ids: Iterable[int]) -> int:
    """Recomputes the search vector (catalog.search.search_vector) of the products with these
    ids, in one UPDATE, in the caller's transaction; returns the number of products updated
    (ids of deleted products are skipped). Inside product_search_vectors_deferred() the ids are
    only gathered and 0 is returned. Under SQLite nothing is stored (0): search there is a
    substring match. Raises nothing of its own."""
    ids = {pk for pk in product_ids if pk is not None}
    gathered = _deferred_vectors.get()
    if gathered is not None:
        gathered |= ids
        return 0
    if not ids or not full_text_search():
        return 0
    return Product.objects.filter(pk__in=ids).update(search_vector=search_vector())


@contextlib.contextmanager
def product_search_vectors_deferred() -> Iterator[None]:
    """Gathers the search vector updates asked for inside the block (by the model signals:
    each product and variant saved) and runs them as one UPDATE when the block ends without
    an exception: for writers of many rows, such as the import. Nested blocks gather into the
    outermost."""
    if _deferred_vectors.get() is not None:
        yield
        return
    token = _deferred_vectors.set(set())
    try:
        yield
        ids = _deferred_vectors.get() or set()
    finally:
        _deferred_vectors.reset(token)
    product_search_vector_update(ids)


def search_index_rebuild() -> int:
    """Recomputes every product's search vector, REBUILD_CHUNK products per UPDATE (each in
    its own transaction); returns how many products were updated (0 under SQLite)."""
    if not full_text_search():
        return 0
    ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    updated = 0
    for start in range(0, len(ids), REBUILD_CHUNK):
        with transaction.atomic():
            updated += product_search_vector_update(ids[start : start + REBUILD_CHUNK])
    return updated
