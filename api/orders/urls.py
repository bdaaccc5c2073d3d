from django.urls import path, re_path

from . import views

urlpatterns = [
    path("orders/", views.OrderListView.as_view(), name="order_list"),
    # Order numbers are letters and digits (orders.models.NUMBER_ALPHABET); anything else is
    # 404 before it reaches the database.
    re_path(r"^orders/(?P<number>[A-Za-z0-9]{1,16})/$", views.OrderDetailView.as_view(), name="order_detail"),
    re_path(r"^orders/(?P<number>[A-Za-z0-9]{1,16})/invoice/$", views.OrderInvoiceView.as_view(), name="order_invoice"),
    re_path(
        r"^orders/(?P<number>[A-Za-z0-9]{1,16})/credit-notes/(?P<credit_note>CN-[0-9]{4}-[0-9]{6})/$",
        views.OrderCreditNoteView.as_view(),
        name="order_credit_note",
    ),
]
