"""Workflow 113 (plan numbering: zero-downtime migration; the master's 115), the part built so far:
an episodic-only engine becomes a dual-memory engine without a restart, by feature flags changed
at run time and a staged rollout (cpp/server/rollout.hpp, docs/operations/README.md section 7).

One engramd process serves throughout (its pid is checked at the end):

1. it starts episodic-only: ``blended_recall``, ``fan_effect`` and ``concept_formation`` off
   (``PUT /api/v2/admin/features``), and takes episodes of clustered topics;
2. concept formation is switched on and background consolidation started, without a restart,
   until concepts cover the topics;
3. blended recall is rolled out by stages, shadow, 1%, 10%, 50%, 100%, to a population of users
   (each request carries its user's ``Engram-Rollout-Key``). At every stage: the share of users
   served the new path is the stage's within a binomial 99.9% interval; a user never goes back
   from on to off; no request fails. In shadow, every recall is served from the old path and
   measured on the new one (``engram_rollout_shadow_*``);
4. the differential check (seeds, plan 113: "< 5% deviation between single- and dual-type
   engines"): the suite's metric, precision@10 of recall against each cue's topic, differs by less
   than 5% (relative) between the requests served by the two paths;
5. at 100% the flag is made durable and the rollout ended in one call.

Quick: 600 users, 2,000 episodes; full: 3,000 users, 10,000 episodes.

The upgrade and rollback across releases (full profile, ``./dev nightly``: it builds the previous
release's engramd from its tag, about 10 minutes here): one store served by N-1 (``v0.1.0``),
then N (this tree), then N-1 again, each for a phase, with clients writing, reading and streaming
throughout. Each change is a graceful stop (SIGTERM, drained) and a start of the other release
on the same store and port; the clients ride through on their retries (``v0.1.0`` has no socket
hand-over), with idempotency keys so a retried write is stored once. The history checker then
finds every acknowledged write in the final store with its content, none stored twice; no write
was left failed or unknown to its caller; the stream's observations are each acknowledged and
stored once. The store crosses a format change on the way: N converts the N-1 store (format 1)
to format 2 as it opens (``--migrate``), and before N-1 serves again ``engramd migrate --to 1``
rolls it back, which it can since nothing of format 2 only (a rollout stage) is in the store.

The migrator on the stored fixtures (quick, in CI; docs/format.md, Migration): each stored
format-1 store (``tests/fixtures/store-v1*``) is dry-run (nothing changes), converted by engramd as
it opens and served with every memory's content as recorded, written to; a rollback is refused
while a rollout stage is stored and runs once it is ended; the rolled-back store is format 1 in
every file, and converts again with the write made in format 2.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from engram.client import Client, RemoteSpace
from engram.client.stream import ObservationStream
from engram.server.launcher import find_engramd
from engram_harness.chaos.checker import check, read_final_state
from engram_harness.chaos.history import History, Outcome
from engram_harness.chaos.workload import RecordedWorkload
from engram_harness.clients.previous import PREVIOUS_RELEASE, previous_engramd
from engram_harness.server import free_port, running_server_process, start_server
from engram_harness.suite import CheckRecorder, Profile
from engram_harness.workflows.prometheus import parse_prometheus, series_sum

pytestmark = pytest.mark.workflow
DIM = 32
TOPICS = 20
K = 10
NOISE = 1.0  # per dimension, against unit-variance topic centres: topics overlap, precision < 1
STAGES = [("shadow", 0.0), ("1%", 1.0), ("10%", 10.0), ("50%", 50.0), ("100%", 100.0)]


def _binomial_interval(n: int, p: float, z: float = 3.29) -> tuple[float, float]:
    """The share of n Bernoulli(p) draws within z standard deviations (3.29: 99.9%), plus one draw."""
    sd = math.sqrt(p * (1 - p) / n) if n else 0.0
    return max(0.0, p - z * sd - 1 / n), min(1.0, p + z * sd + 1 / n)


def test_episodic_only_to_dual_memory_without_restart(
    profile: Profile, checks: CheckRecorder, tmp_path: Path
) -> None:
    users = profile.pick(600, 3000)
    episodes = profile.pick(2000, 10000)
    rng = np.random.default_rng(113)
    centres = rng.standard_normal((TOPICS, DIM)).astype(np.float32)
    topic = rng.integers(0, TOPICS, episodes)
    vecs = centres[topic] + NOISE * rng.standard_normal((episodes, DIM)).astype(np.float32)
    errors = 0
    with running_server_process(tmp_path / "data", no_auth=True, dim=DIM, log_dir=tmp_path) as server, \
            httpx.Client(base_url=server.url + "/api/v2", timeout=30) as http:  # fmt: skip
        pid = server.proc.pid
        flags = http.put("/admin/features", json={"blended_recall": False, "fan_effect": False,
                                                  "concept_formation": False}).json()  # fmt: skip
        checks.check("starts episodic-only (three flags off)", sum(bool(flags[f]) for f in
                     ("blended_recall", "fan_effect", "concept_formation")), "==", 0)  # fmt: skip
        http.post("/spaces", json={"name": "kb", "dim": DIM}).raise_for_status()
        topic_of: dict[str, int] = {}
        for lo in range(0, episodes, 500):  # bounded: episodes / 500 batches
            hi = min(lo + 500, episodes)
            r = http.post("/spaces/kb/memories/batch",
                          json={"items": [{"embedding": v.tolist()} for v in vecs[lo:hi]]})  # fmt: skip
            r.raise_for_status()
            topic_of.update(
                zip((int(i) for i in r.json()["ids"]), (int(t) for t in topic[lo:hi]), strict=True)
            )
        # 2. dual memory switched on at run time: formation and background consolidation
        http.put("/admin/features", json={"concept_formation": True}).raise_for_status()
        http.post("/consolidation/start", json={"interval_s": 0.5}).raise_for_status()
        deadline = time.monotonic() + 120
        concepts = 0
        while time.monotonic() < deadline:  # bounded by the deadline
            concepts = len(http.get("/spaces/kb/concepts", params={"limit": 1000}).json()["concepts"])
            if concepts >= TOPICS // 2:
                break
            time.sleep(0.5)
        http.post("/consolidation/stop").raise_for_status()
        checks.check("concepts formed without a restart", concepts, ">=", TOPICS // 2)
        http.put("/admin/features", json={"fan_effect": True}).raise_for_status()

        cues_topic = rng.integers(0, TOPICS, users)
        cues = centres[cues_topic] + NOISE * rng.standard_normal((users, DIM)).astype(np.float32)
        on_before: set[int] = set()
        precision: dict[bool, list[float]] = {True: [], False: []}
        for name, pct in STAGES:
            stage = {"percent": pct, "shadow": name == "shadow"}
            http.put("/admin/features", json={"rollout": {"blended_recall": stage}}).raise_for_status()
            shadow0 = _shadow_recalls(server.url)
            on_now: set[int] = set()
            for u in range(users):
                r = http.post("/spaces/kb/recall", json={"cue": cues[u].tolist(), "k": K},
                              headers={"Engram-Rollout-Key": f"user-{u}"})  # fmt: skip
                if r.status_code != 200:
                    errors += 1
                    continue
                on = r.headers.get("engram-features") == "blended_recall=on"
                if on:
                    on_now.add(u)
                hits = [topic_of.get(int(x["id"])) == int(cues_topic[u]) for x in r.json()["results"]
                        if x["kind"] == "episode"]  # fmt: skip
                if hits:
                    precision[on].append(sum(hits) / len(hits))
            lo, hi = _binomial_interval(users, pct / 100)
            share = len(on_now) / users
            checks.check(f"{name}: share of users on the new path", share, "in", (lo, hi))
            checks.check(f"{name}: users moved back from on to off", len(on_before - on_now), "==", 0)
            if name == "shadow":
                measured = _shadow_recalls(server.url) - shadow0
                checks.check("shadow: every recall measured on the new path", measured, "==", users)
            on_before = on_now
        p_on, p_off = float(np.mean(precision[True])), float(np.mean(precision[False]))
        deviation = abs(p_on - p_off) / max(p_off, 1e-9)
        checks.check("differential: precision@10, dual vs episodic-only (relative)", 100 * deviation, "<", 5.0, "%",
                     note=f"dual {p_on:.4f} over {len(precision[True])} recalls, episodic-only {p_off:.4f} "
                          f"over {len(precision[False])}")  # fmt: skip
        final = http.put(
            "/admin/features", json={"blended_recall": True, "rollout": {"blended_recall": None}}
        ).json()
        checks.check(
            "at 100%: the flag durable and the rollout ended",
            int(final["blended_recall"] is True and final["rollout"]["blended_recall"] is None),
            "==",
            1,
        )
        checks.check("requests failed", errors, "==", 0)
        checks.check("the same server process throughout (no restart)", int(server.proc.pid == pid and
                     server.proc.poll() is None), "==", 1)  # fmt: skip
    checks.assert_all()


FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"


def _digest(store: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(store.rglob("*")):
        if p.is_file() and p.name != "LOCK":
            h.update(str(p.relative_to(store)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _migrate(engramd: str, data: Path, *args: str) -> tuple[int, dict, str]:
    """``engramd migrate``: its exit status, its report (the last JSON line) and its stderr."""
    r = subprocess.run([engramd, "migrate", "--data", str(data), *args], capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    return r.returncode, (lines[-1] if lines else {}), r.stderr


def _majors(store: Path) -> set[int]:
    """The major version in every checkpoint and segment header (docs/format.md), read directly."""
    files = [*store.glob("checkpoint-*.ckpt"), *(store / "wal").glob("wal-*.seg")]
    return {int.from_bytes(p.read_bytes()[4:8], "little") for p in files}


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("store-v1*") if p.is_dir()))
def test_store_migrator_and_rollback_on_the_stored_fixtures(fixture: str, checks: CheckRecorder,
                                                            tmp_path: Path) -> None:  # fmt: skip
    engramd = find_engramd()
    assert engramd is not None, "engramd of this tree is not installed"
    expected = json.loads((FIXTURES / f"{fixture}.expected.json").read_text())["contents"]["spaces"]
    data = tmp_path / "data"
    shutil.copytree(FIXTURES / fixture, data)
    before = _digest(data)
    code, dry, err = _migrate(engramd, data, "--dry-run")
    checks.check("dry run: exit status", code, "==", 0, note=err[-300:])
    checks.check("dry run: from format", dry.get("from", 0), "==", 1)
    checks.check("dry run: to format", dry.get("to", 0), "==", 2)
    checks.check("dry run: spaces it would convert", dry.get("spaces"), "==", len(expected))
    checks.check("dry run: episodes it would convert", dry.get("episodes"), "==",
                 sum(s["episodes"] for s in expected.values()))  # fmt: skip
    checks.check("dry run: files changed", int(_digest(data) != before), "==", 0)
    memories = [(name, m) for name, sp in expected.items() for m in sp["memories"]]
    with running_server_process(data, no_auth=True, dim=8, log_dir=tmp_path, migrate=True) as server, \
            httpx.Client(base_url=server.url + "/api/v2", timeout=30) as http:  # fmt: skip
        migrated = server.events("store_migrated")
        checks.check("converted as engramd opened it (from format)",
                     migrated[0]["from_format"] if migrated else 0, "==", 1)  # fmt: skip
        checks.check("progress reported while converting", len(server.events("store_migration")), ">", 0)
        served = sum(
            1 for name, m in memories
            if (r := http.get(f"/spaces/{name}/memories/{m['id']}")).status_code == 200
            and (r.json()["content"], r.json()["kind"]) == (m["content"], m["kind"])
        )  # fmt: skip
        checks.check("memories served with their recorded content and kind", served, "==", len(memories))
        space = sorted(expected)[0]
        dim = expected[space]["dim"]
        r = http.post(
            f"/spaces/{space}/memories", json={"embedding": [0.5] * dim, "content": "after format 2"}
        )
        checks.check("a write in format 2", r.status_code, "==", 201)
        new_id = r.json().get("id") if r.status_code == 201 else None
        http.put("/admin/features", json={"rollout": {"fan_effect": {"percent": 10}}}).raise_for_status()
    blocked = _digest(data)
    code, _, err = _migrate(engramd, data, "--to", "1")
    checks.check("rollback with a rollout stage stored: refused", code, "==", 1)
    checks.check(
        "rollback refused: the reason names the stage", int("fan_effect has a rollout stage" in err), "==", 1
    )
    checks.check("rollback refused: files changed", int(_digest(data) != blocked), "==", 0)
    with running_server_process(data, no_auth=True, dim=8, log_dir=tmp_path) as server:
        httpx.put(
            server.url + "/api/v2/admin/features", json={"rollout": {"fan_effect": None}}
        ).raise_for_status()
    code, back, err = _migrate(engramd, data, "--to", "1")
    checks.check("rollback to format 1 once the stage is ended", int(code == 0 and back.get("changed") is True), "==", 1,
                 note=err[-300:])  # fmt: skip
    checks.check("rolled back: FORMAT is engram-store 1", int((data / "FORMAT").read_text() == "engram-store 1\n"),
                 "==", 1)  # fmt: skip
    checks.check("rolled back: files of a major version other than 1", len(_majors(data) - {1}), "==", 0)
    code, up, err = _migrate(engramd, data, "--to", "2")
    checks.check("converted again to format 2", int(code == 0 and up.get("changed") is True), "==", 1,
                 note=err[-300:])  # fmt: skip
    with running_server_process(data, no_auth=True, dim=8, log_dir=tmp_path) as server, \
            httpx.Client(base_url=server.url + "/api/v2", timeout=30) as http:  # fmt: skip
        r = http.get(f"/spaces/{space}/memories/{new_id}")
        checks.check("the format-2 write kept through rollback and upgrade",
                     int(r.status_code == 200 and r.json().get("content") == "after format 2"), "==", 1)  # fmt: skip
        count = sum(
            1 for name, m in memories if http.get(f"/spaces/{name}/memories/{m['id']}").status_code == 200
        )
        checks.check("every recorded memory still served", count, "==", len(memories))
    checks.assert_all()


def _shadow_recalls(url: str) -> float:
    samples = parse_prometheus(httpx.get(url + "/metrics").text)
    return series_sum(samples, "engram_rollout_shadow_recalls_total", flag="blended_recall")


class _Streamer:
    """An observation stream that sends one observation every ``pause_s`` until stopped, through
    whatever restarts happen meanwhile (the client reconnects and resends by itself)."""

    def __init__(self, url: str, space: str, dim: int, pause_s: float) -> None:
        self.stream = ObservationStream(url, space, api_version="v1")
        self.sent: list[tuple[int, str]] = []  # (index, content)
        self.dim, self.pause_s = dim, pause_s
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="upgrade-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        rng = np.random.default_rng(1130)
        try:
            while not self._stop.is_set():  # bounded by stop()
                content = f"obs-{len(self.sent)}"
                i = self.stream.send(rng.standard_normal(self.dim).astype(np.float32), content=content)
                self.sent.append((i, content))
                self._stop.wait(self.pause_s)
        except BaseException as e:
            self.error = e

    def finish(self) -> dict[int, int]:
        self._stop.set()
        self._thread.join(30)
        acked = self.stream.flush(timeout=120)
        self.stream.close()
        return acked


def test_upgrade_and_rollback_across_releases_with_clients_writing(profile: Profile, checks: CheckRecorder,
                                                                   tmp_path: Path) -> None:  # fmt: skip
    if profile.name == "quick":
        pytest.skip(f"builds {PREVIOUS_RELEASE}'s engramd from its tag (about 10 minutes here): full profile, "
                    "./dev nightly")  # fmt: skip
    old, new = str(previous_engramd()), find_engramd()
    assert new is not None, "engramd of this tree is not installed"
    dim, phase_s = 16, 60.0
    opts = dict(no_auth=True, dim=dim, log_dir=tmp_path, port=free_port())
    data = tmp_path / "data"
    history = History()
    server = start_server(data, command=[old], **opts)
    with Client(server.url, api_version="v1") as c:
        c.create_space("up", dim=dim)
    workload = RecordedWorkload(server.url, "up", history, dim=dim, writers=2, readers=1, seed=113, timeout_s=5.0,
                                retries=100, pause_s=0.01, api_version="v1", ride_through=True).start()  # fmt: skip
    streamer = _Streamer(server.url, "up", dim, 0.02)
    phases = [(f"N-1 ({PREVIOUS_RELEASE})", old), ("N", new), (f"N-1 ({PREVIOUS_RELEASE}) again", old)]
    acked_before = 0
    try:
        for i, (label, binary) in enumerate(phases):
            if i > 0:
                t0 = time.monotonic()
                code = server.stop()
                if binary == old:  # N-1 reads format 1 only: N's migrator rolls the store back first
                    rc, back, err = _migrate(new, data, "--to", "1")
                    checks.check(f"{label}: rollback to format 1 (engramd migrate --to 1)",
                                 int(rc == 0 and back.get("changed") is True), "==", 1, note=err[-300:])  # fmt: skip
                server = start_server(
                    data, command=[binary], **(dict(opts, migrate=True) if binary == new else opts)
                )
                checks.check(f"{label}: the previous server stopped cleanly", code, "==", 0)
                checks.check(f"{label}: stop and start", time.monotonic() - t0, "<", 30.0, "s")
                if binary == new:
                    migrated = server.events("store_migrated")
                    checks.check(f"{label}: converted the store from format 1 as it opened",
                                 migrated[0]["from_format"] if migrated else 0, "==", 1)  # fmt: skip
            fmt = int((data / "FORMAT").read_text().split()[-1])
            checks.check(f"{label}: store format", fmt, "==", 2 if binary == new else 1)
            v2 = httpx.get(server.url + "/api/v2/spaces").status_code
            checks.check(f"{label}: serves API v2 only when N", int(v2 == 200), "==", int(binary == new))
            time.sleep(phase_s)
            acked = sum(
                1 for op in history.operations() if op.outcome is Outcome.OK and op.content is not None
            )
            checks.check(f"{label}: writes acknowledged in the phase", acked - acked_before, ">", 0)
            acked_before = acked
    finally:
        workload.stop()
        stream_acked = streamer.finish()
    with Client(server.url, api_version="v1") as c:
        state = read_final_state(RemoteSpace(c, "up"), history, count_records=False)
        stored = {i: c.space("up").get(mid).content for i, mid in stream_acked.items()}
    server.stop()
    report = check(history, state)
    report.record(checks, " across N-1, N, N-1")
    left = [(w.content, w.invocations[-1].error) for w in history.writes() if not w.acked]
    checks.check("writes left failed or unknown to their caller", len(left), "==", 0, note=str(left[:5]))
    retried = sum(1 for w in history.writes() if len(w.invocations) > 1)
    # the restarts did reach the clients: some writes needed their retries (else nothing was tested)
    checks.check("writes that rode through a restart on retries", retried, ">", 0)
    checks.check("stream: observations sent", len(streamer.sent), ">", 0)
    checks.check("stream: observations acknowledged", len(stream_acked), "==", len(streamer.sent),
                 note=f"error: {streamer.error!r}")  # fmt: skip
    checks.check("stream: stored with their content, each once",
                 sum(stored.get(i) == content for i, content in streamer.sent), "==", len(streamer.sent))  # fmt: skip
    checks.check("stream: distinct ids", len(set(stream_acked.values())), "==", len(stream_acked))
    checks.assert_all()
