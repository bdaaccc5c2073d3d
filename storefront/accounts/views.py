"""Account pages. Sign-in, sign-out and password reset are Django's own views, configured in
urls.py; sign-up, email verification, the account page, the data download and account
deletion are here. The data download and the deletion call checkout.privacy, the flow that
spans the apps."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import RedirectURLMixin
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET
from django.views.generic import CreateView, FormView

from accounts.services import DUPLICATE_EMAIL_ERROR, AccountError, email_verify
from accounts.tasks import send_welcome_email
from checkout.privacy import customer_data, customer_delete_own
from kernel.http import json_attachment
from kernel.transactions import after_commit
from orders.privacy import OrdersInProgress, orders_in_progress

from .forms import AccountDeleteForm, SignUpForm

WELCOME_MESSAGE = "Welcome! Your account is ready and you are logged in."
ACCOUNT_DELETED_MESSAGE = "Your account has been deleted. Thank you for shopping with us."


@method_decorator([sensitive_post_parameters("password1", "password2"), never_cache], name="dispatch")
class SignUpView(RedirectURLMixin, CreateView):
    """Create an account, sign the new user in, and send them on to a safe ?next= or home.

    Signing in goes through django.contrib.auth.login so that user_logged_in fires and the
    guest cart is merged (storefront/receivers.py)."""

    form_class = SignUpForm
    template_name = "accounts/signup.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return HttpResponseRedirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            # The form checked the email is free, but a concurrent sign-up with the same
            # address can still win the race to the unique index: report it as the same
            # form error instead of a 500.
            with transaction.atomic():
                user = form.save()
                # Sent once the account has committed; robust: a mail server that is down
                # (tasks run in this process when there is no broker) must not fail the sign-up.
                after_commit(send_welcome_email.delay, user.pk)
        except IntegrityError:
            form.add_error("email", DUPLICATE_EMAIL_ERROR)
            return self.form_invalid(form)
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(self.request, WELCOME_MESSAGE)
        return HttpResponseRedirect(self.get_success_url())

    def get_default_redirect_url(self):
        # Read at request time, like LoginView, so override_settings and tests see changes.
        return resolve_url(settings.LOGIN_REDIRECT_URL)

    def get_context_data(self, **kwargs):
        # Carry ?next= through the form, the way LoginView does.
        context = super().get_context_data(**kwargs)
        context[self.redirect_field_name] = self.get_redirect_url()
        return context


@require_GET
@never_cache
def verify_email(request, token: str):
    """The link in the welcome email. Opening it is the proof, so it needs no login (the
    shopper may read their mail on another device); a bad or expired link says which."""
    try:
        user = email_verify(token=token)
    except AccountError as exc:
        return render(request, "accounts/verify_email.html", {"error": exc.message, "code": exc.code}, status=400)
    return render(request, "accounts/verify_email.html", {"verified_email": user.email})


@require_GET
@never_cache
@login_required
def account(request):
    """The signed-in customer's account: links to orders, the data download, a new password
    and deleting the account."""
    return render(request, "accounts/account.html")


@require_GET
@never_cache
@login_required
def data_download(request):
    """Everything the shop holds about the signed-in customer, downloaded as a JSON file
    (checkout.privacy.customer_data; the same as GET /api/v1/auth/me/data/)."""
    filename = f"account-data-{timezone.localdate():%Y-%m-%d}.json"
    return json_attachment(customer_data(user=request.user), filename=filename)


@method_decorator([sensitive_post_parameters("password"), never_cache, login_required], name="dispatch")
class AccountDeleteView(FormView):
    """GET says what deleting the account removes and keeps (and which orders stop it, if
    any); POST with the current password and the confirmation box deletes it and signs the
    browser out."""

    form_class = AccountDeleteForm
    template_name = "accounts/delete.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["orders_in_progress"] = orders_in_progress(user=self.request.user)
        return context

    def form_valid(self, form):
        try:
            customer_delete_own(user=self.request.user, password=form.cleaned_data["password"])
        except AccountError as exc:
            form.add_error(exc.field or None, exc.message)
            return self.form_invalid(form)
        except OrdersInProgress as exc:
            form.add_error(None, exc.message)
            return self.form_invalid(form)
        # The account is gone; this ends the browser's session too (its other sessions are
        # signed out already and removed by a task).
        logout(self.request)
        messages.success(self.request, ACCOUNT_DELETED_MESSAGE)
        return redirect(settings.LOGOUT_REDIRECT_URL)
