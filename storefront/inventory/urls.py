from django.urls import path

from . import views

app_name = "inventory"
urlpatterns = [
    path("notify/", views.back_in_stock_view, name="back_in_stock"),
]
