from celery import shared_task

from .services import product_views_flush


@shared_task
def flush_product_views() -> int:
    """Moves product page view counts from the cache into ProductViewStat (Celery beat, every
    PRODUCT_VIEWS_FLUSH_SECONDS). Safe to run twice at once: the second run finds the first
    one's lock and does nothing. Returns the number of views moved."""
    return product_views_flush()
