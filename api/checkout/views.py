"""Checkout API. A checkout belongs to the signed-in user who opened it, or (a guest's) to
the holder of its cart's token (X-Cart-Token); to everyone else it does not exist (404).
Thin: validate, call one service or selector, answer."""

from __future__ import annotations

from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.cart.views import CART_TOKEN_PARAMETER, cart_token, request_cart
from api.errors import ErrorSerializer, error_body, error_responses
from api.throttling import ScopedRateThrottle
from cart.selectors import CartView
from checkout.exceptions import CheckoutChanged
from checkout.selectors import checkout_session_for, checkout_session_summary
from checkout.services import checkout_session_place_order, checkout_session_start, checkout_session_update
from orders.models import Shipment

from .serializers import (
    CheckoutSerializer,
    CheckoutUpdateInputSerializer,
    PlacedOrderSerializer,
    PlaceOrderInputSerializer,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="1 to 64 printable ASCII characters, new for each order the client means to place, "
    "scoped to the checkout. Once an order is placed the key is bound to that request (the checkout "
    "and the `fingerprint` sent): the same key with the same body returns the same order (200, same "
    "body) and never places a second one; the same key with a different body (e.g. the new fingerprint "
    "after the cart changed) is refused with 422 `idempotency_key_reused` and changes nothing. A request "
    "refused before an order was placed (4xx such as `checkout_changed`) binds nothing: the key may be "
    "sent again with the new fingerprint.",
)


def idempotency_key(request) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    if not (1 <= len(key) <= 64 and all(" " <= char <= "~" for char in key)):
        raise serializers.ValidationError(
            {IDEMPOTENCY_HEADER: [_("Required: 1 to 64 printable ASCII characters, one per order placed.")]}
        )
    return key


def visible_checkout(request, checkout_id):
    checkout = checkout_session_for(public_id=checkout_id, user=request.user, cart_token=cart_token(request))
    if checkout is None:
        raise Http404
    return checkout


def checkout_body(checkout, *, cart: CartView | None = None) -> dict:
    return CheckoutSerializer(checkout_session_summary(checkout, cart=cart)).data


class CheckoutThrottled:
    """Checkout endpoints: rate limited per client (scope "checkout"; unlimited when no rate is set)."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "checkout"


class CheckoutStartView(CheckoutThrottled, APIView):
    @extend_schema(
        tags=["checkout"],
        summary="Open a checkout of the caller's cart",
        parameters=[CART_TOKEN_PARAMETER],
        request=None,
        responses={201: CheckoutSerializer, **error_responses(400, 401, 429)},
    )
    def post(self, request):
        cart, _notes = request_cart(request)
        checkout = checkout_session_start(cart=cart, user=request.user)
        return Response(checkout_body(checkout), status=status.HTTP_201_CREATED)


class CheckoutDetailView(CheckoutThrottled, APIView):
    @extend_schema(
        tags=["checkout"],
        summary="The checkout priced now: lines with tax, totals, shipping methods, fingerprint",
        parameters=[CART_TOKEN_PARAMETER],
        responses={200: CheckoutSerializer, **error_responses(401, 404, 429)},
    )
    def get(self, request, checkout_id):
        return Response(checkout_body(visible_checkout(request, checkout_id)))

    @extend_schema(
        tags=["checkout"],
        summary="Set email, shipping address, shipping method or voucher code",
        description="Validated by the same rules as the web checkout form. Answers the checkout priced anew.",
        parameters=[CART_TOKEN_PARAMETER],
        request=CheckoutUpdateInputSerializer,
        responses={200: CheckoutSerializer, **error_responses(400, 401, 404, 409, 429)},
    )
    def patch(self, request, checkout_id):
        checkout = visible_checkout(request, checkout_id)
        params = CheckoutUpdateInputSerializer(data=request.data, context={"checkout": checkout})
        params.is_valid(raise_exception=True)
        checkout = checkout_session_update(checkout=checkout, **params.validated_data)
        return Response(checkout_body(checkout, cart=params.cart_view))


class PlaceOrderView(CheckoutThrottled, APIView):
    @extend_schema(
        tags=["checkout"],
        summary="Place the order: reserve the stock, create the order pending payment",
        description="201 with the order when placed; the same Idempotency-Key with the same body again "
        "answers 200 with the same body. 422 `idempotency_key_reused`: the key placed an order for a "
        "different body; nothing was done (docs.stripe.com/idempotency). 409: `insufficient_stock` (with "
        "`lines`), `stock_busy` (Retry-After), `checkout_changed` (with the new `checkout`: review it and "
        "send its fingerprint), voucher or shipping problems. 400: `invalid`, `cart_empty`, "
        "`checkout_incomplete`.",
        parameters=[CART_TOKEN_PARAMETER, IDEMPOTENCY_PARAMETER],
        request=PlaceOrderInputSerializer,
        responses={
            201: PlacedOrderSerializer,
            200: OpenApiResponse(PlacedOrderSerializer, description="The order this key placed before for this body."),
            **error_responses(400, 401, 404, 409, 429),
            (422, "application/json"): OpenApiResponse(
                ErrorSerializer,
                description="`idempotency_key_reused`: the Idempotency-Key already placed an order for a "
                "different request (another fingerprint); nothing was done. Use a new key.",
            ),
        },
    )
    def post(self, request, checkout_id):
        checkout = visible_checkout(request, checkout_id)
        key = idempotency_key(request)
        params = PlaceOrderInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            order, created = checkout_session_place_order(
                checkout=checkout,
                idempotency_key=key,
                reviewed_fingerprint=params.validated_data["fingerprint"],
                user=request.user,
            )
        except CheckoutChanged as exc:
            # The client needs the new figures to show and confirm again: they come with the error.
            body = error_body(exc.code, exc.message, checkout=checkout_body(checkout))
            return Response(body, status=status.HTTP_409_CONFLICT)
        if created:
            # An order placed just now has no shipments: nothing to read (one query saved).
            prefetch_related_objects([order], Prefetch("shipments", queryset=Shipment.objects.none()))
        return Response(
            PlacedOrderSerializer({"order": order}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
