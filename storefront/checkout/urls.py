from django.urls import path

from . import views

app_name = "checkout"
urlpatterns = [
    path("", views.details, name="details"),
    path("review/", views.review, name="review"),
    path("voucher/", views.voucher_apply, name="voucher_apply"),
    path("voucher/remove/", views.voucher_remove, name="voucher_remove"),
    path("place/", views.place_order, name="place_order"),
]
