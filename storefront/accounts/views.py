"""Account pages. Sign-in, sign-out and password reset are Django's own views, configured in
urls.py; sign-up, email verification, the account area (its front page, the profile, the
password change, the address book, the privacy page), the data download and account
deletion are here. The data download and the deletion call checkout.privacy, the flow that
spans the apps."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import RedirectURLMixin
from django.contrib.messages.views import SuccessMessageMixin
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.generic import CreateView, FormView

from accounts import selectors, services
from accounts.services import (
    DUPLICATE_EMAIL_ERROR,
    AccountError,
    customer_invite_accepted,
    customer_invite_token,
    email_verify,
)
from accounts.tasks import send_welcome_email
from checkout.privacy import customer_data, customer_delete_own
from kernel.http import json_attachment
from kernel.transactions import after_commit
from orders.privacy import OrdersInProgress, orders_in_progress
from orders.selectors import orders_for_user
from orders.services import imported_orders_attach

from .forms import AccountDeleteForm, AddressBookForm, ProfileForm, SignUpForm

WELCOME_MESSAGE = _("Welcome! Your account is ready and you are logged in.")
ACCOUNT_DELETED_MESSAGE = _("Your account has been deleted. Thank you for shopping with us.")
PROFILE_SAVED_MESSAGE = _("Your profile is saved.")
EMAIL_CHANGED_MESSAGE = _("We have sent a link to %(email)s: please open it to confirm your new address.")
PASSWORD_CHANGED_MESSAGE = _("Your password is changed. Use the new one next time you log in.")
INVITE_ACCEPTED_MESSAGE = _("Your password is set and you are logged in. Welcome to %(shop)s!")
ADDRESS_ADDED_MESSAGE = _("The address is saved.")
ADDRESS_SAVED_MESSAGE = _("The address is updated.")
ADDRESS_DELETED_MESSAGE = _("The address is deleted.")
ADDRESS_DEFAULT_MESSAGE = _("That is now your default address.")
RECENT_ORDERS = 3


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
    imported_orders_attach(user=user)
    return render(request, "accounts/verify_email.html", {"verified_email": user.email})


@require_GET
@never_cache
@login_required
def account(request):
    """The account area's front page: the profile, the default address and the latest
    orders at a glance, each linking to its own page."""
    addresses = selectors.addresses_for_user(request.user)
    context = {
        "section": "account",
        "default_address": addresses.filter(is_default=True).first(),
        "address_count": addresses.count(),
        "recent_orders": orders_for_user(request.user)[:RECENT_ORDERS],
    }
    return render(request, "accounts/account.html", context)


@method_decorator([never_cache, login_required], name="dispatch")
class ProfileView(FormView):
    """Names, email and phone. A changed email follows sign-up's verification rules
    (accounts.services.user_email_change)."""

    form_class = ProfileForm
    template_name = "accounts/profile.html"
    success_url = reverse_lazy("accounts:profile")

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["user"] = self.request.user
        # Phone numbers typed nationally are read as the country of the default address.
        kwargs["region"] = selectors.phone_region_for_user(self.request.user)
        return kwargs

    def get_initial(self):
        user = self.request.user
        return {"first_name": user.first_name, "last_name": user.last_name, "email": user.email, "phone": user.phone}

    def get_context_data(self, **kwargs):
        return super().get_context_data(section="profile", **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            new_mailbox = services.user_profile_update(
                user=self.request.user,
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                phone=data["phone"] or "",
            )
        except AccountError as exc:
            form.add_error(exc.field or None, exc.message)
            return self.form_invalid(form)
        messages.success(self.request, PROFILE_SAVED_MESSAGE)
        if new_mailbox:
            messages.info(self.request, EMAIL_CHANGED_MESSAGE % {"email": self.request.user.email})
        return super().form_valid(form)


@method_decorator(sensitive_post_parameters("old_password", "new_password1", "new_password2"), name="dispatch")
class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    """Django's password change (login required, CSRF, never cached; it keeps this session
    signed in with update_session_auth_hash, and every other session of the account stops
    working). Limited like sign-in in ops.ratelimit: it checks the current password."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:account")
    success_message = PASSWORD_CHANGED_MESSAGE

    def get_context_data(self, **kwargs):
        return super().get_context_data(section="password", **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's, plus: the link came to the account's mailbox, so the imported orders placed
    as a guest with that email become the account's (orders.services.imported_orders_attach)."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        imported_orders_attach(user=form.user)
        return response


class CustomerInviteView(auth_views.PasswordResetConfirmView):
    """The link of an imported customer's invitation (invite_customers): Django's password
    reset confirmation (the token leaves the URL for the session before the form shows;
    sensitive POST data and never cached) with the invitation's token generator
    (accounts.services.CustomerInviteTokenGenerator: CUSTOMER_INVITE_DAYS, one use). Setting
    the password signs the customer in, verifies their email (the link came to it) and lands
    on the account page. A link expired or used shows a page offering a new one through the
    ordinary password reset (accounts.forms.PasswordResetForm mails imported customers too)."""

    template_name = "accounts/customer_invite.html"
    token_generator = customer_invite_token
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("accounts:account")

    def dispatch(self, request, *args, **kwargs):
        # The token seen, for the page saying why a link does not work (read before Django's
        # dispatch moves it to the session).
        token = kwargs.get("token")
        if token == self.reset_url_token:
            token = request.session.get(auth_views.INTERNAL_RESET_SESSION_TOKEN)
        self.token = token
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if not context["validlink"]:
            context["link_state"] = customer_invite_token.token_state(self.user, self.token)
            context["invite_days"] = settings.CUSTOMER_INVITE_DAYS
        return context

    def get_user(self, uidb64):
        # A disabled account's link does nothing (it could not sign in anyway).
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        response = super().form_valid(form)
        customer_invite_accepted(user=form.user)
        imported_orders_attach(user=form.user)
        messages.success(self.request, INVITE_ACCEPTED_MESSAGE % {"shop": settings.SITE_NAME})
        return response


@require_GET
@never_cache
@login_required
def privacy(request):
    """Your data: download it, or delete the account."""
    return render(request, "accounts/privacy.html", {"section": "privacy"})


# -- the address book ----------------------------------------------------------------------


def _own_address(request, pk: int):
    # Someone else's address is as absent as one that does not exist.
    address = selectors.address_for_user(user=request.user, pk=pk)
    if address is None:
        raise Http404("No such address")
    return address


@require_GET
@never_cache
@login_required
def address_list(request):
    addresses = selectors.addresses_for_user(request.user)
    return render(request, "accounts/addresses.html", {"section": "addresses", "addresses": addresses})


@require_http_methods(["GET", "POST"])
@never_cache
@login_required
def address_add(request):
    form = AddressBookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.address_create(user=request.user, **form.cleaned_data)
        messages.success(request, ADDRESS_ADDED_MESSAGE)
        return redirect("accounts:addresses")
    return render(request, "accounts/address_form.html", {"section": "addresses", "form": form, "address": None})


@require_http_methods(["GET", "POST"])
@never_cache
@login_required
def address_edit(request, pk: int):
    address = _own_address(request, pk)
    form = AddressBookForm(request.POST or None, instance=address, initial={"is_default": address.is_default})
    if address.is_default:
        # There is always a default while any address exists: another one takes over when
        # it is made the default, or when this one is deleted.
        del form.fields["is_default"]
    if request.method == "POST" and form.is_valid():
        services.address_update(address=address, **form.cleaned_data)
        messages.success(request, ADDRESS_SAVED_MESSAGE)
        return redirect("accounts:addresses")
    return render(request, "accounts/address_form.html", {"section": "addresses", "form": form, "address": address})


@require_http_methods(["GET", "POST"])
@never_cache
@login_required
def address_delete(request, pk: int):
    """GET asks to confirm; POST deletes (if it was the default, the oldest other address
    takes over: accounts.services.address_delete)."""
    address = _own_address(request, pk)
    if request.method == "POST":
        services.address_delete(address=address)
        messages.success(request, ADDRESS_DELETED_MESSAGE)
        return redirect("accounts:addresses")
    return render(request, "accounts/address_delete.html", {"section": "addresses", "address": address})


@require_POST
@login_required
def address_make_default(request, pk: int):
    services.address_update(address=_own_address(request, pk), is_default=True)
    messages.success(request, ADDRESS_DEFAULT_MESSAGE)
    return redirect("accounts:addresses")


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
        context = super().get_context_data(section="privacy", **kwargs)
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
