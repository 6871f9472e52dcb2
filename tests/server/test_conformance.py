"""The client conformance scenario (clients/conformance/scenario.json), run with the Python client
against a real engramd, over both API versions. The TypeScript and Rust clients run the same file
with their own runners (clients/conformance/README.md); engram_harness.clients.conformance holds
the scenario's rules in Python."""

from __future__ import annotations

from typing import Any

import pytest

from engram.client import Client
from engram_harness.clients.conformance import conformance_server, load_scenario, mismatch, run_scenario

SCENARIO = load_scenario()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # v1 is deprecated, and still must pass
@pytest.mark.parametrize("api_version", ["v2", "v1"])
def test_every_step_passes_with_the_python_client(api_version: str) -> None:
    with conformance_server(SCENARIO) as url:
        steps, failures = run_scenario(url, lambda key: Client(url, api_key=key, api_version=api_version))  # type: ignore[arg-type]
    assert not failures, "\n".join(failures)
    assert steps >= 30  # a scenario that lost its steps measures nothing


@pytest.mark.parametrize(
    ("actual", "expected", "ok"),
    [
        ({"a": 1, "b": 2}, {"a": 1}, True),
        ([1, 2], [1], False),
        (0.89999997, 0.9, True),
        (0.8, 0.9, False),
        ([3, 1, 2], {"$all": [1, 2]}, True),
        ([1, 1], {"$all": [1, 1, 1]}, False),
        (5, {"$type": "id"}, True),
        (5.5, {"$type": "id"}, False),
        (True, {"$type": "id"}, False),
        (0.5, {"$range": [0, 1]}, True),
        (1.5, {"$range": [0, 1]}, False),
        ("$x", "$$x", True),
        (7, "$saved", True),
        (8, "$saved", False),
        (None, None, True),
        (False, None, False),
    ],
)
def test_the_matcher_can_fail(actual: Any, expected: Any, ok: bool) -> None:
    """The rules of the README, including what must not match (so a broken matcher is caught)."""
    assert (mismatch(actual, expected, {"saved": 7}) is None) is ok
