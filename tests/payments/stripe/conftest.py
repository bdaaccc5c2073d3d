"""Stripe faked at the HTTP boundary: `responses` intercepts the SDK's requests to
api.stripe.com and answers with JSON shaped like Stripe's API reference, keeping the state of
the sessions it created; webhooks are signed with the SDK's own helper over the raw body.
Nothing of ours is patched. Any other HTTP request fails (responses refuses unknown URLs)."""

from __future__ import annotations

import copy
import itertools
import json
import re
import time
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
import requests
import responses
import stripe

from payments.models import Payment
from tests.factories import stocked_variant
from tests.orders.helpers import place_order

SECRET_KEY = "sk_test_51NzExampleKey0123456789abcdefABCDEF"
WEBHOOK_SECRET = "whsec_TestSigningSecret0123456789abcdef"
API = "https://api.stripe.com"
WEBHOOK_URL = "/payments/webhooks/stripe/"
API_VERSION = "2025-03-31.basil"

_ids = itertools.count(1)


def stripe_id(prefix: str) -> str:
    return f"{prefix}_test_{next(_ids):06d}a1B2c3D4e5F6g7H8"


def form(request) -> dict[str, str]:
    """The SDK's form-encoded request body as a flat dict: {"line_items[0][quantity]": "2", …}."""
    body = request.body or ""
    if isinstance(body, bytes):
        body = body.decode()
    return dict(parse_qsl(body, keep_blank_values=True))


def nested(fields: dict[str, str], prefix: str) -> dict[str, str]:
    """{"metadata[a]": "1"} → {"a": "1"} for prefix "metadata"."""
    return {
        key[len(prefix) + 1 : -1]: value
        for key, value in fields.items()
        if key.startswith(prefix + "[") and key.count("[") == prefix.count("[") + 1
    }


def line_items(fields: dict[str, str]) -> list[dict[str, object]]:
    items = []
    for index in itertools.count():
        key = f"line_items[{index}]"
        if f"{key}[quantity]" not in fields:
            return items
        items.append(
            {
                "name": fields[f"{key}[price_data][product_data][name]"],
                "currency": fields[f"{key}[price_data][currency]"],
                "unit_amount": int(fields[f"{key}[price_data][unit_amount]"]),
                "quantity": int(fields[f"{key}[quantity]"]),
            }
        )


def error(status: int, type_: str, message: str, code: str | None = None, param: str | None = None):
    body = {"error": {"type": type_, "message": message, "code": code, "param": param}}
    return status, {"Request-Id": "req_test_fake"}, json.dumps(body)


class FakeStripe:
    """The part of Stripe's API the gateway uses, over HTTP, with its state:
    POST /v1/checkout/sessions, GET /v1/checkout/sessions/<id> (expand[]=payment_intent),
    POST /v1/refunds, GET /v1/refunds?payment_intent=<id>, GET /v1/refunds/<id>. Like Stripe,
    a repeated Idempotency-Key with the same parameters replays the first answer, and with
    other parameters is refused.

    `lost_refund_answers = n`: the next n POST /v1/refunds are carried out (the first makes
    the refund, repeats of its key replay it) but their answer never arrives: the request
    times out on the way back, as requests' ReadTimeout.
    `refund_lookups_unreachable = True`: every GET /v1/refunds/<id> fails to connect."""

    def __init__(self, mock: responses.RequestsMock):
        self.mock = mock
        self.sessions: dict[str, dict] = {}
        self.intents: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.replays: dict[str, tuple[dict, tuple]] = {}
        self.queued_errors: list[tuple] = []
        self.refund_status = "succeeded"
        self.lost_refund_answers = 0
        self.refund_lookups_unreachable = False
        mock.add_callback(
            "POST", f"{API}/v1/checkout/sessions", callback=self._create_session, content_type="application/json"
        )
        mock.add_callback(
            "GET",
            re.compile(rf"{re.escape(API)}/v1/checkout/sessions/[^/?]+"),
            callback=self._retrieve_session,
            content_type="application/json",
        )
        mock.add_callback("POST", f"{API}/v1/refunds", callback=self._create_refund, content_type="application/json")
        mock.add_callback(
            "GET",
            re.compile(rf"{re.escape(API)}/v1/refunds(\?.*)?$"),
            callback=self._list_refunds,
            content_type="application/json",
        )
        mock.add_callback(
            "GET",
            re.compile(rf"{re.escape(API)}/v1/refunds/[^/?]+$"),
            callback=self._retrieve_refund,
            content_type="application/json",
        )

    # -- what the shop sent ------------------------------------------------------------------

    def calls(self, method: str, path: str) -> list:
        return [
            c.request
            for c in self.mock.calls
            if c.request.method == method and c.request.path_url.split("?")[0] == path
        ]

    def session_creates(self) -> list:
        return self.calls("POST", "/v1/checkout/sessions")

    def refund_creates(self) -> list:
        return self.calls("POST", "/v1/refunds")

    def retrieves(self) -> list:
        return [
            c.request
            for c in self.mock.calls
            if c.request.method == "GET" and "/v1/checkout/sessions/" in c.request.url
        ]

    def fail_next(
        self,
        status: int = 500,
        type_: str = "api_error",
        message: str = "Something went wrong on Stripe's end.",
        code: str | None = None,
    ):
        """The next API call is answered with this error (once)."""
        self.queued_errors.append(error(status, type_, message, code))

    # -- the API -----------------------------------------------------------------------------

    def _idempotent(self, request, make):
        if self.queued_errors:
            return self.queued_errors.pop(0)
        fields = form(request)
        key = request.headers.get("Idempotency-Key")
        if key in self.replays:
            first_fields, answer = self.replays[key]
            if first_fields != fields:
                return error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                )
            return answer
        answer = make(fields)
        if key:
            self.replays[key] = (fields, answer)
        return answer

    def _create_session(self, request):
        def make(fields):
            items = line_items(fields)
            total = sum(item["unit_amount"] * item["quantity"] for item in items)
            session_id = stripe_id("cs")
            session = {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": total,
                "amount_total": total,
                "cancel_url": fields["cancel_url"],
                "client_reference_id": fields.get("client_reference_id"),
                "created": int(time.time()),
                "currency": items[0]["currency"],
                "customer": None,
                "customer_details": None,
                "customer_email": fields.get("customer_email"),
                "expires_at": int(fields["expires_at"]),
                "livemode": False,
                "metadata": nested(fields, "metadata"),
                "mode": fields["mode"],
                "payment_intent": None,
                "payment_method_types": ["card"],
                "payment_status": "unpaid",
                "status": "open",
                "success_url": fields["success_url"],
                "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
                "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
                "_intent_metadata": nested(fields, "payment_intent_data[metadata]"),
            }
            self.sessions[session_id] = session
            return 200, {"Request-Id": "req_test_fake"}, json.dumps(self._public(session))

        return self._idempotent(request, make)

    def _retrieve_session(self, request):
        session_id = request.path_url.split("?")[0].rsplit("/", 1)[-1]
        session = self.sessions.get(session_id)
        if session is None:
            return error(
                404, "invalid_request_error", f"No such checkout.session: '{session_id}'", "resource_missing", "session"
            )
        body = self._public(session)
        if "expand[0]" in request.url or "expand%5B0%5D" in request.url:
            body["payment_intent"] = (
                copy.deepcopy(self.intents.get(session["payment_intent"])) if session["payment_intent"] else None
            )
        return 200, {"Request-Id": "req_test_fake"}, json.dumps(body)

    def _create_refund(self, request):
        def make(fields):
            intent = self.intents.get(fields["payment_intent"])
            if intent is None:
                return error(
                    404,
                    "invalid_request_error",
                    f"No such payment_intent: '{fields['payment_intent']}'",
                    "resource_missing",
                    "payment_intent",
                )
            refund = self.refund_object(
                intent["id"],
                int(fields.get("amount") or intent["amount"]),
                status=self.refund_status,
                metadata=nested(fields, "metadata"),
            )
            return 200, {"Request-Id": "req_test_fake"}, json.dumps(refund)

        answer = self._idempotent(request, make)
        if self.lost_refund_answers:
            self.lost_refund_answers -= 1
            raise requests.exceptions.ReadTimeout(
                "HTTPSConnectionPool(host='api.stripe.com', port=443): Read timed out."
            )
        return answer

    def _list_refunds(self, request):
        query = dict(parse_qsl(request.url.split("?", 1)[1] if "?" in request.url else ""))
        made = [r for r in self.refunds.values() if r["payment_intent"] == query.get("payment_intent")]
        made.sort(key=lambda r: r["created"], reverse=True)
        body = {"object": "list", "data": copy.deepcopy(made), "has_more": False, "url": "/v1/refunds"}
        return 200, {"Request-Id": "req_test_fake"}, json.dumps(body)

    def _retrieve_refund(self, request):
        if self.refund_lookups_unreachable:
            raise requests.ConnectionError("Failed to establish a new connection: [Errno 111] Connection refused")
        refund_id = request.path_url.rsplit("/", 1)[-1]
        refund = self.refunds.get(refund_id)
        if refund is None:
            return error(404, "invalid_request_error", f"No such refund: '{refund_id}'", "resource_missing", "id")
        return 200, {"Request-Id": "req_test_fake"}, json.dumps(refund)

    def refund_lookups(self) -> list:
        """Every GET /v1/refunds/<id> the shop sent."""
        return [
            c.request
            for c in self.mock.calls
            if c.request.method == "GET" and re.search(r"/v1/refunds/[^/?]+$", c.request.path_url)
        ]

    def refund_keys(self) -> list[str]:
        """The Idempotency-Key of every POST /v1/refunds the shop sent, in order."""
        return [request.headers.get("Idempotency-Key") for request in self.refund_creates()]

    # -- Stripe-side happenings (the shopper on the hosted page, time passing) ---------------

    @staticmethod
    def _public(session: dict) -> dict:
        return {k: copy.deepcopy(v) for k, v in session.items() if not k.startswith("_")}

    def session(self, session_id: str) -> dict:
        return self._public(self.sessions[session_id])

    def complete(self, session_id: str, *, paid: bool = True) -> dict:
        """The shopper pays: a card is paid at once (paid=True), a delayed method completes
        the session unpaid."""
        session = self.sessions[session_id]
        intent_id = stripe_id("pi")
        self.intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_received": session["amount_total"] if paid else 0,
            "currency": session["currency"],
            "latest_charge": stripe_id("ch"),
            "last_payment_error": None,
            "livemode": False,
            "metadata": dict(session["_intent_metadata"]),
            "status": "succeeded" if paid else "processing",
        }
        session.update(
            status="complete", payment_status="paid" if paid else "unpaid", payment_intent=intent_id, url=None
        )
        return self.session(session_id)

    def settle(self, session_id: str, *, succeeded: bool) -> dict:
        """A delayed payment method settles (or fails) days later."""
        session = self.sessions[session_id]
        intent = self.intents[session["payment_intent"]]
        if succeeded:
            session["payment_status"] = "paid"
            intent.update(status="succeeded", amount_received=intent["amount"])
        else:
            intent.update(
                status="requires_payment_method",
                last_payment_error={"code": "payment_method_unactivated", "message": "The bank debit failed."},
            )
        return self.session(session_id)

    def expire(self, session_id: str) -> dict:
        self.sessions[session_id].update(status="expired", url=None)
        return self.session(session_id)

    def declined_intent(self, session_id: str, *, status: str = "requires_payment_method") -> dict:
        """A card declined on the hosted page: the PaymentIntent as payment_intent.payment_failed
        reports it."""
        session = self.sessions[session_id]
        intent_id = session["payment_intent"] or stripe_id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_received": 0,
            "currency": session["currency"],
            "last_payment_error": {
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
                "type": "card_error",
            },
            "latest_charge": stripe_id("ch"),
            "livemode": False,
            "metadata": dict(session["_intent_metadata"]),
            "status": status,
        }
        self.intents.setdefault(intent_id, intent)
        return copy.deepcopy(intent)

    def refund_object(
        self,
        intent_id: str,
        amount: int,
        *,
        status: str = "succeeded",
        metadata: dict | None = None,
        failure_reason: str | None = None,
    ) -> dict:
        intent = self.intents[intent_id]
        refund = {
            "id": stripe_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": stripe_id("txn"),
            "charge": intent["latest_charge"],
            "created": int(time.time()) + len(self.refunds),
            "currency": intent["currency"],
            "metadata": metadata or {},
            "payment_intent": intent_id,
            "reason": None,
            "status": status,
            "failure_reason": failure_reason,
        }
        self.refunds[refund["id"]] = refund
        return copy.deepcopy(refund)

    def refund_update(self, refund_id: str, *, status: str, failure_reason: str | None = None) -> dict:
        """Stripe moves a refund on (pending → succeeded, succeeded → failed …): the Refund
        object as refund.updated / refund.failed then carry it."""
        self.refunds[refund_id].update(status=status, failure_reason=failure_reason)
        return copy.deepcopy(self.refunds[refund_id])

    def charge(self, intent_id: str, *, refunds: list[dict] | None, amount_refunded: int) -> dict:
        """The Charge of a PaymentIntent as charge.refunded carries it; API versions before
        2022-11-15 list its refunds, later ones do not (refunds=None)."""
        intent = self.intents[intent_id]
        charge = {
            "id": intent["latest_charge"],
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": amount_refunded,
            "captured": True,
            "currency": intent["currency"],
            "metadata": dict(intent["metadata"]),
            "paid": True,
            "payment_intent": intent_id,
            "refunded": amount_refunded >= intent["amount"],
            "status": "succeeded",
        }
        if refunds is not None:
            ordered = sorted(refunds, key=lambda r: r["created"], reverse=True)
            charge["refunds"] = {
                "object": "list",
                "data": ordered,
                "has_more": False,
                "total_count": len(ordered),
                "url": f"/v1/charges/{charge['id']}/refunds",
            }
        return charge


def event(type_: str, obj: dict, *, previous_attributes: dict | None = None) -> dict:
    """A Stripe Event (https://docs.stripe.com/api/events/object) wrapping `obj`."""
    data = {"object": copy.deepcopy(obj)}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": stripe_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


def sign(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)


@pytest.fixture(autouse=True)
def stripe_enabled(settings):
    settings.PAYMENT_GATEWAYS = ["dummy", "stripe"]
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@pytest.fixture
def fake_stripe():
    # Started here, in the test's main thread: RequestsMock patches requests' HTTPAdapter
    # for the whole process, so threads started by a test are intercepted too.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeStripe(mock)


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POSTs an event to the webhook as Stripe would: the JSON body signed with the endpoint
    secret. The inbox task (eager in tests) runs when the request's transaction commits."""

    def deliver(
        evt: dict,
        *,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
        body: str | None = None,
        signature: str | None = "sign",
    ):
        payload = json.dumps(evt)
        headers = {}
        if signature == "sign":
            headers["Stripe-Signature"] = sign(payload, secret=secret, timestamp=timestamp)
        elif signature is not None:
            headers["Stripe-Signature"] = signature
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                WEBHOOK_URL,
                data=body if body is not None else payload,
                content_type="application/json",
                headers=headers,
            )

    return deliver


@pytest.fixture
def shirt(db):
    return stocked_variant(on_hand=5, price=Decimal("23.00"), product__title="Linen Shirt")


@pytest.fixture
def socks(db):
    return stocked_variant(on_hand=5, price=Decimal("12.50"), product__title="Wool Socks")


@pytest.fixture
def order(shirt, socks):
    """2 × 23.00 + 1 × 12.50 + 5.00 shipping = 63.50 USD."""
    return place_order((shirt, 2), (socks, 1))


def start_stripe(client, order):
    """The shopper chooses "Card (Stripe)" on the payment page; returns the response."""
    return client.post(f"/payments/order/{order.access_token}/", {"gateway": "stripe"})


@pytest.fixture
def started(client, order, fake_stripe, django_capture_on_commit_callbacks):
    """An order whose shopper was sent to a Stripe Checkout Session: (payment, session id)."""
    response = start_stripe(client, order)
    assert response.status_code == 302, response
    payment = Payment.objects.get(order=order, gateway="stripe")
    return payment, payment.provider_order_id


@pytest.fixture
def paid(started, fake_stripe, deliver):
    """The order (63.50 USD) paid through its Checkout Session: its captured Payment."""
    payment, session_id = started
    deliver(event("checkout.session.completed", fake_stripe.complete(session_id)))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    return payment
