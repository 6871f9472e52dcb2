"""Workflow 114 (plan numbering: API versioning and deprecation): old clients keep working and
are told, new clients get the fixes (docs/api-versions.md).

- The previous release's Python client (``v0.1.0``, taken from its tag: it speaks only API v1)
  runs against this server: the conformance scenario (clients/conformance) and every public call
  of its API, each at least once: 100% of them must work.
- API v1 answers carry ``Deprecation`` (RFC 9745), ``Sunset`` (RFC 8594) and a ``Link`` to the
  migration notes, which the server serves; v2's answers carry none.
- Versions are negotiated by path and by ``Accept-Version``; an unknown version or a header that
  contradicts the path is refused with a clear error naming the versions served.
- Every client surfaces deprecation to its user once per route: the Python client a
  ``DeprecationWarning``, the TypeScript client a warning (``node --test``) and the Rust client
  ``log::warn!`` (``cargo test``): their deprecation tests run here.
Quick and full run the same calls.
"""

from __future__ import annotations

import inspect
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from engram.client import Client
from engram_harness.clients.conformance import conformance_server, load_scenario, run_scenario
from engram_harness.clients.previous import PREVIOUS_RELEASE, load_previous_client
from engram_harness.clients.toolchains import cargo, cargo_counts, node_counts, node_tests, npm_install
from engram_harness.server import running_server_process
from engram_harness.suite import CheckRecorder

pytestmark = pytest.mark.workflow
DIM = 8


def vec(i: int) -> np.ndarray:
    return np.random.default_rng([114, i]).standard_normal(DIM).astype(np.float32)


def test_the_previous_release_client_passes_the_conformance_scenario(
    checks: CheckRecorder, tmp_path: Path
) -> None:
    old = load_previous_client(tmp_path)
    scenario = load_scenario()
    with conformance_server(scenario) as url:
        steps, failures = run_scenario(url, lambda key: old.Client(url, api_key=key))
    checks.check(f"{PREVIOUS_RELEASE} client: scenario calls passed", 100.0 * (steps - len(failures)) / steps, "==",
                 100.0, "%", note=f"{steps} steps; {failures}")  # fmt: skip
    checks.assert_all()


def _every_call(c: Any, tmp: Path) -> dict[str, Callable[[], Any]]:
    """One call of every public method of the old Client and RemoteSpace, in an order that works."""
    holder: dict[str, Any] = {}

    def sp() -> Any:
        return holder["space"]

    def remember() -> int:
        holder["ids"] = [sp().remember(vec(i), content=f"m{i}") for i in range(3)]
        return holder["ids"][0]

    def stream() -> dict[int, int]:
        with c.stream("compat") as st:
            st.send(vec(50), content="streamed")
            return st.flush()

    return {
        "Client.ready": c.ready,
        "Client.create_space": lambda: holder.setdefault("space", c.create_space("compat", dim=DIM)),
        "Client.space": lambda: c.space("compat"),
        "Client.spaces": lambda: c.spaces(),
        "RemoteSpace.remember": remember,
        "RemoteSpace.remember_batch": lambda: holder.setdefault(
            "batch", [int(i) for i in sp().remember_batch(np.stack([vec(i) for i in range(10, 22)]))]
        ),
        "RemoteSpace.get": lambda: sp().get(holder["ids"][0]),
        "RemoteSpace.link": lambda: sp().link(holder["ids"][0], holder["ids"][1], weight=0.7),
        "RemoteSpace.link_batch": lambda: sp().link_batch(
            [{"src": holder["ids"][1], "dst": holder["ids"][2]}]
        ),
        "RemoteSpace.neighbors": lambda: sp().neighbors(holder["ids"][0]),
        "RemoteSpace.neighbors_batch": lambda: sp().neighbors_batch(holder["ids"][:2]),
        "RemoteSpace.neighborhood": lambda: sp().neighborhood(holder["ids"][:2]),
        "RemoteSpace.search": lambda: sp().search(vec(0), k=3),
        "RemoteSpace.search_batch": lambda: sp().search_batch(np.stack([vec(0), vec(1)]), k=2),
        "RemoteSpace.recall": lambda: sp().recall(vec(0), k=3),
        "RemoteSpace.recall_batch": lambda: sp().recall_batch(np.stack([vec(0), vec(1)]), k=2),
        "RemoteSpace.spread": lambda: sp().spread([holder["ids"][0]]),
        "RemoteSpace.complete": lambda: sp().complete(np.where(np.arange(DIM) < 4, vec(0), np.nan)),
        "RemoteSpace.consolidate": lambda: sp().consolidate(),
        "RemoteSpace.concepts": lambda: holder.setdefault("concepts", sp().concepts()),
        "RemoteSpace.concept_members": lambda: [sp().concept_members(k.id) for k in holder["concepts"][:1]],
        "RemoteSpace.episode_concepts": lambda: sp().episode_concepts(holder["ids"][0]),
        "RemoteSpace.stats": lambda: sp().stats(),
        "RemoteSpace.validate": lambda: sp().validate(),
        "RemoteSpace.forget": lambda: sp().forget(holder["ids"][2]),
        "Client.stream": stream,
        "Client.stats": c.stats,
        "Client.metrics": c.metrics,
        "Client.prometheus": c.prometheus,
        "Client.features": c.features,
        "Client.set_features": lambda: c.set_features(fan_effect=True),
        "Client.consolidation_status": c.consolidation_status,
        "Client.start_consolidation": lambda: c.start_consolidation(interval_s=60.0),
        "Client.pause_consolidation": c.pause_consolidation,
        "Client.resume_consolidation": c.resume_consolidation,
        "Client.stop_consolidation": c.stop_consolidation,
        "Client.backup": lambda: c.backup("compat", full=True),
        "Client.backups": c.backups,
        "Client.drop_space": lambda: (c.create_space("dropped", dim=DIM), c.drop_space("dropped")),
    }


def _public_methods(cls: type) -> set[str]:
    return {
        f"{cls.__name__}.{n}" for n, v in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")
    }


def test_every_call_of_the_previous_release_client_works(checks: CheckRecorder, tmp_path: Path) -> None:
    old = load_previous_client(tmp_path / "client")
    failures: dict[str, str] = {}
    with running_server_process(tmp_path / "data", no_auth=True, dim=DIM, backup_dir=tmp_path / "backups",
                                log_dir=tmp_path) as server, old.Client(server.url) as c:  # fmt: skip
        calls = _every_call(c, tmp_path)
        for name, fn in calls.items():
            try:
                fn()
            except Exception as e:
                failures[name] = f"{type(e).__name__}: {e}"
        deprecated = httpx.get(server.url + "/api/v1/spaces")
    public = _public_methods(old.Client) | _public_methods(old.sync.RemoteSpace)
    untested = sorted(public - set(calls) - {"Client.close"})  # close: the with block's exit
    checks.check(f"{PREVIOUS_RELEASE} client: public calls exercised", len(public) - 1 - len(untested), "==",
                 len(public) - 1, note=f"not exercised: {untested}")  # fmt: skip
    checks.check(f"{PREVIOUS_RELEASE} client: calls that work", 100.0 * (len(calls) - len(failures)) / len(calls),
                 "==", 100.0, "%", note=json.dumps(failures)[:2000])  # fmt: skip
    checks.check("its v1 answers say they are deprecated", int("deprecation" in deprecated.headers), "==", 1)
    checks.assert_all()


def test_versions_are_negotiated_and_v1_is_deprecated(checks: CheckRecorder, tmp_path: Path) -> None:
    with running_server_process(None, no_auth=True, dim=DIM, log_dir=tmp_path) as server:
        u = server.url
        v1 = httpx.get(u + "/api/v1/spaces")
        v2 = httpx.get(u + "/api/v2/spaces")
        bare = httpx.get(u + "/api/spaces")
        asked = httpx.get(u + "/api/spaces", headers={"Accept-Version": "1"})
        unknown = httpx.get(u + "/api/v9/spaces")
        unknown_header = httpx.get(u + "/api/spaces", headers={"Accept-Version": "9"})
        conflict = httpx.get(u + "/api/v1/spaces", headers={"Accept-Version": "2"})
        link = v1.headers.get("link", "")
        notes = httpx.get(u + link[link.find("<") + 1 : link.find(">")]) if "<" in link else None
    checks.check("path /api/v1 served by v1", int(v1.headers.get("engram-api-version") == "1"), "==", 1)
    checks.check("path /api/v2 served by v2", int(v2.headers.get("engram-api-version") == "2"), "==", 1)
    checks.check(
        "unversioned path served by the newest", int(bare.headers.get("engram-api-version") == "2"), "==", 1
    )
    checks.check("Accept-Version: 1 picks v1", int(asked.headers.get("engram-api-version") == "1"), "==", 1)
    for label, r, code in (("an unknown version in the path", unknown, "unsupported_api_version"),
                           ("an unknown Accept-Version", unknown_header, "unsupported_api_version"),
                           ("a header against the path", conflict, "api_version_conflict")):  # fmt: skip
        err = r.json().get("error", {}) if r.status_code == 400 else {}
        checks.check(f"{label}: 400 {code} naming the versions served",
                     int(err.get("code") == code and "v2" in err.get("message", "")), "==", 1, note=r.text[:300])  # fmt: skip
    checks.check(
        "v1: Deprecation header (RFC 9745 date)",
        int(v1.headers.get("deprecation", "").startswith("@")),
        "==",
        1,
    )
    checks.check(
        "v1: Sunset header (RFC 8594 HTTP date)", int(v1.headers.get("sunset", "").endswith("GMT")), "==", 1
    )
    checks.check("v1: Link rel=deprecation to migration notes the server serves",
                 int(notes is not None and notes.status_code == 200 and "v2" in notes.text), "==", 1)  # fmt: skip
    checks.check("v2: no deprecation headers", int(not {"deprecation", "sunset"} & set(v2.headers)), "==", 1)
    checks.assert_all()


def test_every_client_tells_its_user_once_per_route(checks: CheckRecorder, tmp_path: Path) -> None:
    # Python: a DeprecationWarning per route, once, pointing at the caller's line
    from engram.client import versions

    versions._warned.clear()
    with running_server_process(None, no_auth=True, dim=DIM, log_dir=tmp_path) as server:
        with warnings.catch_warnings(record=True) as seen, Client(server.url, api_version="v1") as c:
            warnings.simplefilter("always")
            c.create_space("told", dim=DIM)
            for i in range(3):
                c.space("told").remember(vec(i))
                c.spaces()
        with warnings.catch_warnings(record=True) as seen2, Client(server.url) as c2:
            warnings.simplefilter("always")
            c2.spaces()
    told = [w for w in seen if issubclass(w.category, DeprecationWarning) and "deprecates" in str(w.message)]
    routes = {str(w.message).split(" (")[0] for w in told}
    checks.check("python: one DeprecationWarning per v1 route", len(told), "==", len(routes),
                 note=sorted(routes).__repr__())  # fmt: skip
    checks.check("python: routes warned about (create, get space, remember, list)", len(routes), "==", 4)
    checks.check("python: no warning on v2", len([w for w in seen2 if issubclass(w.category, DeprecationWarning)]),
                 "==", 0)  # fmt: skip
    # TypeScript and Rust: their own deprecation tests (against a real engramd and a fake server)
    install = npm_install()
    assert install.ok, install.tail()
    ts = node_tests("a deprecated route is")  # the fake-server and the real-server test
    ts_counts = node_counts(ts.output)
    checks.check("typescript: deprecation tests passed", ts_counts.passed, ">=", 2, note=f"{ts_counts}")
    checks.check("typescript: deprecation tests failed", ts_counts.failed + (ts.returncode != 0), "==", 0)
    rs = cargo("test", "once_per_route")  # tests/retry.rs (fake server), tests/server.rs (engramd)
    rs_counts = cargo_counts(rs.output)
    checks.check("rust: deprecation tests passed", rs_counts.passed, ">=", 2, note=f"{rs_counts}")
    checks.check("rust: deprecation tests failed", rs_counts.failed + (rs.returncode != 0), "==", 0)
    checks.assert_all()
