from __future__ import annotations

import numpy as np

from engram_harness.driver import compute_windows


def test_per_second_windows() -> None:
    start = np.array([0, 0.5e9, 1.2e9, 1.3e9, 1.4e9, 3.1e9]).astype(np.int64)
    lat = np.array([1e6, 3e6, 2e6, 5e6, 9e6, 1e6]).astype(np.int64)
    err = np.array([0, 0, 0, 1, 0, 0], dtype=bool)
    op = np.array([0, 1, 0, 0, 1, 0])
    w = compute_windows(start, lat, err, op, ("a", "b"), duration_s=5)
    allw = w[w["op"] == "all"].set_index("window")
    assert list(allw["count"]) == [2, 3, 0, 1, 0]
    assert list(allw["errors"]) == [0, 1, 0, 0, 0]
    assert (
        allw.loc[1, "p99_ms"] == 9.0 and allw.loc[1, "p50_ms"] == 2.0
    )  # the failed op is not a latency sample
    assert np.isnan(allw.loc[2, "p99_ms"])
    a = w[w["op"] == "a"].set_index("window")
    assert list(a["count"]) == [1, 2, 0, 1, 0]
    assert set(w["op"]) == {"all", "a", "b"}
