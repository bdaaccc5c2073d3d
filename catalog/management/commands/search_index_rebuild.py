"""manage.py search_index_rebuild: recomputes every product's search vector (catalog/search.py).

Products are kept current as they change (the model signals, the import); run this after
changing SEARCH_CONFIG, after writing products behind Django's back (SQL, bulk_create) or to
be sure. Safe to run while the shop serves: each chunk of products is its own short UPDATE.
"""

import time

from django.core.management.base import BaseCommand

from catalog.cache import catalog_edited
from catalog.search import full_text_search
from catalog.services import search_index_rebuild


class Command(BaseCommand):
    help = "Recomputes the full-text search vector of every product (PostgreSQL; nothing to do under SQLite)."

    def handle(self, *args, **options):
        if not full_text_search():
            self.stdout.write("SQLite: search is a substring match, there is no index to rebuild.")
            return
        started = time.monotonic()
        updated = search_index_rebuild()
        catalog_edited()  # cached listings may hold results of the old vectors
        self.stdout.write(
            self.style.SUCCESS(f"Search index rebuilt: {updated} products ({time.monotonic() - started:.1f} s).")
        )
