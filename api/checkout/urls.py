from django.urls import path

from . import views

urlpatterns = [
    path("checkout/", views.CheckoutStartView.as_view(), name="checkout"),
    path("checkout/<uuid:checkout_id>/", views.CheckoutDetailView.as_view(), name="checkout_detail"),
    path("checkout/<uuid:checkout_id>/place-order/", views.PlaceOrderView.as_view(), name="checkout_place_order"),
]
