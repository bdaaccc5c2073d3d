# Product search (catalog/search.py): the stored search vector with its GIN index, pg_trgm and a
# trigram GiST index on the title for the "did you mean" fallback, an index for SKU prefixes,
# and the vectors of the products already there. PostgreSQL only: under the embedded SQLite database the column is
# added (and stays NULL) and nothing else is done.

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.functions.text
from django.conf import settings
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

# The vector as catalog.search.search_vector computed it when this migration was written.
BACKFILL = """
UPDATE catalog_product AS p SET search_vector =
    setweight(to_tsvector(%(config)s::regconfig, COALESCE(p.title, '')), 'A')
    || setweight(to_tsvector(%(config)s::regconfig, CONCAT_WS(' ',
        (SELECT string_agg(v.sku, ' ') FROM catalog_productvariant AS v WHERE v.product_id = p.id),
        p.vendor, p.product_type, p.tags)), 'B')
    || setweight(to_tsvector(%(config)s::regconfig, regexp_replace(COALESCE(p.description, ''), '<[^>]*>', ' ', 'g')), 'C')
"""


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKFILL, {"config": getattr(settings, "SEARCH_CONFIG", "english")})


class AddIndexOnPostgres(migrations.AddIndex):
    """AddIndex whose index exists on PostgreSQL only (GIN means nothing to SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_listing_indexes"),
    ]

    operations = [
        TrigramExtension(),
        migrations.AddField(
            model_name="product",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        AddIndexOnPostgres(
            model_name="product",
            index=django.contrib.postgres.indexes.GinIndex(fields=["search_vector"], name="product_search_vector_idx"),
        ),
        AddIndexOnPostgres(
            model_name="product",
            index=django.contrib.postgres.indexes.GistIndex(
                fields=["title"], name="product_title_trgm_idx", opclasses=["gist_trgm_ops"]
            ),
        ),
        AddIndexOnPostgres(
            model_name="productvariant",
            index=models.Index(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("sku"), name="text_pattern_ops"
                ),
                name="variant_sku_upper_prefix_idx",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
