"""Account pages. Sign-in, sign-out and password reset are Django's own views, configured in
urls.py; only sign-up needs a view of its own."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import RedirectURLMixin
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET
from django.views.generic import CreateView

from config.transactions import after_commit

from .forms import DUPLICATE_EMAIL_ERROR, SignUpForm
from .services import AccountError, email_verify
from .tasks import send_welcome_email

WELCOME_MESSAGE = "Welcome! Your account is ready and you are logged in."


@method_decorator([sensitive_post_parameters("password1", "password2"), never_cache], name="dispatch")
class SignUpView(RedirectURLMixin, CreateView):
    """Create an account, sign the new user in, and send them on to a safe ?next= or home.

    Signing in goes through django.contrib.auth.login so that user_logged_in fires and the
    guest cart is merged (cart/receivers.py)."""

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
