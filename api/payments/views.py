"""Payments API: start paying an order (what a native SDK needs), verify Razorpay's signed
callback, cancel an order (refunding what was paid). An order is reached as in the orders API:
its owner, or a guest with X-Order-Token; everyone else gets 404. Thin: validate, call one
service, answer."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import error_responses
from api.orders.views import ORDER_TOKEN_PARAMETER, _visible_order
from kernel.auth import user_or_none
from orders.models import NOTE_CANCELLED_BY_CUSTOMER
from payments.gateways import InvalidSignature, get_gateway
from payments.gateways.base import ReturnUrls
from payments.selectors import payment_for_provider_order
from payments.services import order_cancel_and_refund, payment_apply, payment_start

from .serializers import (
    OrderCancelInputSerializer,
    OrderCancelSerializer,
    PaymentResultSerializer,
    PaymentStartInputSerializer,
    PaymentStartSerializer,
    RazorpayVerifyInputSerializer,
)

RAZORPAY = "razorpay"


class InvalidSignatureError(APIException):
    status_code = 400
    default_code = "invalid_signature"
    default_detail = _("We could not verify that payment.")


class PaymentStartView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["payments"],
        summary="Start (or resume) paying an order through a gateway",
        parameters=[ORDER_TOKEN_PARAMETER],
        request=PaymentStartInputSerializer,
        responses={201: PaymentStartSerializer, **error_responses(400, 401, 404, 502)},
    )
    def post(self, request, number: str):
        order = _visible_order(request, number, details=False)  # its lines (a gateway may list them)
        params = PaymentStartInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        payment, action = payment_start(
            order=order, gateway=params.validated_data["gateway"], urls=ReturnUrls.from_request(request)
        )
        body = {"payment_reference": payment.reference, "gateway": payment.gateway}
        razorpay = action.context.get("razorpay")
        if razorpay:
            body.update(
                razorpay_order_id=razorpay["order_id"],
                key_id=razorpay["key_id"],
                amount=razorpay["amount"],
                currency=razorpay["currency"],
            )
        else:
            body["redirect_url"] = request.build_absolute_uri(action.redirect_url)
        return Response(PaymentStartSerializer(body).data, status=201)


class RazorpayVerifyView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["payments"],
        summary="Verify Razorpay Checkout's signed result and apply it to the payment",
        description="The payment's state comes from Razorpay's API, not from the client: a payment not "
        "captured yet stays pending (the webhook settles it). 400 `invalid_signature` when the "
        "signature does not verify or the Razorpay order is not one of ours.",
        request=RazorpayVerifyInputSerializer,
        responses={200: PaymentResultSerializer, **error_responses(400, 401, 409, 502)},
    )
    def post(self, request):
        params = RazorpayVerifyInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        payment = payment_for_provider_order(
            gateway=RAZORPAY, provider_order_id=params.validated_data["razorpay_order_id"]
        )
        if payment is None:
            raise InvalidSignatureError()
        try:
            info = get_gateway(RAZORPAY).verify_callback(payment, params.validated_data)
        except InvalidSignature as exc:
            raise InvalidSignatureError() from exc
        payment = payment_apply(gateway=RAZORPAY, info=info)
        payment.refresh_from_db()
        return Response(PaymentResultSerializer(payment).data)


class OrderCancelView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["orders"],
        summary="Cancel an order (refunding what was paid); cancelling twice is harmless",
        description="409 `order_state` when it cannot be cancelled any more (shipped, refunded, expired…).",
        parameters=[ORDER_TOKEN_PARAMETER],
        request=OrderCancelInputSerializer,
        responses={200: OrderCancelSerializer, **error_responses(400, 401, 404, 409)},
    )
    def post(self, request, number: str):
        order = _visible_order(request, number)
        params = OrderCancelInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        cancellation = order_cancel_and_refund(
            order=order,
            actor=user_or_none(request.user),
            reason=params.validated_data["reason"],
            reason_code=NOTE_CANCELLED_BY_CUSTOMER,
        )
        order = _visible_order(request, number)  # re-read with its events
        body = {"order": order, "refunded": cancellation.refunded, "refund_failed": bool(cancellation.refund_errors)}
        return Response(OrderCancelSerializer(body).data)
