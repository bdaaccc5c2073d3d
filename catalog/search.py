"""Product search: what the stored search vector holds and how a shopper's words are matched.

On PostgreSQL (django.contrib.postgres) a product's `search_vector` holds its title (weight
A), its variants' SKUs, vendor, product type and tags (B) and its description without the
HTML (C), parsed in the SEARCH_CONFIG language (stemming and stop words: "shirts" finds
"shirt"). A query is read with websearch_to_tsquery: "quoted phrases", -excluded words and
"or"; the results are ranked with ts_rank (inventory.selectors.product_search). A query shaped
like a SKU also matches SKUs that start with it. When nothing matches, the "did you mean"
suggestion comes from trigram word similarity (pg_trgm) on the titles.

The embedded SQLite database (no DATABASE_URL) has none of this: the vector stays NULL and
the listing keeps a case-insensitive substring match. `full_text_search()` is the one place
that tells them apart.

Writers never compute the vector themselves: catalog.services.product_search_vector_update
does, called by the model signals (catalog/signals.py), the import and seed_demo, and
`manage.py search_index_rebuild` for the whole catalog.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from django.conf import settings
from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.search import CombinedSearchVector, SearchQuery, SearchVector
from django.db import connection
from django.db.models import F, Func, OuterRef, Subquery, TextField, Value

from .models import ProductVariant

# The sort "best match first" (ts_rank, ties by title), beside catalog.selectors.SORTS: the
# default of a search, on the listing and in the API.
RELEVANCE = "relevance"

# Word similarity (0–1) a title must reach to be offered as "did you mean": "shrit" to "Shirt"
# is 0.33, unrelated words stay below 0.2.
SUGGESTION_THRESHOLD = 0.3

# One word of letters, digits, ".", "_" and "-" with a digit or a hyphen in it: "HOSE-01",
# "classic-varsity", "sku-". Such a query also matches the SKUs that start with it.
_SKU_SHAPED = re.compile(r"^(?=[\w.-]*[\d-])[\w.-]+$")
_WORD = re.compile(r"\w+")
# An excluded word or phrase of a websearch query: -word, -"some words".
_EXCLUDED = re.compile(r'(?<=\s)-(?:"[^"]*"?|\S+)')


def full_text_search() -> bool:
    """True when the database is PostgreSQL (full-text search, trigram suggestions); False
    under the embedded SQLite database, which keeps a substring match."""
    return connection.vendor == "postgresql"


def search_config() -> str:
    """The text search configuration (language) of the vector and of queries, e.g. "english"."""
    return settings.SEARCH_CONFIG


def search_vector() -> CombinedSearchVector:
    """The expression a product's `search_vector` is set to (in an UPDATE of catalog_product):
    title A; SKUs, vendor, product type and tags B; description with its tags stripped C."""
    config = search_config()
    skus = Subquery(
        ProductVariant.objects.filter(product=OuterRef("pk"))
        .order_by()
        .values("product")
        .annotate(skus=StringAgg("sku", delimiter=" "))
        .values("skus"),
        output_field=TextField(),
    )
    text = Func(
        F("description"), Value("<[^>]*>"), Value(" "), Value("g"), function="regexp_replace", output_field=TextField()
    )
    title = SearchVector("title", config=config, weight="A")
    labels = SearchVector(skus, "vendor", "product_type", "tags", config=config, weight="B")
    body = SearchVector(text, config=config, weight="C")
    return CombinedSearchVector(CombinedSearchVector(title, "||", labels, config), "||", body, config)


def search_query(q: str) -> SearchQuery:
    """The shopper's words as websearch_to_tsquery reads them in the SEARCH_CONFIG language."""
    return SearchQuery(q, search_type="websearch", config=search_config())


def rank_query(q: str) -> SearchQuery:
    """The query results are ranked by: `q` without its excluded words ("shirt -blue" ranks
    by "shirt"), since ts_rank gives every match of a query with a NOT the same 0."""
    wanted = _EXCLUDED.sub(" ", f" {q} ").strip()
    return search_query(wanted or q)


def sku_prefix(q: str) -> str | None:
    """`q` when it looks like (the start of) a SKU, for a case-insensitive prefix match on
    SKUs, else None. The vector alone would not do: the parser splits "SKU-00012" into "sku"
    and "-00012", so "sku-0" matches no lexeme."""
    q = q.strip()
    return q if _SKU_SHAPED.match(q) else None


def suggestion_for(q: str, title: str) -> str:
    """The query `q` with each word replaced by the most similar word of `title` (lower
    case), when one is similar enough; other words kept. ("shrit", "Ocean Blue Shirt") ->
    "shirt"."""
    candidates = [w.lower() for w in _WORD.findall(title)]
    words = []
    for word in q.split():
        lowered = word.lower()
        best = max(candidates, key=lambda c: SequenceMatcher(None, lowered, c).ratio(), default=lowered)
        words.append(best if SequenceMatcher(None, lowered, best).ratio() >= 0.6 else lowered)
    return " ".join(words)
