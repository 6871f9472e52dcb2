"""Property-based fuzzing of engramd from its own OpenAPI document (schemathesis strategies driven by
hypothesis): valid and invalid inputs to every HTTP operation must never produce a 5xx, every
response must conform to the document (status code, content type, schema, headers), and every
error must be the documented JSON shape with the response's request id; a request the document
allows is accepted and one it forbids is refused. Examples are bounded (and failures not shrunk) to
keep it well under a minute.

It runs engramd directly (as :func:`engram.server.launcher.find_engramd` finds it:
``$ENGRAM_ENGRAMD`` for a sanitizer build)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from engram.server.launcher import find_engramd
from engram_harness.server import running_server_process

from .conftest import DIM, make_keys

EXAMPLES_PER_OPERATION = 12  # valid and invalid inputs mixed
# The request schemas state what engramd accepts (bounds, patterns, required fields, no other
# properties; the limits max_k and max_batch as configured), so a body the document allows is
# accepted (positive_data_acceptance) and one it forbids is refused (negative_data_rejection).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, positive_data_acceptance, negative_data_rejection]  # fmt: skip
# 413 (body or batch too large) refuses invalid data too: schemathesis's defaults leave it out.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
# Valid by the document, refused by engramd, because no JSON Schema of one document can say it:
# the embedding's length is the dimension of the space named in the path (spaces differ; a raw
# application/octet-stream body is 4 bytes per dimension), and a whole vector's rules (not all
# zeros, a norm within float32, finite values inside base64 text or raw bytes, completion's partial
# with a known non-zero part) are not rules about any one value.
UNSTATABLE_CODES = {"dimension_mismatch"}
UNSTATABLE_INVALID = re.compile(
    r"is a zero vector|norm overflows|expected a finite number|no dimension as known|known dimensions are all zero"
    r"|octet-stream body\): expected a non-empty sequence of little-endian float32 values \(a multiple of 4 bytes\)"
    r"|^fault plan"  # the test build's fault plans: a grammar (docs/faults.md) no JSON Schema states
)


def unstatable(error: dict[str, str]) -> bool:
    """Whether a 400's error refuses what the document cannot forbid (UNSTATABLE_*)."""
    if error["code"] in UNSTATABLE_CODES:
        return True
    return error["code"] == "invalid_input" and UNSTATABLE_INVALID.search(error["message"]) is not None


SPACE = "tenant-a"  # a space that exists: half the cases name it, so bodies reach the handlers


@dataclass
class Fuzzed:
    url: str
    admin: str
    memory_ids: list[int]


@pytest.fixture(scope="module")
def engramd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    exe = find_engramd()
    if exe is None:
        if os.environ.get("CI"):  # CI builds engramd: never skip there
            pytest.fail("engramd is not built (scripts/setup-system.sh installs its libraries)")
        pytest.skip("engramd is not built")
    d = tmp_path_factory.mktemp("fuzz")
    keys = make_keys(d / "keys.json")
    opts = dict(api_keys=d / "keys.json", dim=DIM, max_k=100, max_batch=50, max_body_bytes=64 * 1024)
    with running_server_process(None, command=[exe], log_dir=d, **opts) as proc:  # type: ignore[arg-type]
        h = {"Authorization": f"Bearer {keys['admin']}"}
        with httpx.Client(base_url=proc.url, headers=h, timeout=30) as c:
            for name in (SPACE, "tenant-b"):
                assert c.post("/api/v1/spaces", json={"name": name}).status_code == 201
            items = [{"embedding": [float(i + j) for j in range(DIM)], "content": f"m{i}"} for i in range(4)]
            r = c.post(f"/api/v1/spaces/{SPACE}/memories/batch", json={"items": items})
            assert r.status_code == 201, r.text
            ids = [int(x) for x in r.json()["ids"]]
        yield Fuzzed(proc.url, keys["admin"], ids)


def _ensure_space(url: str, headers: dict[str, str]) -> None:
    """A fuzzed DELETE may have dropped the pinned space: create it again (409 when it exists)."""
    r = httpx.post(url + "/api/v1/spaces", json={"name": SPACE}, headers=headers, timeout=30)
    assert r.status_code in (201, 409), r.text


@pytest.mark.slow
def test_no_server_errors_on_any_operation(engramd: Fuzzed) -> None:
    config = SchemathesisConfig.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}}
    )
    schema = schemathesis.openapi.from_url(engramd.url + "/openapi.json", config=config)
    headers = {"Authorization": f"Bearer {engramd.admin}"}
    failures: list[str] = []
    operations = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1

        # no shrinking: a failure is reported as found (shrinking one costs hundreds of requests)
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(
            case=op.as_strategy(GenerationMode.POSITIVE) | op.as_strategy(GenerationMode.NEGATIVE),
            pin=st.booleans(),
            memory=st.sampled_from(engramd.memory_ids),
        )
        def check(case: schemathesis.Case, pin: bool, memory: int) -> None:
            path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
            if pin and (path is None or path.mode.is_positive):  # never a path made invalid: it stays so
                # an existing space and memory, so the request gets past the lookups
                if "space" in case.path_parameters:
                    case.path_parameters["space"] = SPACE
                if "memory_id" in case.path_parameters:
                    case.path_parameters["memory_id"] = memory
            response = case.call(headers=headers, timeout=30)
            where = f"{case.method} {case.formatted_path} body={str(case.body)[:200]}"
            assert response.status_code < 500, f"{where} -> {response.status_code}: {response.text[:300]}"
            checks = CHECKS
            if response.status_code == 400 and unstatable(response.json()["error"]):
                checks = [c for c in CHECKS if c is not positive_data_acceptance]
            case.validate_response(response, checks=checks, headers=headers)
            rid = response.headers["x-request-id"]  # schemathesis keeps every value of a header
            rid = rid[0] if isinstance(rid, list) else rid
            assert rid, where
            if response.status_code >= 400:
                err = response.json()["error"]
                assert err["code"] and err["message"], where
                assert err["status"] == response.status_code, where
                assert err["request_id"] == rid, where
            if case.method == "DELETE" and case.path_parameters.get("space") == SPACE:
                _ensure_space(engramd.url, headers)

        t0 = time.monotonic()
        try:
            check()
        except (Exception, FailureGroup) as exc:  # an assertion or schemathesis's checks: report them all
            failures.append(f"{op.label}: " + " ".join(str(exc).split())[:600])
        print(f"{op.label}: {time.monotonic() - t0:.1f} s", flush=True)
    elapsed = time.monotonic() - started
    assert operations >= 30, f"only {operations} operations in the spec"
    assert not failures, (
        f"{len(failures)} of {operations} operations failed in {elapsed:.0f} s:\n" + "\n".join(failures)
    )
