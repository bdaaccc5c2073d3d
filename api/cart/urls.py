from django.urls import path, re_path

from . import views

urlpatterns = [
    path("cart/", views.CartDetailView.as_view(), name="cart"),
    path("cart/items/", views.CartItemsView.as_view(), name="cart_items"),
    # Line ids are database integers: anything longer is 404 before it reaches the database.
    re_path(r"^cart/items/(?P<line_id>[0-9]{1,9})/$", views.CartItemView.as_view(), name="cart_item"),
    path("cart/validate/", views.CartValidateView.as_view(), name="cart_validate"),
]
