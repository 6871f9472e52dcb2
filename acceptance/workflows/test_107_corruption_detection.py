"""Workflow 107 (master numbering): data corruption detection.

Each corruption kind (bit flip, truncation, zeroed header, garbage insert:
engram_harness.chaos.corrupt) is injected into a stopped durable store, once into a WAL segment in
the middle of the log and once into the newest checkpoint; then a real engramd opens the store.
For every injection:

- ``engram verify`` (offline, before the server) reports the damaged file;
- the server starts by itself and detects it by checksum: ``engram_corruption_detected_total`` >= 1
  and a ``corruption_quarantined`` log line naming the file;
- the damaged file is in ``quarantine/`` with a report naming the file and the offset;
- what survives is exactly a prefix of the acknowledged writes (a damaged segment: the writes
  before the damage, each with its content; nothing after it is applied) or everything (a damaged
  newest checkpoint: recovery falls back to the older checkpoint and the WAL kept since it);
- the store is whole again: ``validate`` is ok, a new write is accepted, ``engram verify`` is ok.

A truncation of the last segment cannot be told from a crash in the middle of a write (a torn
tail): it is cut, reported (``wal_torn_tail_truncated`` log line, ``engram_wal_torn_tails_truncated_total``)
and not quarantined; that case is checked too, for its telemetry.
Detection rate = detected / injected must be 100%. Quick and full run the same cases (each is a
small store; the full profile uses 4x the records).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import engram
from engram.client import Client
from engram.durability.verify import verify
from engram_harness.chaos.corrupt import KINDS, corrupt
from engram_harness.server import start_server
from engram_harness.suite import CheckRecorder, Profile
from engram_harness.workflows.prometheus import parse_prometheus, series_sum

pytestmark = pytest.mark.workflow
DIM = 16
SEED = 107


def vec(i: int) -> np.ndarray:
    return np.random.default_rng([SEED, i]).standard_normal(DIM).astype(np.float32)


def make_store(path: Path, n: int, split: float) -> tuple[list[int], int, int]:
    """A store of ``n`` writes over small WAL segments (about 30 records each), with two
    checkpoints (after ``split * n`` writes and after ``n``) and 5 writes after them (or, with
    ``split`` 0, one checkpoint after n/4 and the rest of the writes only in the WAL). Returns
    the ids and the two checkpoint LSNs (0 when not written)."""
    with engram.Engine(path, dim=DIM, segment_bytes=4096, checkpoint_interval_s=0,
                       checkpoint_wal_bytes=0) as eng:  # fmt: skip
        sp = eng.create_space("c")
        at = int(n * split) if split else n // 4
        ids = [sp.remember(vec(i), content=f"c{i}") for i in range(at)]
        first = eng.checkpoint()
        ids += [sp.remember(vec(i), content=f"c{i}") for i in range(at, n)]
        second = eng.checkpoint() if split else 0
        ids += [sp.remember(vec(i), content=f"c{i}") for i in range(n, n + 5)]
    return ids, first, second


def log_events(log_path: Path, event: str) -> list[dict[str, object]]:
    out = []
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and f'"event":"{event}"' in line:
            out.append(json.loads(line))
    return out


CASES = [(target, kind) for target in ("wal_segment", "checkpoint") for kind in KINDS]


@pytest.mark.parametrize(("target", "kind"), CASES)
def test_corruption_detected(target: str, kind: str, profile: Profile, checks: CheckRecorder,
                             tmp_path: Path) -> None:  # fmt: skip
    n = profile.pick(120, 480)
    data = tmp_path / "data"
    ids, first_ckpt, second_ckpt = make_store(data, n, 0.0 if target == "wal_segment" else 0.5)
    segs = sorted((data / "wal").glob("wal-*.seg"))
    if target == "wal_segment":
        # A segment that replay needs (after the checkpoint) and that is not the last.
        after = [s for s in segs if int(s.name[4:24]) > first_ckpt]
        assert len(after) >= 2, f"the store should have segments after its checkpoint: {segs}"
        victim = after[-2]
    else:
        victim = data / f"checkpoint-{second_ckpt:020d}.ckpt"
    what = corrupt(victim, kind)
    label = f"{target} {kind}"
    print(f"{label}: {victim.name}: {what}")

    offline = verify(data)
    flagged = not offline["ok"] and any(i["file"] == str(victim) for i in offline["issues"])
    sp_proc = start_server(data, log_dir=tmp_path / "logs", dim=DIM, no_auth=True)
    try:
        with Client(sp_proc.url) as c:
            samples = parse_prometheus(c.prometheus())
            space = c.space("c")
            present = [i for i in ids if _exists(space, i)]
            contents_ok = all(space.get(i).content == f"c{ids.index(i)}" for i in present)
            valid = space.validate()
            new_id = space.remember(vec(10**6), "after-recovery")
        code = sp_proc.stop()
    finally:
        if sp_proc.exit_code is None:
            sp_proc.stop()
    quarantined = log_events(sp_proc.log_path, "corruption_quarantined")
    named = [e for e in quarantined if e.get("file") == str(victim)]
    reports = sorted((data / "quarantine").glob(f"{victim.name}*.report.txt"))
    detected = series_sum(samples, "engram_corruption_detected_total") >= 1 and bool(named)

    checks.check(f"{label}: engram verify reports the damaged file", int(flagged), "==", 1)
    checks.check(f"{label}: detected by the server (metric and log line)", int(detected), "==", 1)
    checks.check(f"{label}: quarantine reports for the file", len(reports), "==", 1)
    if reports:
        text = reports[0].read_text()
        checks.check(f"{label}: the report names the file and the offset",
                     int(f"file: {victim}" in text and "offset: " in text), "==", 1)  # fmt: skip
    prefix = present == ids[: len(present)]
    checks.check(f"{label}: what survives is a prefix of the writes", int(prefix), "==", 1)
    checks.check(f"{label}: surviving writes read back with their content", int(contents_ok), "==", 1)
    if target == "checkpoint":  # the older checkpoint and the WAL since it hold everything
        checks.check(f"{label}: writes lost", len(ids) - len(present), "==", 0)
    else:  # the damage is in the log: the writes before it survive, none after it
        checks.check(f"{label}: writes recovered (a non-empty prefix)", len(present), ">", 0)
        checks.check(f"{label}: writes after the damage applied", int(len(present) < len(ids)), "==", 1)
    checks.check(f"{label}: validate ok after recovery", int(valid["ok"]), "==", 1)
    checks.check(f"{label}: a write accepted after recovery", int(new_id > 0), "==", 1)
    checks.check(f"{label}: clean stop", code or 0, "==", 0)
    checks.check(f"{label}: engram verify ok after recovery", int(verify(data)["ok"]), "==", 1)
    checks.assert_all()


def test_truncated_last_segment_is_a_reported_torn_tail(checks: CheckRecorder, tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids, _, _ = make_store(data, 120, 0.0)
    last = sorted((data / "wal").glob("wal-*.seg"))[-1]
    corrupt(last, "truncation", last.stat().st_size - 10)
    sp_proc = start_server(data, log_dir=tmp_path / "logs", dim=DIM, no_auth=True)
    try:
        with Client(sp_proc.url) as c:
            samples = parse_prometheus(c.prometheus())
            present = [i for i in ids if _exists(c.space("c"), i)]
    finally:
        sp_proc.stop()
    torn = [e for e in log_events(sp_proc.log_path, "wal_torn_tail_truncated") if e.get("file") == str(last)]
    checks.check("last segment truncated: torn-tail log line", len(torn), "==", 1)
    checks.check("last segment truncated: engram_wal_torn_tails_truncated_total",
                 series_sum(samples, "engram_wal_torn_tails_truncated_total"), "==", 1)  # fmt: skip
    checks.check("last segment truncated: writes before the cut kept (all but the cut one)",
                 len(ids) - len(present), "==", 1)  # fmt: skip
    checks.check(
        "last segment truncated: what survives is a prefix", int(present == ids[: len(present)]), "==", 1
    )
    checks.assert_all()


def _exists(space: object, mid: int) -> bool:
    from engram.client.errors import MemoryNotFound

    try:
        space.get(mid)  # type: ignore[attr-defined]
    except MemoryNotFound:
        return False
    return True
