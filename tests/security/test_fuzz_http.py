"""Property-based fuzzing of the commands API from its own OpenAPI document (schemathesis): whatever the input,
no 5xx, and every refusal is a clear 4xx with a ``reason_code`` and a ``message``."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from services.connections.entrypoints.http import create_app
from shared.auth import BearerAuth, StaticTokens
from tests.security.conftest import TENANT_A, TOKENS, WriteSide, auth_header

FUZZ = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much])


def operations(write_side: WriteSide) -> list[Any]:
    """Every operation of the commands API's OpenAPI document (the pytest plugin is not used: it predates
    the pytest pinned here; the operations' hypothesis strategies are driven directly)."""
    api = create_app(write_side.app, BearerAuth(StaticTokens(TOKENS)), write_side.command_keys)
    found = [result.ok() for result in schemathesis.openapi.from_asgi("/openapi.json", api).get_all_operations()]
    assert len(found) >= 12
    return found


def assert_clear_answer(response: Any) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and body.get("reason_code") and body.get("message"), response.text[:500]


def test_any_input_from_an_admin_gets_a_clear_answer_never_a_server_error(write_side: WriteSide) -> None:
    for operation in operations(write_side):
        @FUZZ
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            assert_clear_answer(case.call(headers={**(case.headers or {}), **auth_header(TENANT_A, "admin")}))

        call()


def test_any_input_with_any_or_no_token_gets_a_clear_answer_never_a_server_error(write_side: WriteSide) -> None:
    for operation in operations(write_side):
        @FUZZ
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            response = case.call()
            assert_clear_answer(response)
            if response.status_code == 401:
                assert response.json()["reason_code"] == "unauthenticated"

        call()
