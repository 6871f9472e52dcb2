"""Property-based fuzzing of every HTTP operation from the served OpenAPI document (schemathesis
strategies driven by hypothesis): valid and invalid inputs alike must never produce a 5xx, and
every error must be the documented JSON shape. Examples are bounded to keep it fast."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from .conftest import Tenants

EXAMPLES_PER_OPERATION = 12  # valid and invalid inputs mixed


@pytest.mark.slow
def test_no_server_errors_on_any_operation(tenants: Tenants) -> None:
    schema = schemathesis.openapi.from_url(tenants.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {tenants.keys['admin']}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=op.as_strategy(GenerationMode.POSITIVE) | op.as_strategy(GenerationMode.NEGATIVE))
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=30)
            where = f"{case.method} {case.formatted_path} body={str(case.body)[:200]}"
            assert response.status_code < 500, f"{where} -> {response.status_code}: {response.text[:300]}"
            if response.status_code >= 400:
                err = response.json()["error"]
                assert err["code"] and err["message"], where
                rid = response.headers["x-request-id"]
                assert err["request_id"] == (rid[0] if isinstance(rid, list) else rid), where

        try:
            check()
        except AssertionError as exc:
            failures.append(" ".join(str(exc).split())[:400])
    assert operations >= 20, f"only {operations} operations in the spec"
    assert not failures, "\n".join(failures)
