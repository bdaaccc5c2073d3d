from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render

from cart.services import CartError, cart_add, cart_for_request
from inventory.exceptions import StockBusy

from .forms import AddToCartForm, ProductFilterForm
from .selectors import categories_with_products, featured_products, product_detail, product_search
from .services import product_view_record


def home(request):
    return render(
        request,
        "catalog/home.html",
        {"categories": categories_with_products(), "products": featured_products()},
    )


def product_list(request):
    form = ProductFilterForm(request.GET)
    filters = form.filters()
    paginator = Paginator(product_search(filters), settings.PRODUCTS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "catalog/product_list.html",
        {
            "form": form,
            "filters": filters,
            "page": page,
            "categories": categories_with_products(),
            "querystring": query.urlencode(),
        },
    )


def product_detail_view(request, handle: str):
    product = product_detail(handle)
    if product is None:
        raise Http404("No such product")
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
        {"product": product, "variants": list(product.variants.all()), "form": form},
    )
