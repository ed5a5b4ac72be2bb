"""schemathesis against /openapi.json: no generated request makes the server fail (5xx).

Bounded: a few examples per operation, no deadline; requests are sent as the admin so that the
authenticated operations run too.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings


@pytest.mark.slow  # property-based fuzzing of every route
def test_no_server_errors(fuzz_service: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_service.app)
    headers = fuzz_service.as_("admin")
    failures: list[str] = []
    n_ops = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path.endswith("/schedule"):
            continue  # the CP-SAT scheduler is exercised in test_api_match

        @given(case=op.as_strategy())
        @settings(max_examples=4, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> "
                                f"{response.status_code} {response.text[:300]}")
            elif response.status_code >= 400 and "application/json" in str(
                    response.headers.get("content-type", "")):
                body = response.json()
                if body.get("ok") is not False or body.get("status") != response.status_code:
                    failures.append(f"{case.method} {case.formatted_path}: error body {body}")

        run()
        n_ops += 1
    assert n_ops > 50
    assert failures == []
