"""Razorpay faked at the HTTP boundary only: `responses` answers the SDK's requests to
https://api.razorpay.com/v1/… from a small in-memory Razorpay (orders, payment attempts,
refunds), and the tests sign callbacks and webhooks with Razorpay's real algorithms. Nothing
of ours is patched; any request the fake does not know fails as if the network were down."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
import responses
from django.test import Client
from django.urls import reverse

from orders.models import Order
from orders.services import order_create
from payments.gateways import GATEWAYS
from payments.gateways.razorpay import RazorpayGateway
from payments.models import Payment
from tests.orders.helpers import shipping_details, snapshot

KEY_ID = "rzp_test_1DP5mmOlF5G5ag"
KEY_SECRET = "thisIsOnlyATestKeySecret"
WEBHOOK_SECRET = "only-a-test-webhook-secret"
API = "https://api.razorpay.com/v1"


@pytest.fixture(autouse=True)
def razorpay_enabled(settings, monkeypatch):
    settings.PAYMENT_GATEWAYS = ["dummy", "razorpay"]
    settings.RAZORPAY_KEY_ID = KEY_ID
    settings.RAZORPAY_KEY_SECRET = KEY_SECRET
    settings.RAZORPAY_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.SITE_NAME = "Small Shop"
    # The registry imports the optional adapters together; until every one of them exists in
    # this checkout it may have skipped Razorpay. Registering it here is a no-op otherwise.
    if "razorpay" not in GATEWAYS:
        monkeypatch.setitem(GATEWAYS, "razorpay", RazorpayGateway)


def _sign(secret: str, message: str | bytes) -> str:
    if isinstance(message, str):
        message = message.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _error(status: int, code: str, description: str):
    return status, {}, json.dumps({"error": {"code": code, "description": description}})


class FakeRazorpay:
    """The part of Razorpay's API the shop uses, in memory, served through `responses`.

    Refunds deliberately ignore the X-Refund-Idempotency header (as on accounts where
    Razorpay does not offer idempotent refunds): the adapter must not rely on it alone.
    `lost_refund_answers = n`: the next n refund requests are carried out but their answer
    never arrives (requests' ReadTimeout).
    """

    def __init__(self, mock: responses.RequestsMock):
        self.mock = mock
        self.lock = threading.Lock()  # callbacks run in the request's thread
        self.orders: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.refund_status = "processed"  # or "pending": confirmed later by a webhook
        self.down = False  # every API call answers 503
        self.unreachable = False  # every API call fails to connect
        self.refuse_orders = ""  # a description: order creation answers 400
        self.lost_refund_answers = 0
        self._seq = itertools.count(1)
        pay = r"(pay_[A-Za-z0-9]+)"
        query = r"(?:\?.*)?$"
        mock.add_callback(responses.POST, f"{API}/orders", callback=self._create_order)
        mock.add_callback(
            responses.GET,
            re.compile(rf"{API}/orders/(order_[A-Za-z0-9]+)/payments{query}"),
            callback=self._order_payments,
        )
        mock.add_callback(responses.GET, re.compile(rf"{API}/payments/{pay}{query}"), callback=self._fetch_payment)
        mock.add_callback(
            responses.GET, re.compile(rf"{API}/payments/{pay}/refunds{query}"), callback=self._payment_refunds
        )
        mock.add_callback(
            responses.GET,
            re.compile(rf"{API}/payments/{pay}/refunds/(rfnd_[A-Za-z0-9]+){query}"),
            callback=self._fetch_refund,
        )
        mock.add_callback(responses.POST, re.compile(rf"{API}/payments/{pay}/refund$"), callback=self._create_refund)

    # -- what the tests look at ------------------------------------------------------------

    def calls(self, method: str, path: str) -> list:
        """Requests the shop made, e.g. calls("POST", "/orders"); `path` is a regex on the path."""
        pattern = re.compile(rf"^/v1{path}$")
        return [
            call.request
            for call in list(self.mock.calls)
            if call.request.method == method and pattern.match(call.request.path_url.split("?")[0])
        ]

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{uuid.uuid4().hex[:14]}{next(self._seq)}"

    # -- what a shopper and staff do at Razorpay ------------------------------------------------

    def pay(
        self,
        order_id: str,
        *,
        status: str = "captured",
        amount: int | None = None,
        currency: str | None = None,
        error_description: str | None = None,
    ) -> dict:
        """A payment attempt in Checkout.js on Razorpay Order `order_id`."""
        with self.lock:
            order = self.orders[order_id]
            entity = {
                "id": self._id("pay"),
                "entity": "payment",
                "amount": order["amount"] if amount is None else amount,
                "currency": currency or order["currency"],
                "status": status,
                "order_id": order_id,
                "method": "upi",
                "captured": status == "captured",
                "amount_refunded": 0,
                "refund_status": None,
                "description": order["receipt"],
                "email": "ada@example.com",
                "contact": "+919000090000",
                "notes": dict(order["notes"]),
                "error_code": "BAD_REQUEST_ERROR" if status == "failed" else None,
                "error_description": error_description if status == "failed" else None,
                "created_at": int(time.time()) + next(self._seq),
            }
            self.payments[entity["id"]] = entity
            order["attempts"] += 1
            if status == "captured":
                order["status"] = "paid"
                order["amount_paid"] = entity["amount"]
            else:
                order["status"] = "attempted"
            return dict(entity)

    def refund_in_dashboard(self, payment_id: str, amount: int, notes: dict | None = None) -> dict:
        """Staff refund a payment in Razorpay's dashboard (or a request whose answer got lost)."""
        with self.lock:
            return self._refund(payment_id, amount, notes or {}, receipt=None, status="processed")

    def _refund(self, payment_id: str, amount: int, notes: dict, *, receipt, status: str) -> dict:
        payment = self.payments[payment_id]
        entity = {
            "id": self._id("rfnd"),
            "entity": "refund",
            "amount": amount,
            "currency": payment["currency"],
            "payment_id": payment_id,
            "notes": notes or [],  # Razorpay sends empty notes as a list
            "receipt": receipt,
            "acquirer_data": {"arn": None},
            "created_at": int(time.time()),
            "batch_id": None,
            "status": status,
            "speed_processed": "normal",
            "speed_requested": "normal",
        }
        self.refunds[entity["id"]] = entity
        payment["amount_refunded"] += amount
        payment["refund_status"] = "full" if payment["amount_refunded"] >= payment["amount"] else "partial"
        if payment["refund_status"] == "full":
            payment["status"] = "refunded"
        return dict(entity)

    # -- what Razorpay signs ---------------------------------------------------------------------

    def callback_data(self, payment: dict, *, secret: str = KEY_SECRET, order_id: str | None = None) -> dict:
        """What Checkout.js hands our page after a successful payment."""
        order_id = order_id or payment["order_id"]
        return {
            "razorpay_payment_id": payment["id"],
            "razorpay_order_id": order_id,
            "razorpay_signature": _sign(secret, f"{order_id}|{payment['id']}"),
        }

    def event(self, name: str, *, payment: dict | None = None, refund: dict | None = None) -> bytes:
        """A webhook body as Razorpay sends it."""
        payload: dict = {}
        if refund is not None:
            payload["refund"] = {"entity": refund}
            payment = payment or self.payments[refund["payment_id"]]
        if payment is not None:
            payload["payment"] = {"entity": payment}
        if name == "order.paid":
            order = {k: v for k, v in self.orders[payment["order_id"]].items() if k != "attempts"}
            payload["order"] = {"entity": order}
        body = {
            "entity": "event",
            "account_id": "acc_BFQ7uQEaa7j2z7",
            "event": name,
            "contains": list(payload),
            "payload": payload,
            "created_at": int(time.time()),
        }
        return json.dumps(body).encode()

    @staticmethod
    def webhook_headers(body: bytes, *, secret: str = WEBHOOK_SECRET, event_id: str | None = "new") -> dict:
        headers = {"X-Razorpay-Signature": _sign(secret, body)}
        if event_id is not None:
            headers["X-Razorpay-Event-Id"] = uuid.uuid4().hex if event_id == "new" else event_id
        return headers

    # -- the API ---------------------------------------------------------------------------------

    def _refused(self, request):
        if self.unreachable:
            raise requests.ConnectionError("Failed to establish a new connection: [Errno 111] Connection refused")
        if self.down:
            return _error(503, "SERVER_ERROR", "Service unavailable")
        expected = "Basic " + base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return _error(401, "BAD_REQUEST_ERROR", "Authentication failed")
        return None

    def _create_order(self, request):
        if refused := self._refused(request):
            return refused
        if self.refuse_orders:
            return _error(400, "BAD_REQUEST_ERROR", self.refuse_orders)
        data = json.loads(request.body)
        with self.lock:
            order = {
                "id": self._id("order"),
                "entity": "order",
                "amount": data["amount"],
                "amount_paid": 0,
                "amount_due": data["amount"],
                "currency": data["currency"],
                "receipt": data.get("receipt"),
                "offer_id": None,
                "status": "created",
                "attempts": 0,
                "notes": data.get("notes") or [],
                "created_at": int(time.time()),
            }
            self.orders[order["id"]] = order
            return 200, {}, json.dumps(order)

    def _order_payments(self, request):
        if refused := self._refused(request):
            return refused
        order_id = re.search(r"/orders/([^/]+)/payments", request.path_url).group(1)
        with self.lock:
            if order_id not in self.orders:
                return _error(400, "BAD_REQUEST_ERROR", "The id provided does not exist")
            items = sorted(
                (p for p in self.payments.values() if p["order_id"] == order_id), key=lambda p: -p["created_at"]
            )
            return 200, {}, json.dumps({"entity": "collection", "count": len(items), "items": items})

    def _fetch_payment(self, request):
        if refused := self._refused(request):
            return refused
        payment_id = re.search(r"/payments/([^/?]+)", request.path_url).group(1)
        with self.lock:
            if payment_id not in self.payments:
                return _error(400, "BAD_REQUEST_ERROR", "The id provided does not exist")
            return 200, {}, json.dumps(self.payments[payment_id])

    def _payment_refunds(self, request):
        if refused := self._refused(request):
            return refused
        payment_id = re.search(r"/payments/([^/]+)/refunds", request.path_url).group(1)
        with self.lock:
            items = [r for r in self.refunds.values() if r["payment_id"] == payment_id]
            return 200, {}, json.dumps({"entity": "collection", "count": len(items), "items": items})

    def _fetch_refund(self, request):
        if refused := self._refused(request):
            return refused
        payment_id, refund_id = re.search(r"/payments/([^/]+)/refunds/([^/?]+)", request.path_url).groups()
        with self.lock:
            refund = self.refunds.get(refund_id)
            if refund is None or refund["payment_id"] != payment_id:
                return _error(400, "BAD_REQUEST_ERROR", "The id provided does not exist")
            return 200, {}, json.dumps(refund)

    def _create_refund(self, request):
        if refused := self._refused(request):
            return refused
        payment_id = re.search(r"/payments/([^/]+)/refund", request.path_url).group(1)
        data = json.loads(request.body)
        with self.lock:
            payment = self.payments.get(payment_id)
            if payment is None or payment["status"] not in ("captured", "refunded"):
                return _error(400, "BAD_REQUEST_ERROR", "The payment has not been captured")
            amount = int(data.get("amount", payment["amount"] - payment["amount_refunded"]))
            if amount > payment["amount"] - payment["amount_refunded"]:
                return _error(400, "BAD_REQUEST_ERROR", "The refund amount provided is greater than amount captured")
            entity = self._refund(
                payment_id, amount, data.get("notes") or {}, receipt=data.get("receipt"), status=self.refund_status
            )
            if self.lost_refund_answers:
                self.lost_refund_answers -= 1
                raise requests.exceptions.ReadTimeout(
                    "HTTPSConnectionPool(host='api.razorpay.com', port=443): Read timed out."
                )
            return 200, {}, json.dumps(entity)


@pytest.fixture
def razorpay_api():
    """The fake Razorpay. One RequestsMock, started here in the test's thread: it patches
    requests globally, so threads started by the test are answered by it too."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeRazorpay(mock)


# -- orders and pages ----------------------------------------------------------------------------


def inr_order(*variants_and_quantities, shipping=Decimal("49.00")) -> Order:
    """A pending_payment order in rupees holding the given units (reserved for 15 minutes)."""
    order, _ = order_create(
        checkout_token=uuid.uuid4().hex,
        lines=[snapshot(variant, quantity) for variant, quantity in variants_and_quantities],
        shipping=shipping_details(city="Bengaluru", postal_code="560001", country="IN", phone="+91 90000 90000"),
        shipping_method_name="Standard",
        shipping_price=shipping,
        currency="INR",
        reservation_ttl=timedelta(minutes=15),
    )
    return order


def choose_razorpay(client, order: Order):
    """The shopper picks Razorpay on the payment page; returns (response, Payment)."""
    response = client.post(reverse("payments:pay", args=[order.access_token]), {"gateway": "razorpay"})
    payment = Payment.objects.filter(order=order, gateway="razorpay").order_by("-created_at").first()
    return response, payment


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """Posts a webhook to /payments/webhooks/razorpay/ and runs what it queued on commit (the
    processing task, refunds, staff alerts), as the worker would after the 2xx."""

    def post(body: bytes, headers: dict):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                reverse("payments:webhook", args=["razorpay"]),
                data=body,
                content_type="application/json",
                headers=headers,
            )

    return post


@pytest.fixture
def callback(client, django_capture_on_commit_callbacks):
    """Posts what Checkout.js handed our page to payments:callback, as our page's form does."""

    def post(payment: Payment, data: dict):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("payments:callback", args=[payment.reference]), data)

    return post


def start_paying(client, *variants_and_quantities) -> tuple[Order, Payment]:
    """An INR order whose shopper chose Razorpay: the Razorpay Order exists, Checkout.js is open."""
    order = inr_order(*variants_and_quantities)
    response, payment = choose_razorpay(client, order)
    assert response.status_code == 200, response.content
    return order, payment


def checkout_in_browser(order: Order) -> tuple[Client, Payment, str]:
    """A shopper's browser that enforces CSRF, as a real one does: opens the payment page,
    chooses Razorpay with the page's token; returns (browser, payment, Checkout.js page)."""
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(f"/payments/order/{order.access_token}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    checkout = browser.post(
        f"/payments/order/{order.access_token}/", {"gateway": "razorpay", "csrfmiddlewaretoken": token}
    )
    return browser, Payment.objects.get(order=order), checkout.content.decode()


def page_form(page: str, form_id: str) -> tuple[str, str]:
    """The action and CSRF token of the form `form_id` on `page`."""
    form = re.search(
        rf'<form id="{form_id}" method="post" action="([^"]+)">\s*'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"',
        page,
    )
    return form.group(1), form.group(2)
