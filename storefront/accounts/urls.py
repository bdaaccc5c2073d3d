"""Account URLs. Sign-in, sign-out and password reset are Django's auth views, pointed at our
templates and at the namespaced URL names (Django's defaults are un-namespaced); sign-up,
email verification, the account area, the data download and deletion are ours (views.py;
the password change is Django's view with our template and message)."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts.forms import PasswordResetForm

from .forms import EmailAuthenticationForm
from .views import (
    AccountDeleteView,
    CustomerInviteView,
    PasswordChangeView,
    PasswordResetConfirmView,
    ProfileView,
    SignUpView,
    account,
    address_add,
    address_delete,
    address_edit,
    address_list,
    address_make_default,
    data_download,
    privacy,
    verify_email,
)

app_name = "accounts"

urlpatterns = [
    path("", account, name="account"),
    path("profile/", ProfileView.as_view(), name="profile"),
    # Rate limited like sign-in (ops.ratelimit.AUTH_VIEWS): it checks the current password.
    path("password/change/", PasswordChangeView.as_view(), name="password_change"),
    path("addresses/", address_list, name="addresses"),
    path("addresses/add/", address_add, name="address_add"),
    path("addresses/<int:pk>/edit/", address_edit, name="address_edit"),
    path("addresses/<int:pk>/delete/", address_delete, name="address_delete"),
    path("addresses/<int:pk>/default/", address_make_default, name="address_default"),
    path("privacy/", privacy, name="privacy"),
    path("data/", data_download, name="data"),
    path("delete/", AccountDeleteView.as_view(), name="delete"),
    path("signup/", SignUpView.as_view(), name="signup"),
    path("verify/<str:token>/", verify_email, name="verify_email"),
    # An imported customer's invitation to choose a password (invite_customers).
    path("welcome/<uidb64>/<token>/", CustomerInviteView.as_view(), name="customer_invite"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            form_class=EmailAuthenticationForm,
            template_name="accounts/login.html",
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    # POST only (Django 5's LogoutView); redirects to LOGOUT_REDIRECT_URL.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            form_class=PasswordResetForm,  # imported customers without a password too
            template_name="accounts/password_reset_form.html",
            subject_template_name="accounts/password_reset_subject.txt",
            email_template_name="accounts/password_reset_email.txt",
            success_url=reverse_lazy("accounts:password_reset_done"),
            extra_email_context={"shop_name": settings.SITE_NAME},
            # from_email left as None: the message uses settings.DEFAULT_FROM_EMAIL at send time.
        ),
        name="password_reset",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/confirm/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
]
