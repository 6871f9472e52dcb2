"""Fixtures: a real ``engram serve`` process on a loopback port, with API keys for two tenants."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import engram
from engram.client import Client
from engram.server.auth import add_key, revoke_key
from engram_harness.server import ServerProcess, running_server_process
from engram_harness.vectors import unit_gaussian

DIM = 8
RECORDED = Path(__file__).parent / "recorded"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without engramd (engram built without the server's libraries) the tests that start a
    server are skipped, except in CI, which installs the libraries: there it is an error. A module
    that needs no server says so with ``NEEDS_ENGRAMD = False``."""
    from engram.server.launcher import find_engramd

    if find_engramd() is not None:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError("engramd is not built (scripts/setup-system.sh installs its libraries)")
    skip = pytest.mark.skip(reason="engramd is not built (its libraries are missing: see engram serve)")
    for item in items:
        if "tests/server" in item.nodeid.replace("\\", "/") and getattr(item.module, "NEEDS_ENGRAMD", True):
            item.add_marker(skip)


@dataclass
class Tenants:
    """A running server and one key per role/space combination the tests need."""

    proc: ServerProcess
    keys_file: Path
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return self.proc.url

    def client(self, who: str, **kw: object) -> Client:
        return Client(self.url, api_key=self.keys[who], **kw)  # type: ignore[arg-type]


def make_keys(path: Path) -> dict[str, str]:
    return {
        "admin": add_key(path, "admin", ["*"], "admin"),
        "writer_a": add_key(path, "writer-a", ["tenant-a"], "write"),
        "reader_a": add_key(path, "reader-a", ["tenant-a"], "read"),
        "writer_b": add_key(path, "writer-b", ["tenant-b"], "write"),
    }


@contextlib.contextmanager
def serve_tenants(d: Path, **opts: Any) -> Iterator[Tenants]:
    """A server in folder ``d`` with the keys of :func:`make_keys` and the spaces tenant-a and
    tenant-b; ``opts`` are ``engram serve`` options over the tests' defaults."""
    keys_file = d / "keys.json"
    keys = make_keys(keys_file)
    base = dict(api_keys=keys_file, dim=DIM, max_k=100, max_batch=50, max_body_bytes=64 * 1024)
    with running_server_process(None, log_dir=d, **{**base, **opts}) as proc:
        t = Tenants(proc, keys_file, keys)
        with t.client("admin") as c:
            c.create_space("tenant-a")
            c.create_space("tenant-b")
        yield t


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    with serve_tenants(tmp_path_factory.mktemp("server")) as t:
        yield t


#: Authorization headers that authenticate nobody (None: no header).
BAD_AUTHORIZATION = [None, "Bearer", "Basic abc", "Bearer engram_admin_wrongsecret", "Bearer engram_nobody_x",
                     "Bearer garbage"]  # fmt: skip


def check_unauthenticated(url: str, header: str | None) -> None:
    r = httpx.get(url + "/api/v1/spaces", headers={} if header is None else {"Authorization": header})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def wait_status(url: str, key: str, want: int, timeout: float = 10.0) -> int:
    """GET /api/v1/spaces with ``key`` until it answers ``want`` (or the timeout): the status last seen."""
    deadline = time.monotonic() + timeout
    status = -1
    while time.monotonic() < deadline:  # bounded
        status = httpx.get(url + "/api/v1/spaces", headers={"Authorization": f"Bearer {key}"}).status_code
        if status == want:
            return status
        time.sleep(0.05)
    return status


def check_key_reload(t: Tenants) -> None:
    """Keys added to and revoked from the running server's key file take effect without a
    restart: by the file's polling, and at once on SIGHUP."""
    new = add_key(t.keys_file, "late-comer", ["tenant-a"], "read")
    assert wait_status(t.url, new, 200) == 200  # file change picked up by polling
    revoke_key(t.keys_file, "late-comer")
    assert wait_status(t.url, new, 401) == 401
    again = add_key(t.keys_file, "hup", ["tenant-a"], "read")
    os.kill(t.proc.proc.pid, signal.SIGHUP)
    assert wait_status(t.url, again, 200) == 200
    assert t.proc.events("api_keys_reloaded")
    revoke_key(t.keys_file, "hup")
    assert wait_status(t.url, again, 401) == 401


def metric_in(exposition: str, name: str) -> float:
    """The sum of every sample of metric ``name`` (all label sets) in Prometheus text."""
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def metric(url: str, name: str, headers: dict[str, str] | None = None) -> float:
    """:func:`metric_in` of the server's ``/metrics`` (``headers``: e.g. a key's Authorization)."""
    return metric_in(httpx.get(url + "/metrics", headers=headers or {}).text, name)


def vectors(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    return unit_gaussian(np.random.default_rng(seed), n, dim)


# ------------------------------------------------------- the deleted Starlette server's answers
def recorded(name: str) -> Any:
    """Answers of the Starlette server, API v1's first implementation, recorded on the requests
    the tests send before it was deleted (issue 13); engramd must keep giving them. How they were
    recorded: ``recorded/README.md``."""
    return json.loads((RECORDED / f"{name}.json").read_text())


def starlette_openapi() -> dict[str, Any]:
    """The OpenAPI document the Starlette server generated, its version ("0.1.0 (API v1)") set
    to this build's."""
    doc: dict[str, Any] = recorded("openapi-starlette")
    _, api = doc["info"]["version"].split(" ", 1)
    doc["info"]["version"] = f"{engram.__version__} {api}"
    return doc


def same(actual: Any, expected: Any, rel: float = 1e-6) -> bool:
    """Equal JSON values, floats within ``rel`` (scores pass through float32 and text on the way);
    tuples compare as the lists JSON made of them."""
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return actual == expected and type(actual) is type(expected)
    if isinstance(expected, int) and isinstance(actual, int):
        return actual == expected and not isinstance(actual, bool)  # ids: exact
    if isinstance(expected, (int, float)):
        return (isinstance(actual, (int, float)) and not isinstance(actual, bool)
                and math.isclose(actual, expected, rel_tol=rel, abs_tol=rel))  # fmt: skip
    if isinstance(expected, (list, tuple)):
        return (isinstance(actual, (list, tuple)) and len(actual) == len(expected)
                and all(same(a, e, rel) for a, e in zip(actual, expected, strict=True)))  # fmt: skip
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and actual.keys() == expected.keys()
                and all(same(actual[k], expected[k], rel) for k in expected))  # fmt: skip
    return bool(actual == expected)


# Keywords that only narrow what a schema allows to what engramd accepts (tests/server/test_fuzz.py
# checks both ways): the Starlette document left them out or stated a wider bound; the requests it
# allowed that engramd refuses, engramd refused before too (with a less telling error).
BOUND_KEYWORDS = {"minimum", "maximum", "exclusiveMinimum", "minItems", "maxItems", "minLength", "maxLength",
                  "pattern", "format", "minProperties", "maxProperties", "propertyNames"}  # fmt: skip
UPPER_BOUNDS = {"maximum", "maxItems", "maxLength", "maxProperties"}
LOWER_BOUNDS = {"minimum", "exclusiveMinimum", "minItems", "minLength", "minProperties"}


def only_bounds_added(ours: object, theirs: object) -> bool:
    """Whether ``ours`` is ``theirs`` with bound keywords added or narrowed (at any depth), nothing
    else changed."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        if not set(theirs) <= set(ours) or not set(ours) - set(theirs) <= BOUND_KEYWORDS:
            return False
        for k in theirs:
            if k in UPPER_BOUNDS and isinstance(theirs[k], int | float):
                ok = isinstance(ours[k], int | float) and ours[k] <= theirs[k]
            elif k in LOWER_BOUNDS and isinstance(theirs[k], int | float):
                ok = isinstance(ours[k], int | float) and ours[k] >= theirs[k]
            else:
                ok = only_bounds_added(ours[k], theirs[k])
            if not ok:
                return False
        return True
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(map(only_bounds_added, ours, theirs))
    return ours == theirs
