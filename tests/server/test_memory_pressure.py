"""engramd's memory budget (workflow 105; cpp/include/engram/memory_budget.hpp): past 90% of
``--memory-budget-mb`` writes get 507 ``memory_pressure`` with Retry-After while reads, forget and
space drops go on; the stream rejects observations with the same code; relief below 70% lets
writes in again; each transition is a log line and the metrics follow; the flag is validated."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from engram.client import Client, RetryPolicy
from engram.client.errors import MemoryPressureError
from engram.server.launcher import find_engramd
from engram_harness.server import running_server_process

from .conftest import metric

pytestmark = pytest.mark.skipif(
    find_engramd() is None, reason="engramd is not built (its libraries are missing)"
)

DIM = 8
BUDGET_MB = 4
CONTENT = "x" * (256 << 10)  # 16 of these take a 4 MiB budget past 90%


def _body(i: int, content: str = CONTENT) -> dict[str, object]:
    v = np.random.default_rng(i).standard_normal(DIM).astype(np.float32)
    return {"embedding": base64.b64encode(v.tobytes()).decode(), "content": content}


def _fill(url: str) -> tuple[list[int], httpx.Response]:
    """Store large episodes until refused; returns the stored ids and the refusal."""
    ids: list[int] = []
    with httpx.Client(base_url=url, timeout=10) as h:
        for i in range(64):  # bounded: 16 fill the budget
            r = h.post("/api/v1/spaces/big/memories", json=_body(i))
            if r.status_code != 201:
                return ids, r
            ids.append(r.json()["id"])
    raise AssertionError(f"no refusal after {len(ids)} writes of {len(CONTENT)} bytes into {BUDGET_MB} MiB")


def _state(url: str) -> str:
    for s in ("normal", "warning", "critical"):
        if metric(url, f'engram_memory_pressure_state{{state="{s}"}}') == 1:
            return s
    return "?"


def _wait_state(url: str, want: str, timeout_s: float = 5.0) -> str:
    deadline = time.monotonic() + timeout_s
    while (got := _state(url)) != want and time.monotonic() < deadline:  # bounded
        time.sleep(0.02)
    return got


def test_refusal_reads_and_relief(tmp_path: Path) -> None:
    with running_server_process(tmp_path / "data", log_dir=tmp_path, no_auth=True, dim=DIM,
                                memory_budget_mb=BUDGET_MB, memory_poll_interval_ms=20) as sp:  # fmt: skip
        with Client(sp.url) as c:
            c.create_space("big", dim=DIM)
            c.create_space("small", dim=DIM)
            c.start_consolidation(interval_s=0.5)
            kept = c.space("small").remember(np.ones(DIM, np.float32), "kept")
        assert _state(sp.url) == "normal"
        ids, refusal = _fill(sp.url)
        # the typed error: status, stable code, Retry-After and retry_after_ms, a message that says why
        assert refusal.status_code == 507, refusal.text
        err = refusal.json()["error"]
        assert err["code"] == "memory_pressure" and err["status"] == 507
        assert int(refusal.headers["retry-after"]) >= 1 and err["retry_after_ms"] == 1000
        assert "critical" in err["message"] and "budget" in err["message"] and "forget" in err["message"]
        assert _wait_state(sp.url, "critical") == "critical"
        # batches and other spaces are refused too; reads, search and forget are not
        with httpx.Client(base_url=sp.url, timeout=10) as h:
            batch = {"items": [_body(100, "a"), _body(101, "b")]}
            r = h.post("/api/v1/spaces/small/memories/batch", json=batch)
            assert r.status_code == 507 and r.json()["error"]["code"] == "memory_pressure"
            assert h.get(f"/api/v1/spaces/small/memories/{kept}").status_code == 200
            assert (
                h.post("/api/v1/spaces/big/search", json={"embedding": [0.1] * DIM, "k": 3}).status_code
                == 200
            )
            assert h.get("/health/ready").status_code == 200
            status = h.get("/api/v1/consolidation").json()
            assert status["state"] == "paused"
        with Client(sp.url, retry=RetryPolicy(attempts=3)) as c:
            with pytest.raises(MemoryPressureError) as exc_info:  # typed, and not retried by the client
                c.space("small").remember(np.ones(DIM, np.float32), "refused")
            assert exc_info.value.retry_after_s == 1.0 and exc_info.value.status == 507
            assert len(c.space("small")) == 1
        # the stream rejects with the same code (retryable: the client resends after the delay)
        before = metric(sp.url, "engram_admission_control_rejections_total")
        stream_client = Client(sp.url)
        st = stream_client.stream("small")
        st.send(np.ones(DIM, np.float32), "streamed")
        deadline = time.monotonic() + 5
        while (
            metric(sp.url, "engram_admission_control_rejections_total") == before
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        assert metric(sp.url, "engram_admission_control_rejections_total") > before
        assert len(Client(sp.url).space("small")) == 1
        assert metric(sp.url, "engram_admission_control_rejections_total") >= 3
        # relief: forget until below 70%
        with httpx.Client(base_url=sp.url, timeout=10) as h:
            for mid in ids[: len(ids) // 2]:
                assert h.delete(f"/api/v1/spaces/big/memories/{mid}").status_code in (200, 204)
        assert _wait_state(sp.url, "normal") == "normal"
        with Client(sp.url) as c:
            assert c.space("small").remember(np.ones(DIM, np.float32), "after") > 0
            assert c.consolidation_status()["state"] == "running"
            streamed = st.flush(timeout=10)  # the rejected observation, resent, is stored now
            st.close()
            stream_client.close()
            assert (
                len(streamed) == 1
                and c.space("small").get(next(iter(streamed.values()))).content == "streamed"
            )
    events = [json.loads(line) for line in sp.log_lines() if '"memory_pressure"' in line]
    assert [e["to"] for e in events][-1] == "normal", events
    crit = [e for e in events if e["to"] == "critical"]
    assert crit and crit[0]["admission_control"] == "engaged" and crit[0]["percent"] >= 90
    assert crit[0]["budget_bytes"] == BUDGET_MB << 20 and crit[0]["consolidation"] == "paused"
    assert events[-1]["consolidation"] == "resumed" and events[-1]["percent"] < 70


def test_drop_space_relieves_pressure(tmp_path: Path) -> None:
    with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=DIM, memory_budget_mb=BUDGET_MB,
                                memory_poll_interval_ms=20) as sp:  # fmt: skip
        httpx.post(sp.url + "/api/v1/spaces", json={"name": "big", "dim": DIM})
        _, refusal = _fill(sp.url)
        assert refusal.status_code == 507
        assert httpx.delete(sp.url + "/api/v1/spaces/big").status_code in (200, 204)
        assert _wait_state(sp.url, "normal") == "normal"
        assert metric(sp.url, "engram_memory_budget_bytes") == BUDGET_MB << 20
        assert metric(sp.url, 'engram_memory_pressure_transitions_total{state="critical"}') >= 1


@pytest.mark.parametrize("value", ["0.5", "-1", "nan", "abc"])
def test_budget_flag_is_validated(value: str) -> None:
    engramd = find_engramd()
    assert engramd is not None
    r = subprocess.run([str(engramd), "--in-memory", "--no-auth", "--memory-budget-mb", value],
                       capture_output=True, text=True, timeout=30)  # fmt: skip
    assert r.returncode != 0
    assert "memory_budget_mb" in r.stderr, r.stderr


def test_openapi_documents_507(tmp_path: Path) -> None:
    from engram_harness.server import running_server

    with running_server(None, log_dir=tmp_path, no_auth=True, dim=DIM) as url:
        paths = httpx.get(url + "/openapi.json").json()["paths"]
    for path in ("/api/v1/spaces/{space}/memories", "/api/v1/spaces/{space}/memories/batch"):
        assert "507" in paths[path]["post"]["responses"], path


def test_max_content_bytes_flag(tmp_path: Path) -> None:
    """--max-content-bytes sets new spaces' content limit (the 105 suite's 10 MiB episodes)."""
    big = "y" * (3 << 19)  # 1.5 MiB: above the 1 MiB default
    with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=DIM, max_content_bytes=2 << 20,
                                max_body_bytes=4 << 20) as sp:  # fmt: skip
        httpx.post(sp.url + "/api/v1/spaces", json={"name": "s", "dim": DIM})
        assert (
            httpx.post(sp.url + "/api/v1/spaces/s/memories", json=_body(1, big), timeout=10).status_code
            == 201
        )
        r = httpx.post(sp.url + "/api/v1/spaces/s/memories", json=_body(2, big * 2), timeout=10)
        assert r.status_code == 400 and "2097152" in r.json()["error"]["message"]
