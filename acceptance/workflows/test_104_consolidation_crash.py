"""Workflow 104: a real crash during consolidation, at each of its five crash points, and recovery.

For each point, a durable engramd of the test build (crash points compiled in: docs/faults.md)
holds N clustered 768-d episodes; a consolidation through the public API hits the point, where the
fault plan (``ENGRAM_FAULTS=crash=consolidation.<point>``) SIGKILLs the process. The server is
then started again on the same data directory, without the plan, and must:

- recover by itself (it starts and answers: no operator step) and report the crash: the metric
  ``engram_crash_detected_total{crash_point="consolidation.<point>"}`` and a ``crash_detected``
  log line naming the point, within 30 s of the death;
- hold every episode acknowledged before the crash (episode count, and the history checker over
  every write: none lost, none duplicated, no phantom);
- have no concept without a binding and every binding on both sides (the server's validate, the
  public concept/episode lists, and the recovery metrics ``engram_orphaned_concepts_detected_total``
  and ``engram_partial_bindings_detected_total``, both 0);
- have a WAL whose LSNs strictly increase and whose every concept record carries its bindings
  (engram.durability.inspect.check_wal, read after the crash and after the final clean stop);
- consolidate again successfully, and recall no slower than a server that never crashed: a control
  engramd holding the same episodes runs beside it, and recall requests alternate between the two
  (so both see the same load on a shared host), judged by the gate's rule
  (engram_harness.stats.compare: Mann-Whitney plus a bootstrap interval of the median ratio, 5%
  threshold). The same comparison against the crashed server's own latencies before the crash is
  printed too (it is exposed to the host's load drift between the two phases, so it is not gated).

Quick: 1,000 episodes per point; full: 10,000. Latency samples: 1,000 / 5,000 per side.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engram.client import Client, RetryPolicy
from engram.durability.inspect import check_wal
from engram_harness.chaos import History, RestartableServer, check, read_final_state
from engram_harness.server import ServerProcess, start_server
from engram_harness.stats import compare
from engram_harness.suite import CheckRecorder
from engram_harness.workflows.prometheus import parse_prometheus, series_sum

pytestmark = pytest.mark.workflow
SEED = 104
DIM = 768
POINTS = ("pre_clustering", "mid_clustering", "pre_concept_write", "mid_binding_write", "post_consolidation")
# Which hit of the point crashes. mid_binding_write: the second concept of the run, so the first
# one's record is durable (its commit returned) and the second dies half-applied in memory, its
# record appended but not yet written: recovery must keep the first whole and drop the second.
NTH = {"mid_binding_write": 2}
CLUSTERS = 40
BATCH = 200
DETECT_S = 30.0  # crash detected within (seeds: ProcessCrashDetected < 30 s)
RECOVERY_S = 15 * 60.0  # RTO
LATENCY_THRESHOLD = 0.05


def clustered(rng: np.random.Generator, centers: np.ndarray, n: int) -> np.ndarray:
    """``n`` episodes around the centers (so consolidation forms concepts), unit length."""
    x = centers[rng.integers(0, len(centers), n)] + 0.35 * rng.standard_normal((n, DIM)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def workload(n: int, n_cues: int) -> tuple[np.ndarray, np.ndarray]:
    """The episodes and the recall cues, the same for every point and the control server."""
    rng = np.random.default_rng(SEED)
    centers = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)
    return clustered(rng, centers, n), clustered(rng, centers, n_cues + WARMUP)


def sizes(config: pytest.Config) -> tuple[int, int]:
    """Episodes per point and latency samples per side, by profile."""
    quick = str(config.getoption("--profile")) == "quick"
    return (1_000, 1_000) if quick else (10_000, 5_000)


WARMUP = 50


def recall_latencies(spaces: list, cues: np.ndarray) -> list[np.ndarray]:  # type: ignore[type-arg]
    """Per-request wall time (s) of ``recall`` (episodic, k=10) on each space, one cue per request;
    the spaces take turns, in an order that alternates, so they share the host's load. Episodic:
    the structures recovery rebuilds (records, vector index), not the concepts, whose number
    legitimately differs by crash point (blended recall scores them too)."""
    for cue in cues[:WARMUP]:  # warm the connections and the servers' caches
        for sp in spaces:
            sp.recall(cue, k=10, mode="episodic")
    out = [np.empty(len(cues) - WARMUP) for _ in spaces]
    for i, cue in enumerate(cues[WARMUP:]):
        order = range(len(spaces)) if i % 2 == 0 else reversed(range(len(spaces)))
        for j in order:
            t0 = time.perf_counter()
            spaces[j].recall(cue, k=10, mode="episodic")
            out[j][i] = time.perf_counter() - t0
    return out


@pytest.fixture
def control(engramd_test_build: str, request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:  # fmt: skip
    """A durable engramd with the same episodes that is never crashed: the latency reference (one
    per point: its concepts are made to match the recovered server's)."""
    n, n_lat = sizes(request.config)
    episodes, _ = workload(n, n_lat)
    root = tmp_path_factory.mktemp("control")
    sp = start_server(
        root / "data", log_dir=root / "logs", command=[engramd_test_build], dim=DIM, no_auth=True, max_k=1000
    )
    try:
        with Client(sp.url, timeout=60) as c:
            space = c.create_space("crash", dim=DIM)
            for b in range(0, n, BATCH):
                space.remember_batch(
                    episodes[b : b + BATCH], [f"control-{i}" for i in range(b, min(n, b + BATCH))]
                )
        yield sp
    finally:
        sp.stop()


def wait_dead(server: RestartableServer, timeout_s: float) -> tuple[int | None, float]:
    """The crashed process's exit status and the monotonic time it was seen dead."""
    proc = server.current.proc  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:  # bounded by timeout_s
        time.sleep(0.005)
    return proc.poll(), time.monotonic()


@pytest.mark.parametrize("point", POINTS)
def test_consolidation_crash(point: str, engramd_test_build: str, control: ServerProcess, request: pytest.FixtureRequest,
                             checks: CheckRecorder, tmp_path: Path) -> None:  # fmt: skip
    n, n_lat = sizes(request.config)
    site = f"consolidation.{point}"
    episodes, cues = workload(n, n_lat)
    history = History()
    server = RestartableServer(tmp_path / "data", log_dir=tmp_path / "logs", dim=DIM, no_auth=True,
                               command=[engramd_test_build], max_k=1000)  # fmt: skip
    server.start(env={"ENGRAM_FAULTS": f"crash={site}:{NTH.get(point, 1)}"})
    try:
        with Client(server.url, retry=RetryPolicy(attempts=1), timeout=60) as c:
            sp = c.create_space("crash", dim=DIM)
            for b in range(0, n, BATCH):
                contents = [f"p{point}-e{i}" for i in range(b, min(n, b + BATCH))]
                idx = [history.invoke_write(t, None, episodes[b + j]) for j, t in enumerate(contents)]
                ids = sp.remember_batch(episodes[b : b + len(contents)], contents)
                for i, mid in zip(idx, ids, strict=True):
                    history.ok(i, memory_id=int(mid))
            before_count = int(sp.stats()["episodes"])
            (before,) = recall_latencies([sp], cues)
            with pytest.raises(Exception) as crash:  # the server dies inside the request
                sp.consolidate()
        status, died_at = wait_dead(server, 60.0)
        print(f"{site}: consolidate ended with {type(crash.value).__name__}; exit status {status}")
        checks.check(f"{point}: server killed at the crash point (exit status -9)", status or 0, "==", -9)

        wal_crashed = check_wal(tmp_path / "data")  # what the dead process left, before recovery
        server.start()  # the restart: no fault plan, same data and port
        ready_at = time.monotonic()
        with Client(server.url, timeout=60) as c, Client(control.url, timeout=60) as cc:
            samples = parse_prometheus(c.prometheus())
            detected_at = time.monotonic()
            sp = c.space("crash")
            after_count = int(sp.stats()["episodes"])
            val = sp.validate()
            concepts = sp.concepts()
            one_sided = 0
            for con in concepts:
                members = sp.concept_members(con.id)
                one_sided += sum(con.id not in sp.episode_concepts(m) for m in members)
            state = read_final_state(sp, history, k=4, count_records=False)
            ref_space = cc.space("crash")
            if concepts:  # the crashed run committed concepts: the same ones on the control
                ref_space.consolidate(max_concepts_per_run=len(concepts))
            ref_concepts = len(ref_space.concepts())
            after, reference = recall_latencies([sp, ref_space], cues)
            report = sp.consolidate()
            val_after = sp.validate()
        exit_code = server.stop()
        wal_final = check_wal(tmp_path / "data")
    finally:
        server.stop()

    crash_series = series_sum(samples, "engram_crash_detected_total", crash_point=site)
    logs = server.log_lines()
    crash_lines = [ln for ln in logs if '"crash_detected"' in ln and f'"crash_point":"{site}"' in ln]
    rep = check(history, state)
    verdict = compare(reference, after, threshold=LATENCY_THRESHOLD, seed=SEED)
    drift = compare(before, after, threshold=LATENCY_THRESHOLD, seed=SEED)
    recovery_s = series_sum(samples, "engram_wal_recovery_duration_seconds")
    print(rep.summary())
    print(f"{site}: recovered vs control (gated): {verdict.summary()}")
    print(f"{site}: after vs before the crash (not gated): {drift.summary()}")
    print(f"{site}: WAL after crash {wal_crashed.to_dict()}; final {wal_final.to_dict()}")
    print(f"{site}: recovery {recovery_s:.3f} s, replayed "
          f"{series_sum(samples, 'engram_wal_entries_replayed_total'):.0f}, concepts {len(concepts)}, "
          f"post-recovery consolidation formed {report.concepts_formed}")  # fmt: skip

    checks.check(
        f"{point}: crash detected by the metric (engram_crash_detected_total)", crash_series, "==", 1
    )
    checks.check(f"{point}: crash_detected log lines naming the point", len(crash_lines), "==", 1)
    checks.check(f"{point}: crash detected after death", detected_at - died_at, "<", DETECT_S, "s")
    checks.check(f"{point}: restart to ready (automatic recovery)", ready_at - died_at, "<", RECOVERY_S, "s")
    checks.check(f"{point}: WAL recovery duration", recovery_s, "<", RECOVERY_S, "s")
    checks.check(f"{point}: episodes after recovery minus before", after_count - before_count, "==", 0)
    checks.check(f"{point}: episodes before the crash", before_count, "==", n)
    checks.check(f"{point}: acknowledged writes lost", len(rep.lost), "==", 0)
    checks.check(f"{point}: writes stored twice", len(rep.duplicated), "==", 0)
    checks.check(f"{point}: phantom operations", len(rep.phantom), "==", 0)
    checks.check(f"{point}: orphaned concepts detected (metric)",
                 series_sum(samples, "engram_orphaned_concepts_detected_total"), "==", 0)  # fmt: skip
    checks.check(f"{point}: partial bindings detected (metric)",
                 series_sum(samples, "engram_partial_bindings_detected_total"), "==", 0)  # fmt: skip
    checks.check(f"{point}: concepts without a binding (validate)", val["orphaned_concepts"], "==", 0)
    checks.check(f"{point}: one-sided bindings (validate)", val["one_sided_bindings"], "==", 0)
    checks.check(f"{point}: members whose episode does not list the concept", one_sided, "==", 0)
    checks.check(f"{point}: validate ok after recovery", int(val["ok"]), "==", 1)
    for when, w in (("after the crash", wal_crashed), ("after the final stop", wal_final)):
        checks.check(f"{point}: WAL LSN regressions {when}", len(w.lsn_regressions), "==", 0)
        checks.check(f"{point}: WAL concept records without bindings {when}",
                     len(w.concepts_without_bindings) + len(w.bindings_not_members), "==", 0)  # fmt: skip
        checks.check(f"{point}: WAL damaged files or records {when}", len(w.problems), "==", 0)
    checks.check(f"{point}: validate ok after the post-recovery consolidation", int(val_after["ok"]), "==", 1)
    checks.check(f"{point}: clean exit after recovery", exit_code or 0, "==", 0)
    checks.check(f"{point}: concepts on the control minus on the recovered server", ref_concepts - len(concepts),
                 "==", 0, note="the latency comparison needs the same content on both")  # fmt: skip
    checks.check(f"{point}: recall latency regression vs a never-crashed server (gate rule)",
                 int(verdict.regression), "==", 0, note=verdict.summary())  # fmt: skip
    checks.assert_all()
