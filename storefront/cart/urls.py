from django.urls import path

from . import views

app_name = "cart"
urlpatterns = [
    path("", views.cart_detail, name="detail"),
    path("lines/<int:line_id>/", views.line_update, name="line_update"),
    path("lines/<int:line_id>/remove/", views.line_remove, name="line_remove"),
    path("restore/<str:token>/", views.restore, name="restore"),
]
