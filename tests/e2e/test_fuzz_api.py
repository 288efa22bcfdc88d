"""Every JSON endpoint fuzzed from its own OpenAPI schema: never a 5xx, never off-schema.

Schemathesis generates valid and invalid requests (wrong types, boundary values, odd
strings, unexpected content types) from the schema the app publishes, sends them to a
real web process, and checks each answer: no server error, a documented status code,
the documented content type, a body that matches its documented schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from app.settings import Settings
from app.web.app import create_app
from tests.e2e.conftest import Live
from tests.support.access import bearer
from tests.support.db import query

# The published schema depends on no server: build it from an app that is never started.
_OFFLINE = Settings(
    database_url="postgresql://unused/", redis_url="redis://unused/", secret_key="-"
)
schema = schemathesis.openapi.from_dict(create_app(_OFFLINE).openapi_schema.to_schema())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 200
"""With the coverage phase's own cases, well over 1,000 requests across the API."""


MIN_CASES = 1000
_sent: list[str] = []


@pytest.fixture(scope="module")
def base_url(live: Live) -> Iterator[str]:
    yield live.http
    # Webhooks the fuzzer subscribed would keep the live worker posting to made-up hosts.
    query(live.settings.database_url, "UPDATE webhooks SET deleted_at = now()")
    operations = set(_sent)
    if len(operations) == len(list(schema.get_all_operations())):
        assert len(_sent) >= MIN_CASES, f"only {len(_sent)} generated requests were sent"


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_generated_request_as_documented(case: Any, base_url: str) -> None:
    _sent.append(f"{case.operation.method} {case.operation.path}")
    case.call_and_validate(base_url=base_url, headers=bearer(), checks=CHECKS)
