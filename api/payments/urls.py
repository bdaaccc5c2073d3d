from django.urls import path, re_path

from . import views

urlpatterns = [
    # Order numbers as in orders/api/urls.py: letters and digits, else 404.
    re_path(
        r"^orders/(?P<number>[A-Za-z0-9]{1,16})/payments/$", views.PaymentStartView.as_view(), name="order_payments"
    ),
    re_path(r"^orders/(?P<number>[A-Za-z0-9]{1,16})/cancel/$", views.OrderCancelView.as_view(), name="order_cancel"),
    path("payments/razorpay/verify/", views.RazorpayVerifyView.as_view(), name="razorpay_verify"),
]
