from django.urls import path

from . import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="register"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("auth/token/refresh/", views.TokenRefreshRotateView.as_view(), name="token_refresh"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("auth/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("auth/me/", views.MeView.as_view(), name="me"),
    path("auth/me/data/", views.MeDataView.as_view(), name="me_data"),
    path("auth/me/addresses/", views.AddressListView.as_view(), name="address_list"),
    path("auth/me/addresses/<int:pk>/", views.AddressDetailView.as_view(), name="address_detail"),
    path("address-rules/<str:country>/", views.AddressRulesView.as_view(), name="address_rules"),
]
