"""Cart API. A guest's cart is named by its token (X-Cart-Token, given out with the first
item); a signed-in shopper (JWT) has their own cart, and a guest token sent with a signed-in
request merges that guest cart into theirs once. Thin: validate, call one service, answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import error_responses
from api.throttling import ScopedRateThrottle
from cart.models import Cart
from cart.selectors import CartView, cart_has_line, cart_view
from cart.services import cart_add, cart_for_api, cart_remove_line, cart_set_quantity

from .serializers import (
    CartItemAddInputSerializer,
    CartItemUpdateInputSerializer,
    CartSerializer,
    CartValidationSerializer,
)

CART_TOKEN_HEADER = "X-Cart-Token"
# What cart.models.new_cart_token makes (URL-safe base64); anything else names no cart.
CART_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")

CART_TOKEN_PARAMETER = OpenApiParameter(
    CART_TOKEN_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="A guest cart's token (from an earlier response's X-Cart-Token header or `token`). "
    "Sent with a signed-in request, that guest cart is merged into the user's cart.",
)


def cart_token(request) -> str:
    token = request.headers.get(CART_TOKEN_HEADER, "")
    return token if CART_TOKEN.fullmatch(token) else ""


def request_cart(request, *, create: bool = False) -> tuple[Cart | None, list[str]]:
    """The caller's cart (and the notes of a guest-cart merge): see cart.services.cart_for_api."""
    return cart_for_api(user=request.user, token=cart_token(request), create=create)


@dataclass
class CartOut:
    view: CartView
    token: str | None
    notes: list[str] = field(default_factory=list)


def cart_response(cart: Cart | None, notes: list[str] | None = None, status_code: int = status.HTTP_200_OK) -> Response:
    guest_token = cart.token if cart is not None and cart.user_id is None else None
    response = Response(CartSerializer(CartOut(cart_view(cart), guest_token, notes or [])).data, status=status_code)
    if guest_token:
        response[CART_TOKEN_HEADER] = guest_token
    return response


class CartThrottled:
    """Cart endpoints: rate limited per client (scope "cart"; unlimited when no rate is set)."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "cart"


class CartDetailView(CartThrottled, APIView):
    @extend_schema(
        tags=["cart"],
        summary="The caller's cart: lines at today's prices, each checked against availability",
        description="Anonymous callers without a token get an empty cart (token null); a cart is made "
        "with the first item.",
        parameters=[CART_TOKEN_PARAMETER],
        responses={200: CartSerializer, **error_responses(401, 429)},
    )
    def get(self, request):
        cart, notes = request_cart(request)
        return cart_response(cart, notes)


class CartItemsView(CartThrottled, APIView):
    @extend_schema(
        tags=["cart"],
        summary="Add units of a variant (to its line if there is one)",
        description="Answers the whole cart; a guest's token comes in the X-Cart-Token header and `token`.",
        parameters=[CART_TOKEN_PARAMETER],
        request=CartItemAddInputSerializer,
        responses={201: CartSerializer, **error_responses(400, 401, 409, 429)},
    )
    def post(self, request):
        params = CartItemAddInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        cart, notes = request_cart(request, create=True)
        cart_add(cart=cart, **params.validated_data)
        return cart_response(cart, notes, status.HTTP_201_CREATED)


class CartItemView(CartThrottled, APIView):
    def _cart_with_line(self, request, line_id: int) -> tuple[Cart, list[str]]:
        cart, notes = request_cart(request)
        if not cart_has_line(cart, int(line_id)):
            raise Http404
        return cart, notes

    @extend_schema(
        tags=["cart"],
        summary="Set a line's quantity",
        parameters=[CART_TOKEN_PARAMETER],
        request=CartItemUpdateInputSerializer,
        responses={200: CartSerializer, **error_responses(400, 401, 404, 409, 429)},
    )
    def patch(self, request, line_id: str):
        params = CartItemUpdateInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        cart, notes = self._cart_with_line(request, line_id)
        cart_set_quantity(cart=cart, line_id=int(line_id), quantity=params.validated_data["quantity"])
        return cart_response(cart, notes)

    @extend_schema(
        tags=["cart"],
        summary="Remove a line",
        parameters=[CART_TOKEN_PARAMETER],
        responses={200: CartSerializer, **error_responses(401, 404, 409, 429)},
    )
    def delete(self, request, line_id: str):
        cart, notes = self._cart_with_line(request, line_id)
        cart_remove_line(cart=cart, line_id=int(line_id))
        return cart_response(cart, notes)


class CartValidateView(CartThrottled, APIView):
    @extend_schema(
        tags=["cart"],
        summary="Check every line against stock and today's price",
        parameters=[CART_TOKEN_PARAMETER],
        request=None,
        responses={200: CartValidationSerializer, **error_responses(401, 429)},
    )
    def post(self, request):
        cart, _notes = request_cart(request)
        view = cart_view(cart)
        body = CartValidationSerializer({"valid": not view.has_problems, "lines": view.lines}).data
        response = Response(body)
        if cart is not None and cart.user_id is None:
            response[CART_TOKEN_HEADER] = cart.token
        return response
