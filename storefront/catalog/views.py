from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from cart.services import CartError, cart_add
from catalog.cache import listing_cached, product_cached
from catalog.models import Product
from catalog.selectors import categories_with_products
from catalog.services import product_view_record
from inventory.exceptions import StockBusy
from inventory.selectors import featured_products, product_detail, product_search
from orders.selectors import review_eligibility
from storefront.context_processors import shop
from storefront.orders.forms import ReviewForm
from storefront.session import cart_for_request

from .forms import AddToCartForm, ProductFilterForm


def home(request):
    products = listing_cached(
        "home",
        [],
        lambda: render_to_string(
            "catalog/_home_products.html",
            {"categories": categories_with_products(), "products": featured_products()},
            request,
        ),
    )
    return render(request, "catalog/home.html", {"products": mark_safe(products)})


def product_list(request):
    form = ProductFilterForm(request.GET)
    filters = form.filters()
    query = request.GET.copy()
    page_number = query.pop("page", [None])[-1]
    querystring = query.urlencode()

    def results() -> tuple[str, list]:
        paginator = Paginator(product_search(filters), settings.PRODUCTS_PER_PAGE)
        page = paginator.get_page(page_number)
        html = render_to_string(
            "catalog/_product_results.html",
            {"filters": filters, "page": page, "querystring": querystring},
            request,
        )
        return html, list(categories_with_products())

    # Keyed by what the entry shows: the filters, the page asked for and the links' query.
    html, categories = listing_cached("list", [filters, page_number, querystring, settings.PRODUCTS_PER_PAGE], results)
    return render(
        request,
        "catalog/product_list.html",
        {"form": form, "filters": filters, "categories": categories, "results": mark_safe(html)},
    )


# The parts of the product page that are the same for every shopper, by template.
PRODUCT_PAGE_PARTS = {
    "gallery": "catalog/_product_gallery.html",
    "summary": "catalog/_product_summary.html",
    "options": "catalog/_variant_options.html",
    "description": "catalog/_product_description.html",
    "reviews": "catalog/_product_reviews.html",
}


def _product_page(handle: str) -> tuple[Product, dict[str, str]] | None:
    """The product (inventory.selectors.product_detail) and its page's shared parts as HTML,
    rendered without a request (no user, no CSRF token: those stay in product_detail.html),
    or None for no such product."""
    product = product_detail(handle)
    if product is None:
        return None
    context = {
        "product": product,
        "variants": list(product.variants.all()),
        "add_to_cart": AddToCartForm(product=product),
        **shop(None),
    }
    return product, {name: render_to_string(template, context) for name, template in PRODUCT_PAGE_PARTS.items()}


def _review_form(request, product: Product) -> dict:
    """The review part of the product page (templates/orders/_review_form.html): the form for
    a signed-in buyer who has not reviewed the product yet, else why there is none. Who may
    review is orders' rule. One query for a signed-in shopper, none for a guest."""
    if not request.user.is_authenticated:
        return {"signed_in": False}
    return {
        "signed_in": True,
        "eligibility": review_eligibility(user=request.user, product=product),
        # Its own ids: the page's add-to-cart form already has id_quantity & co.
        "form": ReviewForm(auto_id="review_%s"),
    }


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
                    "back_label": f"Back to {product}",
                },
                status=409,
            )
        else:
            messages.success(request, f"Added {form.cleaned_data['quantity']} × {variant} to your cart.")
            return redirect("cart:detail")
    return render(
        request,
        "catalog/product_detail.html",
        {
            "product": product,
            "variants": list(product.variants.all()),
            "form": form,
            "page": {name: mark_safe(html) for name, html in parts.items()},
            "review": _review_form(request, product),
        },
    )
