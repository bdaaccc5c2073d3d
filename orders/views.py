from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from .selectors import order_for_token, order_for_user, orders_for_user
from .services import order_expire_if_due


@login_required
def order_list(request):
    page = Paginator(orders_for_user(request.user), 20).get_page(request.GET.get("page"))
    return render(request, "orders/list.html", {"page": page})


def _detail(request, order):
    if order is None:
        raise Http404("No such order")
    order = order_expire_if_due(order=order)
    return render(request, "orders/detail.html", {"order": order})


@login_required
def order_detail(request, number: str):
    return _detail(request, order_for_user(user=request.user, number=number))


def guest_order_detail(request, number: str, token: str):
    return _detail(request, order_for_token(number=number, token=token))
