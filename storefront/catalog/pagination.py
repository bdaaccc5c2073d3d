"""The listing's pages with a bounded count: counting every product a filter matches costs as
much as the catalog is large (a filtered COUNT(*) over 100,000 products takes over a second,
where the page itself takes milliseconds), so the listing counts at most as far as it needs
to draw its page links, and says "more than N" beyond that."""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator

# Products counted exactly; a listing with more says "More than 1,000 products". The count
# stops there, whatever the size of the catalog.
COUNT_LIMIT = 1000
# Pages counted beyond the page asked for (for its links), when that is past COUNT_LIMIT.
PAGES_AHEAD = 2


class BoundedPaginator(Paginator):
    """A Paginator whose count stops at `limit` products, or at PAGES_AHEAD pages past the
    page asked for (`number`) when that lies further: one COUNT(*) over a LIMIT-ed subquery.
    `exact` says whether the count is every product; when it is not, `count` is a lower bound
    and the last page is not known."""

    def __init__(self, object_list, per_page, *, number=None, limit: int | None = None):
        super().__init__(object_list, per_page)
        try:
            wanted = int(number)
        except (TypeError, ValueError):
            wanted = 1
        self.limit = max(COUNT_LIMIT if limit is None else limit, (max(wanted, 1) + PAGES_AHEAD) * per_page)

    @cached_property
    def _bounded(self) -> int:
        """Products counted, at most limit + 1 (one more says there are more)."""
        object_list = self.object_list
        if hasattr(object_list, "values"):
            # Only the rows, none of the page's annotations, in no order: which limit + 1 rows
            # are counted does not change the figure, and an order by rank would rank them all.
            object_list = object_list.values("pk").order_by()
        return object_list[: self.limit + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._bounded, self.limit)

    @property
    def exact(self) -> bool:
        return self._bounded <= self.limit

    def page_links(self, number: int) -> list:
        """The page numbers to link around `number` (ELLIPSIS for the gaps), as
        get_elided_page_range with one on each side and at the ends; when the count is not
        exact, without a last page (an ellipsis stands for the pages not counted)."""
        links = list(self.get_elided_page_range(number, on_each_side=1, on_ends=1))
        if self.exact:
            return links
        while links and (links[-1] == self.ELLIPSIS or links[-1] > number + 1):
            links.pop()
        return [*links, self.ELLIPSIS]
