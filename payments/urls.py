from django.urls import path

from . import views

app_name = "payments"
urlpatterns = [
    path("order/<str:token>/", views.pay, name="pay"),
    path("dummy/<str:payment_id>/", views.dummy, name="dummy"),
    path("dummy/<str:payment_id>/complete/", views.dummy_complete, name="dummy_complete"),
]
