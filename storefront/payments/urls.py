from django.urls import path

from . import views

app_name = "payments"
urlpatterns = [
    path("order/<str:token>/", views.pay, name="pay"),
    path("order/<str:token>/failed/", views.failed, name="failed"),
    path("order/<str:token>/cancel/", views.order_cancel, name="order_cancel"),
    path("return/<str:reference>/", views.provider_return, name="return"),
    path("cancel/<str:reference>/", views.provider_cancel, name="cancel"),
    path("callback/<str:reference>/", views.provider_callback, name="callback"),
    path("abandon/<str:reference>/", views.provider_abandon, name="abandon"),
    path("webhooks/<slug:provider>/", views.webhook, name="webhook"),
    path("dummy/<str:reference>/", views.dummy, name="dummy"),
    path("dummy/<str:reference>/complete/", views.dummy_complete, name="dummy_complete"),
]
