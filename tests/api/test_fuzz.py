"""Schemathesis against our own OpenAPI schema, in-process through Django's WSGI app.

Every operation gets up to MAX_EXAMPLES generated requests (hypothesis, derandomized, so a run
is repeatable), sent with a signed-in user's bearer token. Each response must not be a 5xx,
must use a status code the schema documents for the operation, and its body must match the
documented schema and content type. (Not yet checked: negative_data_rejection. DRF coerces
some schema-invalid input instead of refusing it: 0 for a string or a boolean in JSON, an
empty ?page= or ?ordering= taken as the default.) The summary line printed at the end (pytest -s) gives
the figures: operations, requests sent, failures.
"""

import logging
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import stocked_variant

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# Built in-process (no request, no database): the same document GET /api/v1/schema/ serves.
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()

SENT: Counter = Counter()  # requests per operation
FAILED: Counter = Counter()  # operations whose checks failed


@pytest.fixture(scope="module", autouse=True)
def _figures():
    yield
    if SENT:
        print(
            f"\nschemathesis: {len(SENT)} operations, {sum(SENT.values())} requests "
            f"(max {MAX_EXAMPLES} generated examples each, plus schemathesis' coverage cases), "
            f"{sum(FAILED.values())} failures"
        )


@pytest.fixture
def _keep_the_test_connection():
    # Django closes the database connection after each request; under a test's transaction
    # that would lose the test data. Django's test Client unhooks the same signal handler.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def _quiet_4xx_logs():
    # Thousands of expected 4xx warnings from django.request; 5xx (ERROR) still show.
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture
def bearer(db, user, settings, _keep_the_test_connection, _quiet_4xx_logs):
    # Rate limits off: the fuzzer would exhaust them, and 429 is tested on its own.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": None}}
    stocked_variant(product__handle="linen-shirt")
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case, bearer):
    response = case.call(headers=bearer)
    SENT[case.operation.label] += 1
    try:
        case.validate_response(response, checks=CHECKS)
    except Exception:
        FAILED[case.operation.label] += 1
        raise
