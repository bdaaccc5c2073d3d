from django.urls import path

from . import views

app_name = "orders"
urlpatterns = [
    path("", views.order_list, name="list"),
    # Before "<number>/…": "reviews" would otherwise be taken for an order number.
    path("reviews/<slug:handle>/", views.review_create_view, name="review"),
    path("<str:number>/", views.order_detail, name="detail"),
    # Before the guest link: "<number>/<token>/" would take "invoice" for a token.
    path("<str:number>/invoice/", views.order_invoice, name="invoice"),
    path("<str:number>/credit-notes/<str:credit_note>/", views.order_credit_note, name="credit_note"),
    path("<str:number>/<str:token>/", views.guest_order_detail, name="guest_detail"),
    path("<str:number>/<str:token>/invoice/", views.guest_order_invoice, name="guest_invoice"),
    path(
        "<str:number>/<str:token>/credit-notes/<str:credit_note>/",
        views.guest_order_credit_note,
        name="guest_credit_note",
    ),
]
