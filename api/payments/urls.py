from django.urls import path, re_path

from . import views

urlpatterns = [
    # Order numbers as in api/orders/urls.py (ours, or an imported "#1001"), else 404.
    re_path(r"^orders/(?P<number>[^/?%\s]{1,32})/payments/$", views.PaymentStartView.as_view(), name="order_payments"),
    re_path(r"^orders/(?P<number>[^/?%\s]{1,32})/cancel/$", views.OrderCancelView.as_view(), name="order_cancel"),
    path("payments/razorpay/verify/", views.RazorpayVerifyView.as_view(), name="razorpay_verify"),
]
