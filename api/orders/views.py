"""Orders API. An order is visible to its owner, or to a guest sending its access token in
X-Order-Token; to everyone else it does not exist (404), so numbers cannot be probed."""

import re

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import error_responses
from orders import selectors
from orders.credit_notes import credit_note_generate, credit_note_of
from orders.invoices import invoice_generate

from .serializers import OrderDetailSerializer, OrderListItemSerializer

ORDER_TOKEN_HEADER = "X-Order-Token"
# What orders.models.new_access_token makes (URL-safe base64); anything else opens nothing.
ORDER_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class OrderListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = OrderListItemSerializer

    def get_queryset(self):
        return selectors.orders_for_user(self.request.user)

    @extend_schema(
        tags=["orders"],
        summary="The signed-in shopper's orders, newest first",
        responses={200: OrderListItemSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _visible_order(request, number: str, *, details: bool = True):
    """The order if the request may see it (owner, or guest with the token), else Http404.
    details=False: with its lines only, not its events and shipments (orders.selectors)."""
    order = None
    if request.user.is_authenticated:
        order = selectors.order_for_user(user=request.user, number=number, details=details)
    token = request.headers.get(ORDER_TOKEN_HEADER, "")
    if order is None and ORDER_TOKEN.fullmatch(token):
        order = selectors.order_for_token(number=number, token=token, details=details)
    if order is None:
        raise Http404
    return order


ORDER_TOKEN_PARAMETER = OpenApiParameter(
    ORDER_TOKEN_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="A guest order's access token (from the order confirmation).",
)


class PDFRenderer(BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class OrderDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["orders"],
        summary="One order: the owner's, or a guest's with its access token",
        parameters=[ORDER_TOKEN_PARAMETER],
        responses={200: OrderDetailSerializer, **error_responses(401, 404)},
    )
    def get(self, request, number: str):
        return Response(OrderDetailSerializer(_visible_order(request, number)).data)


class PDFDownloadView(APIView):
    """A document of an order as a PDF; errors are still answered in JSON (below)."""

    permission_classes = [AllowAny]
    # A client may ask for application/pdf.
    renderer_classes = [JSONRenderer, PDFRenderer]

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    def pdf(self, document) -> FileResponse:
        return FileResponse(
            document.pdf.open("rb"),
            as_attachment=True,
            filename=f"{document.number}.pdf",
            content_type="application/pdf",
        )


class OrderInvoiceView(PDFDownloadView):
    @extend_schema(
        tags=["orders"],
        summary="The order's invoice as a PDF (paid orders; issued on first download)",
        parameters=[ORDER_TOKEN_PARAMETER],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **error_responses(401, 404, 409)},
    )
    def get(self, request, number: str):
        return self.pdf(invoice_generate(order=_visible_order(request, number)))


class OrderCreditNoteView(PDFDownloadView):
    """A credit note of the order: for whoever may see the order (owner, or guest with
    X-Order-Token), 404 otherwise. Numbers are listed in the order's credit_notes."""

    @extend_schema(
        tags=["orders"],
        summary="A credit note of the order as a PDF (refunds, cancellation of a paid order)",
        parameters=[ORDER_TOKEN_PARAMETER],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **error_responses(401, 404)},
    )
    def get(self, request, number: str, credit_note: str):
        note = credit_note_of(order=_visible_order(request, number), number=credit_note)
        if note is None:
            raise Http404
        return self.pdf(credit_note_generate(credit_note=note))
