from django.urls import path, re_path

from . import views

urlpatterns = [
    path("orders/", views.OrderListView.as_view(), name="order_list"),
    # Order numbers are ours (letters and digits, orders.models.NUMBER_ALPHABET) or an imported
    # order's own ("#1001", sent as %231001): at most 32 characters, never "/", "?", "%" or
    # white space (orders.importer refuses those); anything else is 404 before the database.
    re_path(r"^orders/(?P<number>[^/?%\s]{1,32})/$", views.OrderDetailView.as_view(), name="order_detail"),
    re_path(r"^orders/(?P<number>[^/?%\s]{1,32})/invoice/$", views.OrderInvoiceView.as_view(), name="order_invoice"),
    re_path(
        r"^orders/(?P<number>[^/?%\s]{1,32})/credit-notes/(?P<credit_note>CN-[0-9]{4}-[0-9]{6})/$",
        views.OrderCreditNoteView.as_view(),
        name="order_credit_note",
    ),
]
