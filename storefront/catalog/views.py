from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from cart.services import CartError, cart_add
from catalog.cache import listing_cached, product_cached
from catalog.models import Product, ProductImage, ProductVariant
from catalog.services import product_view_record
from inventory.exceptions import StockBusy
from inventory.selectors import (
    featured_products,
    product_detail,
    product_search,
    products_figures,
    search_suggestion,
)
from kernel.replica import primary_reads, replica_view
from orders.selectors import review_eligibility
from storefront.context_processors import shop
from storefront.orders.forms import ReviewForm
from storefront.page_cache import Page, whole_page_cached
from storefront.seo.structured import product_seo
from storefront.session import cart_for_request

from .categories import shop_categories
from .forms import AddToCartForm, ProductFilterForm
from .pagination import BoundedPaginator
from .picker import (
    LOW_STOCK_UNITS,
    availability_text,
    default_variant,
    option_count,
    option_groups,
    variant_options,
    variants_data,
)


@dataclass
class CardFacts:
    """What a product card shows beyond the listing's row: its first image (None without
    one), the price range, the cheapest variant's compare-at price (a sale), and "Only N
    left" (a product whose variants are all sold from stock, with 1–LOW_STOCK_UNITS units
    left in all)."""

    image: ProductImage | None = None
    max_price: Decimal | None = None
    compare_at: Decimal | None = None
    low: int | None = None


def _card_facts(products) -> list:
    """`products` (read with figures=False) with `card` (CardFacts) set on each, and
    `min_price` and `in_stock` (inventory.selectors.products_figures): one query for all of
    them, from their variants with live availability, so a card's price, sale and badges all
    come from one read."""
    products = list(products)
    by_product = products_figures(products)
    for product in products:
        # The prefetched images (published_products), read here once: the template's
        # product.images.all.0 cost a queryset and a failed attribute lookup per card.
        facts = CardFacts(image=next(iter(product.images.all()), None))
        variants = by_product.get(product.pk, [])
        if variants:
            cheapest = min(variants, key=lambda v: v.price)
            facts.max_price = max(v.price for v in variants)
            if cheapest.compare_at_price is not None and cheapest.compare_at_price > cheapest.price:
                facts.compare_at = cheapest.compare_at_price
            if not any(v.backorder for v in variants):
                units = sum(max(v.available, 0) for v in variants)
                facts.low = units if 0 < units <= LOW_STOCK_UNITS else None
        product.card = facts
    return products


def _category_tiles(categories) -> list[dict]:
    """The home page's category tiles: each category with the first image of one of its
    products (one query)."""
    categories = list(categories)
    images = ProductImage.objects.filter(product__category__in=categories, product__published=True).order_by(
        "product__category_id", "-product__featured", "product__title", "position", "pk"
    )
    first: dict[int, ProductImage] = {}
    for image in images.select_related("product"):
        first.setdefault(image.product.category_id, image)
    return [{"category": c, "image": first.get(c.pk)} for c in categories]


@replica_view
@whole_page_cached("home")
def home(request):
    products = listing_cached(
        "home",
        [],
        lambda: render_to_string(
            "catalog/_home_products.html",
            {
                "tiles": _category_tiles(shop_categories(request)),
                "products": _card_facts(featured_products(figures=False)),
            },
            request,
        ),
    )
    return render(request, "catalog/home.html", {"products": mark_safe(products)})


@replica_view
@whole_page_cached("list")
def product_list(request):
    form = ProductFilterForm(request.GET)
    filters = form.filters()
    query = request.GET.copy()
    page_number = query.pop("page", [None])[-1]
    querystring = query.urlencode()

    def results() -> tuple[str, list]:
        categories = shop_categories(request)
        paginator = BoundedPaginator(
            product_search(filters, figures=False), settings.PRODUCTS_PER_PAGE, number=page_number
        )
        page = paginator.get_page(page_number)
        page.object_list = _card_facts(page.object_list)
        # Words that found nothing: one more query for a close title ("Did you mean shirt?").
        suggestion = search_suggestion(filters.q) if filters.q and not paginator.count else None
        suggestion_query = query.copy()
        suggestion_query["q"] = suggestion or ""
        html = render_to_string(
            "catalog/_product_results.html",
            {
                "filters": filters,
                "category": next((c for c in categories if c.slug == filters.category), None),
                "page": page,
                "page_links": paginator.page_links(page.number),
                "querystring": querystring,
                "suggestion": suggestion,
                "suggestion_querystring": suggestion_query.urlencode(),
            },
            request,
        )
        return html, categories

    # Keyed by what the entry shows: the filters, the page asked for and the links' query.
    html, categories = listing_cached("list", [filters, page_number, querystring, settings.PRODUCTS_PER_PAGE], results)
    category = next((c for c in categories if c.slug == filters.category), None)
    return render(
        request,
        "catalog/product_list.html",
        {
            "form": form,
            "filters": filters,
            "categories": categories,
            "category": category,
            "results": mark_safe(html),
        },
    )


# The parts of the product page that are the same for every shopper, by template.
PRODUCT_PAGE_PARTS = {
    "gallery": "catalog/_product_gallery.html",
    "summary": "catalog/_product_summary.html",
    "options": "catalog/_variant_options.html",
    "description": "catalog/_product_description.html",
    "reviews": "catalog/_product_reviews.html",
}


def _picker_context(product: Product, selected: ProductVariant | None) -> dict:
    """What templates/catalog/_variant_options.html needs for `selected` chosen."""
    variants = list(product.variants.all())
    return {
        "product": product,
        "variants": variants,
        "selected": selected,
        "option_groups": option_groups(product, variants, selected),
        "variants_data": variants_data(variants, option_count(product, variants)),
    }


def _product_page(handle: str) -> tuple[Product, dict[str, str]] | None:
    """The product (inventory.selectors.product_detail) and its page's shared parts as HTML,
    rendered without a request (no user, no CSRF token: those stay in product_detail.html),
    or None for no such product. The options part is for the default choice of variant."""
    product = product_detail(handle)
    if product is None:
        return None
    context = {
        **_picker_context(product, default_variant(list(product.variants.all()))),
        **shop(None),
    }
    return product, {name: render_to_string(template, context) for name, template in PRODUCT_PAGE_PARTS.items()}


def _chosen_variant(form: AddToCartForm, variants: list[ProductVariant], wanted) -> ProductVariant | None:
    """The variant the page shows as chosen: the one the posted form names (even when the
    form has errors, so the shopper keeps their choice), else ?variant=, else the default."""
    if form.is_bound:
        named = form.cleaned_data.get("variant") if hasattr(form, "cleaned_data") else None
        if named is None and form.option_count:
            posted = tuple(form.data.get(name, "") for name in form.option_fields)
            named = next((v for v in variants if variant_options(v, form.option_count) == posted), None)
        if named is not None:
            return next((v for v in variants if v.pk == named.pk), None)
    return default_variant(variants, wanted)


def _review_form(request, product: Product) -> dict:
    """The review part of the product page (templates/orders/_review_form.html): the form for
    a signed-in buyer who has not reviewed the product yet, else why there is none. Who may
    review is orders' rule. One query for a signed-in shopper, none for a guest."""
    if not request.user.is_authenticated:
        return {"signed_in": False}
    with primary_reads():  # the shopper's own orders and reviews, as they just left them
        eligibility = review_eligibility(user=request.user, product=product)
    return {
        "signed_in": True,
        "eligibility": eligibility,
        # Its own ids: the page's add-to-cart form already has id_quantity & co.
        "form": ReviewForm(auto_id="review_%s"),
    }


def _count_view(page: Page) -> None:
    if page.product_id is not None:
        product_view_record(product_id=page.product_id)


@replica_view
@whole_page_cached("product", handle_kwarg="handle", on_hit=_count_view)
def product_detail_view(request, handle: str):
    # The product with its variants' availability and its page's shared HTML, from the page
    # cache (catalog/cache.py); adding to the cart below checks stock again under the lock.
    cached = product_cached(handle, lambda: _product_page(handle), kind="product-page")
    if cached is None:
        raise Http404("No such product")
    product, parts = cached
    if request.method == "GET":
        # One cache increment, no database write; flushed to the database by a beat task.
        product_view_record(product_id=product.pk)
    form = AddToCartForm(request.POST or None, product=product)
    if request.method == "POST" and form.is_valid():
        variant = form.cleaned_data["variant"]
        try:
            cart = cart_for_request(request, create=True)
            cart_add(cart=cart, variant_id=variant.pk, quantity=form.cleaned_data["quantity"])
        except CartError as exc:
            form.add_error("quantity", exc.message)
        except StockBusy as exc:
            # STOCK_RESERVE_ON=cart: adding reserves under the stock lock, which may be busy.
            return render(
                request,
                "checkout/busy.html",
                {
                    "message": exc.message,
                    "back_url": product.get_absolute_url(),
                    "back_label": _("Back to %(product)s") % {"product": product},
                },
                status=409,
            )
        else:
            messages.success(
                request,
                _("Added %(quantity)s × %(variant)s to your cart.")
                % {"quantity": form.cleaned_data["quantity"], "variant": variant},
            )
            return redirect("cart:detail")
    variants = list(product.variants.all())
    wanted = request.GET.get("variant")
    selected = _chosen_variant(form, variants, wanted)
    page = {name: mark_safe(html) for name, html in parts.items()}
    if form.is_bound or selected != default_variant(variants):
        # Another choice than the cached part's: rendered now, from the cached product (no query).
        page["options"] = mark_safe(
            render_to_string("catalog/_variant_options.html", {**_picker_context(product, selected), **shop(None)})
        )
    status, availability = availability_text(selected) if selected else ("out", "")
    response = render(
        request,
        "catalog/product_detail.html",
        {
            "product": product,
            "variants": variants,
            "selected": selected,
            "selected_status": status,
            "selected_availability": availability,
            "has_sold_out": any(availability_text(v)[0] == "out" for v in variants),
            "form": form,
            "page": page,
            "review": _review_form(request, product),
            # The <head>'s description, Open Graph and JSON-LD, from the same product and variants.
            "seo": product_seo(request, product, variants, selected),
        },
    )
    response.product_id = product.pk  # a whole page stored from it counts a view on each hit
    return response
