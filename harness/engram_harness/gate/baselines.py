"""Stored gate baselines, one per machine fingerprint, under ``acceptance/baselines/``.

Absolute latencies differ between machines, so a stored baseline is only ever compared with runs on
a machine with the same fingerprint key (CPU model, logical cores, SIMD level, architecture). Even
then it cannot see what changed on the machine since it was recorded (kernel, load, thermal state),
which is why the gate prefers a baseline re-measured in the same job (A/B interleaved) and uses a
stored one only when the base commit cannot be built (``--against stored``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engram_harness.driver.result import RunResult
from engram_harness.runs.fingerprint import fingerprint_key

META = "baseline.json"
SAMPLES = "runs.npz"


def baseline_dir(root: Path, fingerprint: dict[str, Any]) -> Path:
    """``root/<readable prefix>-<hash of the fingerprint key>``."""
    key = fingerprint_key(fingerprint)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    prefix = "".join(ch if ch.isalnum() else "-" for ch in str(fingerprint.get("cpu_model", "cpu")))[:40]
    return root / f"{prefix.strip('-').lower()}-{digest}"


def save_baseline(
    root: Path, fingerprint: dict[str, Any], runs: Sequence[RunResult], info: dict[str, Any]
) -> Path:
    """Store ``runs`` (their per-operation outcomes) as the baseline of this machine; returns its folder."""
    d = baseline_dir(root, fingerprint)
    d.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for i, r in enumerate(runs):
        arrays[f"op_{i}"] = r.op
        arrays[f"latency_ns_{i}"] = r.latency_ns
        arrays[f"error_code_{i}"] = r.error_code
        arrays[f"intended_start_ns_{i}"] = r.intended_start_ns
    np.savez_compressed(d / SAMPLES, **arrays)
    meta = {
        **info,
        "fingerprint_key": fingerprint_key(fingerprint),
        "fingerprint": fingerprint,
        "recorded_at_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "runs": [
            {"scenario": r.scenario, "seed": r.seed, "executor": r.executor, "op_names": list(r.op_names),
             "error_classes": list(r.error_classes), "duration_s": r.duration_s, "wall_time_s": r.wall_time_s}
            for r in runs
        ],
    }  # fmt: skip
    (d / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return d


def load_baseline(root: Path, fingerprint: dict[str, Any]) -> tuple[list[RunResult], dict[str, Any]]:
    """The stored runs of this machine; ``FileNotFoundError`` says how to record them when missing."""
    d = baseline_dir(root, fingerprint)
    if not (d / META).is_file():
        raise FileNotFoundError(
            f"no stored gate baseline for this machine ({fingerprint_key(fingerprint)!r}) in {d}; "
            "record one with `./dev gate --record-baseline` on this machine"
        )
    meta = json.loads((d / META).read_text(encoding="utf-8"))
    runs = []
    with np.load(d / SAMPLES, allow_pickle=False) as z:
        for i, m in enumerate(meta["runs"]):
            n = z[f"op_{i}"].size
            runs.append(
                RunResult(
                    scenario=m["scenario"],
                    seed=int(m["seed"]),
                    executor=m["executor"],
                    op_names=tuple(m["op_names"]),
                    space_names=("default",),
                    op=z[f"op_{i}"],
                    space=np.zeros(n, dtype=np.int16),
                    intended_start_ns=z[f"intended_start_ns_{i}"],
                    actual_start_ns=np.full(n, -1, dtype=np.int64),
                    latency_ns=z[f"latency_ns_{i}"],
                    error_code=z[f"error_code_{i}"],
                    error_classes=tuple(m["error_classes"]),
                    duration_s=float(m["duration_s"]),
                    wall_time_s=float(m["wall_time_s"]),
                )
            )
    return runs, meta
