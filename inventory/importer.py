"""
Catalog import from Shopify's product CSV (the format of Shopify's "Export products").
It lives in inventory, not catalog, because it also sets opening stock: catalog knows no other
app, and inventory knows catalog.

A file has one row per variant or extra image, grouped by Handle. The first row of a handle
carries the product (Title, Body (HTML), Vendor, Type, Tags, Published, Option1..3 Name, SEO
Title/Description) and its first variant; later rows carry only option values and variant
fields, and/or an extra Image Src. Columns we do not use (Google Shopping, Gift Card, ...) are
ignored.

The import runs in two phases:
1. Parse and validate every file given, and check the result against the database. Every
   problem is collected as a Problem(file, line, column, message); if there is any, nothing
   is written and ImportRejected(problems) is raised. Besides each column's own rules, no
   field of any row may hold a control character but tab and line breaks (NUL cannot be
   stored at all), and a later row of a product leaves Option1..3 Name blank or repeats
   the first row's.
2. Write all products, variants and opening stock in one transaction. Images are downloaded
   (or replaced by generated placeholders) only after the commit, so that no transaction is
   held open across the network.

Identity and re-import: products are keyed by Handle and variants by SKU (Variant SKU, or
one derived from the handle and option values when the column is blank, see derive_sku).
Re-importing the same files changes nothing. Product and variant fields are updated only
where they differ. Stock is set from Variant Inventory Qty only when a variant is created
(one IMPORT ledger row referencing the file name); once a variant exists its stock belongs
to the shop (sales, receipts, adjustments) and a re-import never touches it. Variant
Inventory Policy ("deny", or "continue" to keep selling on backorder; blank means deny) is
set on new variants and updated on existing ones where it differs. Variants and images
missing from a file are left alone, never deleted: orders refer to them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import URLValidator, validate_slug
from django.db import transaction
from django.utils.text import slugify

from catalog.images import fetch_image, image_extension, make_thumbnails, placeholder_image
from catalog.models import Category, Product, ProductImage, ProductVariant
from catalog.services import product_search_vectors_deferred
from kernel.csvfiles import (
    CONTROL,
    CsvFile,
    ImportRejected,
    InvalidValue,
    Problem,
    ProgressCallback,
    count_parse,
    money_parse,
    problems_reject,
)
from kernel.locking import advisory_lock

from .exceptions import BackordersOutstanding
from .models import StockItem, StockMovement
from .selectors import with_availability
from .services import stock_adjust, stock_policy_set

logger = logging.getLogger(__name__)

# Column names, exactly as in Shopify's header.
HANDLE = "Handle"
TITLE = "Title"
BODY = "Body (HTML)"
VENDOR = "Vendor"
TYPE = "Type"
TAGS = "Tags"
PUBLISHED = "Published"
OPTION_NAMES = ("Option1 Name", "Option2 Name", "Option3 Name")
OPTION_VALUES = ("Option1 Value", "Option2 Value", "Option3 Value")
SKU = "Variant SKU"
GRAMS = "Variant Grams"
QUANTITY = "Variant Inventory Qty"
POLICY = "Variant Inventory Policy"
PRICE = "Variant Price"
COMPARE_AT = "Variant Compare At Price"
BARCODE = "Variant Barcode"
IMAGE_SRC = "Image Src"
IMAGE_POSITION = "Image Position"
IMAGE_ALT = "Image Alt Text"
SEO_TITLE = "SEO Title"
SEO_DESCRIPTION = "SEO Description"

REQUIRED_COLUMNS = (HANDLE, TITLE, PRICE)
# A row that fills none of these (and is not the first of its handle) only adds an image.
VARIANT_COLUMNS = (*OPTION_VALUES, SKU, GRAMS, QUANTITY, POLICY, PRICE, COMPARE_AT, BARCODE)
# Shopify's inventory policies are ours: StockItem.BackorderPolicy.
POLICIES = tuple(StockItem.BackorderPolicy.values)
# Shopify's value for the only option of a product without variants.
DEFAULT_TITLE = "Default Title"


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


# Text columns checked against the column they land in, so a long value is reported here
# rather than failing half-way through the transaction.
_PRODUCT_TEXT = {
    TITLE: "title",
    VENDOR: "vendor",
    TYPE: "product_type",
    TAGS: "tags",
    SEO_TITLE: "seo_title",
    SEO_DESCRIPTION: "seo_description",
    **{col: f"option{i}_name" for i, col in enumerate(OPTION_NAMES, start=1)},
}


@dataclass
class ImportResult:
    """What an import did. `handles` lists the products of the files in file order."""

    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    variants_unchanged: int = 0
    categories_created: int = 0
    images_created: int = 0
    images_placeholder: int = 0
    images_updated: int = 0
    stock_movements: int = 0
    handles: list[str] = field(default_factory=list)
    # True when nothing was written (catalog_import(dry_run=True)): the counts say what an
    # import would do; images are counted, not fetched.
    dry_run: bool = False
    # What was (or would be) created or changed, one line each: 'create product "mug"',
    # 'update variant "MUG-1" of "mug": price', in the order of the files.
    changes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line of counts, for people and for logs."""
        images = (
            f"Images: {self.images_created} created (fetched or drawn by the import), "
            if self.dry_run
            else f"Images: {self.images_created} created ({self.images_placeholder} placeholders), "
        )
        return (
            ("Dry run, nothing was written. " if self.dry_run else "")
            + f"Products: {self.products_created} created, {self.products_updated} updated, "
            f"{self.products_unchanged} unchanged. "
            f"Variants: {self.variants_created} created, {self.variants_updated} updated, "
            f"{self.variants_unchanged} unchanged. "
            f"Categories: {self.categories_created} created. " + images + f"{self.images_updated} updated. "
            f"Stock movements: {self.stock_movements}."
        )

    @property
    def changed_anything(self) -> bool:
        return any(
            (
                self.products_created,
                self.products_updated,
                self.variants_created,
                self.variants_updated,
                self.categories_created,
                self.images_created,
                self.images_updated,
                self.stock_movements,
            )
        )


@dataclass
class ParsedVariant:
    """One valid variant row; `file` and `line` say where it came from."""

    sku: str
    options: tuple[str, str, str]
    price: Decimal
    compare_at_price: Decimal | None
    grams: int
    barcode: str
    quantity: int
    position: int
    file: str
    line: int
    backorder_policy: str = StockItem.BackorderPolicy.DENY


@dataclass(frozen=True)
class _SeenSku:
    file: str
    line: int
    handle: str
    derived: bool


@dataclass
class ParsedImage:
    """One distinct Image Src of a product."""

    source_url: str
    alt: str
    position: int


@dataclass
class ParsedProduct:
    """A product as the files describe it: `fields` are Product fields by name."""

    handle: str
    file: str
    line: int
    fields: dict = field(default_factory=dict)
    category_name: str = ""
    variants: list[ParsedVariant] = field(default_factory=list)
    images: list[ParsedImage] = field(default_factory=list)
    # False when the first row is unusable; its later rows are still checked.
    valid: bool = True


def derive_sku(handle: str, option_values: Sequence[str]) -> str:
    """The SKU of a variant whose Variant SKU is blank: the slugified handle, then each
    slugified option value, upper-cased and joined by "-"; Shopify's lone "Default Title"
    value adds nothing. ("classic-varsity-top", ["Small"]) -> "CLASSIC-VARSITY-TOP-SMALL",
    ("copper-light", ["Default Title"]) -> "COPPER-LIGHT"."""
    values = [v for v in option_values if v]
    parts = [slugify(handle)]
    if values != [DEFAULT_TITLE]:
        parts += [slugify(v) for v in values]
    return "-".join(p for p in parts if p).upper()


def category_name_for(*, product_type: str, tags: str) -> str:
    """The category of a product: its Type, or when that is blank its first tag,
    title-cased. Empty when there is neither."""
    if product_type.strip():
        return product_type.strip()
    first_tag = next((t.strip() for t in tags.split(",") if t.strip()), "")
    return first_tag.title()


class _FileParser:
    """Parses the rows of all files into products, collecting problems as it goes."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.products: dict[str, ParsedProduct] = {}
        # SKU -> where it was first seen, across all files (every row, valid or not).
        self.skus: dict[str, _SeenSku] = {}
        # (handle, options) -> line, to catch the same variant twice in one product.
        self.option_sets: dict[tuple[str, tuple[str, ...]], tuple[str, int]] = {}

    def problem(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(file, line, column, message))

    # -- files ---------------------------------------------------------------------------
    def parse_file(self, path: str | Path) -> None:
        csv_file = CsvFile(path, self.problems, required=REQUIRED_COLUMNS, essential=(HANDLE,))
        for line, row in csv_file.rows():
            assert csv_file.header is not None
            self.parse_row(csv_file.name, line, row, csv_file.header)

    # -- rows ----------------------------------------------------------------------------
    def parse_row(self, file: str, line: int, row: dict[str, str], header: list[str]) -> None:
        handle = row.get(HANDLE, "")
        if not handle:
            self.problem(file, line, HANDLE, "required")
            return
        product = self.products.get(handle)
        is_first = product is None
        if product is None:
            product = self.parse_product(file, line, row, header)
            self.products[handle] = product
        elif row.get(TITLE):
            # A second "first row": two products with one handle, or a file imported twice.
            self.problem(
                file,
                line,
                HANDLE,
                f'product "{handle}" is already defined at {product.file}:{product.line}',
            )
            return

        if not is_first:
            self.check_option_names(file, line, row, product)

        has_variant = is_first or any(row.get(c) for c in VARIANT_COLUMNS)
        if has_variant:
            self.parse_variant(file, line, row, header, product)
        if row.get(IMAGE_SRC):
            self.parse_image(file, line, row, product)

    def check_option_names(self, file: str, line: int, row: dict[str, str], product: ParsedProduct) -> None:
        """A later row of a product leaves Option1..3 Name blank (as Shopify's export does)
        or repeats what the product's first row says: its option values are values of the
        first row's options, so a different name would file them under the wrong option."""
        for i, column in enumerate(OPTION_NAMES, start=1):
            given = row.get(column, "")
            defined = product.fields.get(f"option{i}_name", "")
            if not given or given == defined:
                continue
            first_row = f'the first row of product "{product.handle}" ({product.file}:{product.line})'
            if defined:
                message = f'"{given}" contradicts {first_row}, which names this option "{defined}"'
            else:
                message = f'"{given}" is not an option of the product: {first_row} names no option {i}'
            message += "; leave it blank on the product's later rows"
            self.problem(file, line, column, message)

    def parse_product(self, file: str, line: int, row: dict[str, str], header: list[str]) -> ParsedProduct:
        handle = row[HANDLE]
        product = ParsedProduct(handle=handle, file=file, line=line)
        try:
            validate_slug(handle)
        except ValidationError:
            message = f'"{handle}" is not a handle: use letters, digits, "-" and "_"'
            self.problem(file, line, HANDLE, message)
            product.valid = False
        if len(handle) > (limit := _max_length(Product, "handle")):
            self.problem(file, line, HANDLE, f"longer than {limit} characters")
            product.valid = False
        if TITLE in header and not row.get(TITLE):
            # Also what a continuation row says when its product's first row is missing.
            self.problem(file, line, TITLE, f'required on the first row of product "{handle}"')
            product.valid = False

        published = row.get(PUBLISHED, "").lower()
        if published not in ("", "true", "false"):
            self.problem(file, line, PUBLISHED, f'must be true or false, not "{row[PUBLISHED]}"')
            product.valid = False

        for column, model_field in _PRODUCT_TEXT.items():
            limit = _max_length(Product, model_field)
            if len(row.get(column, "")) > limit:
                self.problem(file, line, column, f"longer than {limit} characters")
                product.valid = False

        tags = ", ".join(t.strip() for t in row.get(TAGS, "").split(",") if t.strip())
        product.category_name = category_name_for(product_type=row.get(TYPE, ""), tags=tags)
        category_limit = _max_length(Category, "name")
        if len(product.category_name) > category_limit:
            column = TYPE if row.get(TYPE) else TAGS
            message = f"a category name is at most {category_limit} characters"
            self.problem(file, line, column, message)
            product.valid = False

        product.fields = {
            "title": row.get(TITLE, ""),
            "description": row.get(BODY, ""),
            "vendor": row.get(VENDOR, ""),
            "product_type": row.get(TYPE, ""),
            "tags": tags,
            # Blank means published, as the model's default.
            "published": published != "false",
            "seo_title": row.get(SEO_TITLE, ""),
            "seo_description": row.get(SEO_DESCRIPTION, ""),
            "option1_name": row.get(OPTION_NAMES[0], ""),
            "option2_name": row.get(OPTION_NAMES[1], ""),
            "option3_name": row.get(OPTION_NAMES[2], ""),
        }
        return product

    def parse_variant(
        self,
        file: str,
        line: int,
        row: dict[str, str],
        header: list[str],
        product: ParsedProduct,
    ) -> None:
        ok = True
        price = self.parse_price(file, line, row, PRICE, required=PRICE in header)
        compare_at = self.parse_price(file, line, row, COMPARE_AT, required=False)
        quantity = self.parse_count(file, line, row, QUANTITY)
        grams = self.parse_count(file, line, row, GRAMS)
        if (PRICE in header and price is None) or quantity is None or grams is None:
            ok = False
        policy = row.get(POLICY, "").lower() or StockItem.BackorderPolicy.DENY
        if policy not in POLICIES:
            self.problem(file, line, POLICY, f'must be "deny" or "continue" (or blank), not "{row[POLICY]}"')
            ok = False
        if compare_at is None and row.get(COMPARE_AT):
            ok = False

        options = tuple(row.get(col, "") for col in OPTION_VALUES)
        option_limit = _max_length(ProductVariant, "option1_value")
        for i, (column, value) in enumerate(zip(OPTION_VALUES, options, strict=True)):
            option_name = product.fields.get(f"option{i + 1}_name", "")
            if option_name and not value:
                message = f'required: the product has option "{option_name}"'
                self.problem(file, line, column, message)
                ok = False
            if len(value) > option_limit:
                self.problem(file, line, column, f"longer than {option_limit} characters")
                ok = False
        key = (product.handle, options)
        if key in self.option_sets:
            seen_file, seen_line = self.option_sets[key]
            shown = " / ".join(v for v in options if v) or "(none)"
            message = f'the options "{shown}" repeat a variant at {seen_file}:{seen_line}'
            self.problem(file, line, OPTION_VALUES[0], message)
            ok = False
        else:
            self.option_sets[key] = (file, line)

        barcode = row.get(BARCODE, "")
        if len(barcode) > (limit := _max_length(ProductVariant, "barcode")):
            self.problem(file, line, BARCODE, f"longer than {limit} characters")
            ok = False

        sku = row.get(SKU, "")
        derived = not sku
        if derived:
            sku = derive_sku(product.handle, options)
        what = f'derived SKU "{sku}"' if derived else f'SKU "{sku}"'
        sku_limit = _max_length(ProductVariant, "sku")
        if len(sku) > sku_limit:
            self.problem(file, line, SKU, f"{what} is longer than {sku_limit} characters")
            ok = False
        if sku in self.skus:
            seen = self.skus[sku]
            self.problem(file, line, SKU, f"{what} is already used at {seen.file}:{seen.line}")
            ok = False
        else:
            self.skus[sku] = _SeenSku(file, line, product.handle, derived)

        if not ok or not product.valid:
            product.valid = False
            return
        product.variants.append(
            ParsedVariant(
                sku=sku,
                options=options,  # type: ignore[arg-type]
                price=price,  # type: ignore[arg-type]
                compare_at_price=compare_at,
                grams=grams,  # type: ignore[arg-type]
                barcode=barcode,
                quantity=quantity,  # type: ignore[arg-type]
                position=len(product.variants) + 1,
                file=file,
                line=line,
                backorder_policy=policy,
            )
        )

    def parse_image(self, file: str, line: int, row: dict[str, str], product: ParsedProduct) -> None:
        src = row[IMAGE_SRC]
        ok = True
        try:
            URLValidator(schemes=["http", "https"])(src)
        except ValidationError:
            self.problem(file, line, IMAGE_SRC, f'not an http(s) URL: "{src}"')
            ok = False
        if len(src) > (limit := _max_length(ProductImage, "source_url")):
            self.problem(file, line, IMAGE_SRC, f"longer than {limit} characters")
            ok = False
        alt = row.get(IMAGE_ALT, "")
        if len(alt) > (limit := _max_length(ProductImage, "alt")):
            self.problem(file, line, IMAGE_ALT, f"longer than {limit} characters")
            ok = False
        position = len(product.images) + 1
        text = row.get(IMAGE_POSITION, "")
        if text:
            try:
                position = count_parse(text, minimum=1)
            except InvalidValue:
                self.problem(file, line, IMAGE_POSITION, f'not a whole number from 1: "{text}"')
                ok = False
        if not ok:
            product.valid = False
            return
        # Shopify repeats an image's URL when several variants show it: one image is enough.
        if any(image.source_url == src for image in product.images):
            return
        product.images.append(ParsedImage(source_url=src, alt=alt, position=position))

    # -- values --------------------------------------------------------------------------
    def parse_price(self, file: str, line: int, row: dict[str, str], column: str, *, required: bool) -> Decimal | None:
        text = row.get(column, "")
        if not text:
            if required:
                self.problem(file, line, column, "required")
            return None
        try:
            return money_parse(text)
        except InvalidValue as exc:
            self.problem(file, line, column, str(exc))
            return None

    def parse_count(self, file: str, line: int, row: dict[str, str], column: str) -> int | None:
        """A whole number ≥ 0; blank means 0."""
        text = row.get(column, "")
        if not text:
            return 0
        try:
            return count_parse(text)
        except InvalidValue as exc:
            self.problem(file, line, column, str(exc))
            return None

    # -- database ------------------------------------------------------------------------
    def check_database(self) -> None:
        """A SKU may already exist only on the product with the same handle."""
        # A SKU holding a control character is reported already, and PostgreSQL refuses even
        # to compare with a NUL: it is not looked up.
        skus = [sku for sku in self.skus if not CONTROL.search(sku)]
        owners = ProductVariant.objects.filter(sku__in=skus).values_list("sku", "product__handle")
        for sku, owner_handle in owners:
            seen = self.skus[sku]
            if owner_handle != seen.handle:
                what = f'derived SKU "{sku}"' if seen.derived else f'SKU "{sku}"'
                message = f'{what} already belongs to another product, "{owner_handle}"'
                self.problem(seen.file, seen.line, SKU, message)
        self.check_policies()

    def check_policies(self) -> None:
        """An existing variant sold on backorder may switch to "deny" only once its stock
        covers what buyers are owed (see inventory.services.stock_policy_set)."""
        to_deny = {
            v.sku: v
            for p in self.products.values()
            for v in p.variants
            if v.backorder_policy == StockItem.BackorderPolicy.DENY and not CONTROL.search(v.sku)
        }
        if not to_deny:
            return
        owing = (
            with_availability(ProductVariant.objects.filter(sku__in=list(to_deny)))
            .filter(stock__backorder_policy=StockItem.BackorderPolicy.CONTINUE, available__lt=0)
            .values_list("sku", "available")
        )
        for sku, available in owing:
            parsed = to_deny[sku]
            message = (
                f'cannot switch SKU "{sku}" to "deny": {-available} unit(s) are owed to buyers '
                "on backorder; receive stock first"
            )
            self.problem(parsed.file, parsed.line, POLICY, message)


def catalog_parse(*, paths: Sequence[str | Path]) -> list[ParsedProduct]:
    """Phase 1: reads and validates every file in `paths`, and checks SKUs against the
    database. Writes nothing. Returns the parsed products in file order.

    Raises ImportRejected listing every problem (file, physical line, column, message),
    ordered by file then line, if there is any.
    """
    parser = _FileParser()
    for path in paths:
        parser.parse_file(path)
    parser.check_database()
    problems_reject(parser.problems, paths=paths)
    return list(parser.products.values())


@dataclass
class _PendingImage:
    product: Product
    source_url: str
    alt: str
    position: int


def catalog_import(
    *, paths: Sequence[str | Path], progress: ProgressCallback | None = None, dry_run: bool = False
) -> ImportResult:
    """Imports Shopify product CSV files: creates or updates categories, products and
    variants, sets opening stock, and adds product images.

    All files are validated first; on any problem nothing is written and ImportRejected is
    raised with every problem. Otherwise all rows are written in one transaction (durable:
    must not run inside another transaction, because images are fetched after the commit).

    Stock: a variant created by the import gets Variant Inventory Qty units (integer) on hand
    through one IMPORT ledger row whose reference is the file name. A variant that already
    exists keeps its stock: after the first import, stock is owned by the shop. Re-running
    with the same files changes nothing.

    Images: each new Image Src is downloaded with settings.IMPORT_IMAGE_TIMEOUT_SECONDS
    (seconds); when that fails a placeholder is drawn (is_placeholder=True, source_url kept).
    A product with no image at all gets one placeholder. Thumbnails are written for each.
    An image whose source_url the product already has is not created again.

    `progress(stage, done, total)` is called as products ("products") and images
    ("images") are done.

    `dry_run`: validates, then runs every write in the transaction and rolls it back, so the
    counts and `changes` are exactly what the import would do and nothing is written (after-
    commit work, such as cache retirement and emails, is dropped with it); images are
    counted, not fetched. Raises ImportRejected as a real import would.
    """
    parsed = catalog_parse(paths=paths)
    result = ImportResult(handles=[p.handle for p in parsed], dry_run=dry_run)
    with transaction.atomic(durable=True):
        advisory_lock("import:products")  # the same import run twice at once writes once
        # The search vectors of every product written (its SKUs included: variants come
        # after their product), in one UPDATE at the end rather than one per row saved.
        with product_search_vectors_deferred():
            pending = _write_products(parsed, result, progress)
        if dry_run:
            transaction.set_rollback(True)
    if dry_run:
        result.images_created = len(pending)
        result.changes += [f'create image of "{p.product.handle}": {p.source_url or "placeholder"}' for p in pending]
        return result
    _write_images(pending, result, progress)
    return result


def _categories(parsed: list[ParsedProduct], result: ImportResult) -> dict[str, Category | None]:
    by_name: dict[str, Category | None] = {}
    for product in parsed:
        name = product.category_name
        if name in by_name:
            continue
        slug = slugify(name)[: _max_length(Category, "slug")]
        if not slug:
            by_name[name] = None
            continue
        # Staff may have renamed a category in the admin: match on slug, then on name.
        category = Category.objects.filter(slug=slug).first() or Category.objects.filter(name__iexact=name).first()
        if category is None:
            category = Category.objects.create(name=name, slug=slug)
            result.categories_created += 1
            result.changes.append(f'create category "{name}"')
        by_name[name] = category
    return by_name


def _write_products(
    parsed: list[ParsedProduct], result: ImportResult, progress: ProgressCallback | None
) -> list[_PendingImage]:
    categories = _categories(parsed, result)
    products = {p.handle: p for p in Product.objects.filter(handle__in=[p.handle for p in parsed])}
    variants = {v.sku: v for v in ProductVariant.objects.filter(sku__in=[v.sku for p in parsed for v in p.variants])}
    # Variants without a stock row have the default policy.
    policies = dict(
        StockItem.objects.filter(variant__in=list(variants.values())).values_list("variant_id", "backorder_policy")
    )
    existing_images: dict[int, dict[str, ProductImage]] = {}
    for stored in ProductImage.objects.filter(product__in=list(products.values())):
        existing_images.setdefault(stored.product_id, {})[stored.source_url] = stored

    pending: list[_PendingImage] = []
    for done, item in enumerate(parsed, start=1):
        category = categories[item.category_name]
        # category_id, not category: comparing ids costs no query per product.
        values = {**item.fields, "category_id": category.pk if category else None}
        product = products.get(item.handle)
        if product is None:
            product = Product.objects.create(handle=item.handle, **values)
            result.products_created += 1
            result.changes.append(f'create product "{item.handle}"')
        elif changed := _apply(product, values):
            result.products_updated += 1
            result.changes.append(f'update product "{item.handle}": {", ".join(changed)}')
        else:
            result.products_unchanged += 1

        for parsed_variant in item.variants:
            existing = variants.get(parsed_variant.sku)
            policy = policies.get(existing.pk, StockItem.BackorderPolicy.DENY) if existing else None
            _write_variant(product, parsed_variant, existing, policy, result)

        known = existing_images.get(product.pk, {})
        for image in item.images:
            current = known.get(image.source_url)
            if current is None:
                pending.append(_PendingImage(product, image.source_url, image.alt, image.position))
            elif changed := _apply(current, {"alt": image.alt, "position": image.position}):
                result.images_updated += 1
                result.changes.append(f'update image of "{item.handle}": {image.source_url}: {", ".join(changed)}')
        if not item.images and not known:
            pending.append(_PendingImage(product, "", item.fields["title"], 1))
        if progress:
            progress("products", done, len(parsed))
    return pending


def _apply(obj, values: dict) -> list[str]:
    """Sets the fields of `obj` that differ from `values` and saves only those; returns their
    names (empty, false, when none did). Comparing first is what makes a re-import a no-op
    (no write, no updated_at bump)."""
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(obj, name, values[name])
    update_fields = changed + (["updated_at"] if hasattr(obj, "updated_at") else [])
    obj.save(update_fields=update_fields)
    return changed


def _write_variant(
    product: Product,
    parsed: ParsedVariant,
    variant: ProductVariant | None,
    current_policy: str | None,
    result: ImportResult,
) -> None:
    values = {
        "option1_value": parsed.options[0],
        "option2_value": parsed.options[1],
        "option3_value": parsed.options[2],
        "price": parsed.price,
        "compare_at_price": parsed.compare_at_price,
        "grams": parsed.grams,
        "barcode": parsed.barcode,
        "position": parsed.position,
    }
    if variant is not None:
        # Stock is not touched: the shop owns it once the variant exists (see module doc).
        changed = _apply(variant, values)
        if parsed.backorder_policy != current_policy:
            _set_policy(variant, parsed)
            changed.append("backorder_policy")
        if changed:
            result.variants_updated += 1
            result.changes.append(f'update variant "{parsed.sku}" of "{product.handle}": {", ".join(changed)}')
        else:
            result.variants_unchanged += 1
        return
    variant = ProductVariant.objects.create(product=product, sku=parsed.sku, **values)
    result.variants_created += 1
    result.changes.append(f'create variant "{parsed.sku}" of "{product.handle}" ({parsed.quantity} on hand)')
    if parsed.backorder_policy != StockItem.BackorderPolicy.DENY:
        _set_policy(variant, parsed)
    if parsed.quantity:
        stock_adjust(
            variant=variant,
            quantity=parsed.quantity,
            reason=StockMovement.Reason.IMPORT,
            reference=Path(parsed.file).name[: _max_length(StockMovement, "reference")],
            note="Opening stock from the catalog import.",
        )
        result.stock_movements += 1


def _set_policy(variant: ProductVariant, parsed: ParsedVariant) -> None:
    try:
        stock_policy_set(variant=variant, backorder_policy=parsed.backorder_policy)
    except BackordersOutstanding as exc:
        # Checked in phase 1; a sale since then owes more. Raised inside the transaction, so
        # nothing of this import is written, and reported like any other problem.
        raise ImportRejected([Problem(parsed.file, parsed.line, POLICY, exc.message)]) from exc


def _write_images(pending: list[_PendingImage], result: ImportResult, progress: ProgressCallback | None) -> None:
    """Runs after the commit: fetching can take seconds per image and must not hold a
    transaction open. Each image row is saved only once its files exist, so an interrupted
    run is completed by the next import (the missing source_urls are still missing)."""
    timeout = settings.IMPORT_IMAGE_TIMEOUT_SECONDS
    unreachable_hosts: set[str] = set()
    for done, item in enumerate(pending, start=1):
        data = None
        if item.source_url:
            data = fetch_image(item.source_url, timeout, unreachable_hosts=unreachable_hosts)
        image = None
        if data is not None:
            try:
                image = _save_image(item, data, extension=image_extension(data), placeholder=False)
            except Exception:  # a broken download falls back to a placeholder
                logger.warning("Unusable image %s; using a placeholder", item.source_url, exc_info=True)
        if image is None:
            data = placeholder_image(title=item.product.title, seed=item.product.handle)
            image = _save_image(item, data, extension=".jpg", placeholder=True)
            result.images_placeholder += 1
        result.images_created += 1
        if progress:
            progress("images", done, len(pending))


def _save_image(item: _PendingImage, data: bytes, *, extension: str, placeholder: bool) -> ProductImage:
    image = ProductImage(
        product=item.product,
        source_url=item.source_url,
        alt=item.alt,
        position=item.position,
        is_placeholder=placeholder,
    )
    name = f"{item.product.handle}-{item.position}{extension}"
    image.image.save(name, ContentFile(data), save=False)
    image.thumbnails = make_thumbnails(image)
    image.save()
    return image
