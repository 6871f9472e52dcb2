"""Every SIMD path the CPU supports computes the same similarities (within float32 summation
tolerance) and the same search results; ENGRAM_SIMD forces a path or fails clearly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engram import _core

LEVELS = ("scalar", "avx2", "avx512")
SUPPORTED = [lvl for lvl in LEVELS if _core.simd_supported(lvl)]


def tolerance(a: np.ndarray, b: np.ndarray) -> float:
    """Bound on float32 summation error of dot(a, b): n * eps * sum |a_i b_i| (with margin)."""
    n = len(a)
    return 2.0 * n * float(np.finfo(np.float32).eps) * float(np.sum(np.abs(a.astype(np.float64) * b))) + 1e-30


def test_scalar_is_always_supported() -> None:
    assert "scalar" in SUPPORTED
    assert _core.simd_level() in SUPPORTED
    assert _core.simd_best() in SUPPORTED


@pytest.mark.parametrize("n", [0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 768, 1000, 1536])
@pytest.mark.parametrize("level", SUPPORTED)
def test_dot_matches_float64_reference(level: str, n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    exact = float(np.dot(a.astype(np.float64), b.astype(np.float64)))
    assert abs(_core.dot(a, b, level) - exact) <= tolerance(a, b)


@given(
    data=hnp.arrays(
        np.float32,
        st.integers(1, 300).map(lambda n: (2, n)),
        elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32),
    )
)
def test_all_levels_agree(data: np.ndarray) -> None:
    a, b = np.ascontiguousarray(data[0]), np.ascontiguousarray(data[1])
    results = {lvl: _core.dot(a, b, lvl) for lvl in SUPPORTED}
    tol = 2 * tolerance(a, b)
    for lvl, r in results.items():
        assert abs(r - results["scalar"]) <= tol, (lvl, results)


def test_dot_rejects_bad_input() -> None:
    import engram

    with pytest.raises(engram.DimensionError):
        _core.dot(np.ones(3, np.float32), np.ones(4, np.float32))
    with pytest.raises(engram.InvalidInputError, match="bogus"):
        _core.dot(np.ones(3, np.float32), np.ones(3, np.float32), "bogus")


WORKLOAD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import engram
    from engram_harness.vectors import latent

    data, queries = latent(2000, 40, dim=96, seed=7, clusters=20, latent_dim=8, noise_std=0.01)
    with engram.Engine(dim=96, seed=3) as eng:
        sp = eng.create_space("s")
        ids = sp.remember_batch(data[:1000])
        for v in data[1000:]:
            sp.remember(v)
        out = {"level": engram.simd_level(), "approx": [], "exact": [], "scores": [], "exact_scores": []}
        for q in queries:
            found, scores = sp.search(q, k=10, ef=200)
            out["approx"].append(found.tolist())
            out["scores"].append(scores.tolist())
            exact_ids, exact_scores = sp.exact_search(q, k=10)
            out["exact"].append(exact_ids.tolist())
            out["exact_scores"].append(exact_scores.tolist())
        out["ok"] = sp.validate()["ok"]
    json.dump(out, sys.stdout)
    """
)


def run_workload(level: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ENGRAM_SIMD=level)
    return subprocess.run(
        [sys.executable, "-c", WORKLOAD], env=env, capture_output=True, text=True, timeout=300
    )


def well_separated(scores: list[list[float]], exact_gap: float = 1e-4) -> list[bool]:
    """Queries whose 10 results have no near-ties (rank order is then the same in any precision)."""
    return [bool(np.all(-np.diff(s) > exact_gap)) for s in scores]


def test_forced_levels_give_same_results() -> None:
    results = {}
    for level in SUPPORTED:
        proc = run_workload(level)
        assert proc.returncode == 0, proc.stderr
        results[level] = json.loads(proc.stdout)
        assert results[level]["level"] == level
        assert results[level]["ok"]
    base = results["scalar"]
    separated = well_separated(base["exact_scores"])
    assert sum(separated) >= len(separated) // 2, "the workload should mostly have well-separated neighbours"
    for level, res in results.items():
        hits = total = 0
        for qi, sep in enumerate(separated):
            # Near-ties may swap places between levels, but the exact similarities must agree
            # (approximate results may legitimately differ: each level builds its own graph).
            np.testing.assert_allclose(res["exact_scores"][qi], base["exact_scores"][qi], atol=1e-5)
            if not sep:
                continue
            # Brute force involves no graph: the same ids in the same order on every level.
            assert res["exact"][qi] == base["exact"][qi], (level, qi)
            hits += len(set(res["approx"][qi]) & set(base["exact"][qi]))
            total += len(base["exact"][qi])
        # Each level's own graph (parallel batch insert interleaves differently under load)
        # must still meet the engine's recall@10 target of 0.95 at this ef.
        assert hits >= 0.95 * total, (level, hits, total)


def test_bogus_level_fails_import_clearly() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import engram"],
        env=dict(os.environ, ENGRAM_SIMD="bogus"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert "ENGRAM_SIMD='bogus'" in proc.stderr
    assert "scalar" in proc.stderr and "avx2" in proc.stderr and "avx512" in proc.stderr


@pytest.mark.skipif("avx512" in SUPPORTED, reason="this CPU supports every level")
def test_unsupported_level_fails_import_clearly() -> None:
    missing = next(lvl for lvl in LEVELS if lvl not in SUPPORTED)
    proc = subprocess.run(
        [sys.executable, "-c", "import engram"],
        env=dict(os.environ, ENGRAM_SIMD=missing),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "not supported by this CPU" in proc.stderr
