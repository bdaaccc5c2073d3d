"""Product.lowest_price: the cheapest variant's price, kept by the database.

Triggers recompute it in the transaction of every change, whatever makes it (a form, the
admin, an import's bulk statements, raw SQL):

- on the variants, after an insert, a delete, or an update of a price or of the product a
  variant belongs to: the products concerned, recounted;
- on the products, on every write of a product row by anyone but these triggers: recounted
  in the same row, so a product saved from a form read before a price change cannot write
  back the old figure.

PostgreSQL: one statement-level trigger per event on the variants (an import's bulk insert
recounts each product once), which locks the products in id order before recounting. The
recount is a statement of its own, started once the locks are held, so it sees every
variant change committed before it (READ COMMITTED): two edits of one product's variants
at once never leave an old figure. SQLite (make run without DATABASE_URL): row triggers;
its writers queue up one at a time.
"""

from django.db import migrations, models

POSTGRESQL = [
    """
    CREATE FUNCTION catalog_variants_recount_lowest_price() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        ids bigint[];
    BEGIN
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(DISTINCT product_id) INTO ids FROM new_rows;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT array_agg(DISTINCT product_id) INTO ids FROM old_rows;
        ELSE
            SELECT array_agg(DISTINCT moved.product_id) INTO ids FROM (
                SELECT n.product_id, o.product_id AS old_product_id
                FROM new_rows n JOIN old_rows o ON o.id = n.id
                WHERE n.price IS DISTINCT FROM o.price OR n.product_id <> o.product_id
            ) changed, LATERAL (VALUES (changed.product_id), (changed.old_product_id)) AS moved (product_id);
        END IF;
        IF ids IS NULL THEN
            RETURN NULL;
        END IF;
        PERFORM 1 FROM catalog_product WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
        UPDATE catalog_product p
        SET lowest_price = (SELECT MIN(v.price) FROM catalog_productvariant v WHERE v.product_id = p.id)
        WHERE p.id = ANY(ids);
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER catalog_variants_inserted AFTER INSERT ON catalog_productvariant
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_variants_recount_lowest_price()
    """,
    """
    CREATE TRIGGER catalog_variants_updated AFTER UPDATE ON catalog_productvariant
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_variants_recount_lowest_price()
    """,
    """
    CREATE TRIGGER catalog_variants_deleted AFTER DELETE ON catalog_productvariant
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_variants_recount_lowest_price()
    """,
    # pg_trigger_depth() = 1: the product written by a statement of its own, not by the
    # recount above (depth 2), whose figure stands.
    """
    CREATE FUNCTION catalog_product_lowest_price() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF pg_trigger_depth() = 1 THEN
            NEW.lowest_price := (SELECT MIN(price) FROM catalog_productvariant WHERE product_id = NEW.id);
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER catalog_product_written BEFORE INSERT OR UPDATE ON catalog_product
    FOR EACH ROW EXECUTE FUNCTION catalog_product_lowest_price()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER catalog_product_written ON catalog_product",
    "DROP FUNCTION catalog_product_lowest_price()",
    "DROP TRIGGER catalog_variants_deleted ON catalog_productvariant",
    "DROP TRIGGER catalog_variants_updated ON catalog_productvariant",
    "DROP TRIGGER catalog_variants_inserted ON catalog_productvariant",
    "DROP FUNCTION catalog_variants_recount_lowest_price()",
]

_RECOUNT = (
    "UPDATE catalog_product SET lowest_price = "
    "(SELECT MIN(price) FROM catalog_productvariant WHERE product_id = {id}) WHERE id = {id};"
)
SQLITE = [
    f"""
    CREATE TRIGGER catalog_variant_inserted AFTER INSERT ON catalog_productvariant
    BEGIN {_RECOUNT.format(id="NEW.product_id")} END
    """,
    f"""
    CREATE TRIGGER catalog_variant_updated AFTER UPDATE OF price, product_id ON catalog_productvariant
    BEGIN {_RECOUNT.format(id="NEW.product_id")} {_RECOUNT.format(id="OLD.product_id")} END
    """,
    f"""
    CREATE TRIGGER catalog_variant_deleted AFTER DELETE ON catalog_productvariant
    BEGIN {_RECOUNT.format(id="OLD.product_id")} END
    """,
    # A product row written with another figure (a form read before a price change): put
    # right at once. Not recursive: SQLite does not fire a trigger from its own statement.
    f"""
    CREATE TRIGGER catalog_product_written AFTER UPDATE OF lowest_price ON catalog_product
    WHEN NEW.lowest_price IS NOT (SELECT MIN(price) FROM catalog_productvariant WHERE product_id = NEW.id)
    BEGIN {_RECOUNT.format(id="NEW.id")} END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER catalog_product_written",
    "DROP TRIGGER catalog_variant_deleted",
    "DROP TRIGGER catalog_variant_updated",
    "DROP TRIGGER catalog_variant_inserted",
]

BACKFILL = (
    "UPDATE catalog_product SET lowest_price = "
    "(SELECT MIN(v.price) FROM catalog_productvariant v WHERE v.product_id = catalog_product.id)"
)


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(f"catalog.0006: no lowest_price triggers for {schema_editor.connection.vendor}")
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_listing_category_featured_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="product",
            name="lowest_price",
            field=models.DecimalField(decimal_places=2, editable=False, max_digits=12, null=True),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(
                condition=models.Q(("published", True)),
                fields=["lowest_price", "id"],
                name="product_listing_price_idx",
            ),
        ),
    ]
