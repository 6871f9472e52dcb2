"""Real processes killed with SIGKILL (at random moments and at every named crash point):
after reopening, every acknowledged write is present with identical bytes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.durability.kill_check import Acks, check_store, run_child

CRASH_POINTS = [
    "wal.before_fsync:5",
    "wal.after_fsync:5",
    "wal.torn_write:5",
    "checkpoint.before_rename",
    "checkpoint.after_rename",
    "consolidation.pre_clustering",
    "consolidation.mid_clustering",
    "consolidation.pre_concept_write",
    "consolidation.mid_binding_write",
    "consolidation.post_consolidation",
]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_crash_point(tmp_path: Path, point: str, test_build: None) -> None:
    acks = Acks()
    # Children create the space on first run; crash points must hit within the first child.
    code = run_child(tmp_path, 1, 40, kill_after_s=None, crash_at=point, acks=acks)
    assert code == -9, f"{point} did not kill the child (exit code {code})"
    check_store(tmp_path, acks)
    # A second writer continues the same store after the crash.
    code = run_child(tmp_path, 2, 15, kill_after_s=None, acks=acks)
    assert code == 0
    check_store(tmp_path, acks)


@pytest.mark.slow
def test_fifty_random_kills(tmp_path: Path) -> None:
    rng = random.Random(1234)
    acks = Acks()
    kills = 0
    for seed in range(1, 51):
        code = run_child(tmp_path, seed, 400, kill_after_s=rng.uniform(0.0, 0.15), acks=acks)
        kills += code == -9
        check_store(tmp_path, acks)
    assert kills >= 45, f"only {kills} of 50 children were killed mid-run (others finished first)"


def test_none_mode_loses_at_most_the_flush_window(tmp_path: Path) -> None:
    """durability="none": writes acknowledged more than one flush interval (50 ms) before a
    kill are on disk; only the window before the kill may be lost."""
    acks = Acks()
    code = run_child(tmp_path, 1, 200, kill_after_s=None, acks=acks, mode="none", kill_on_line="S")
    assert code == -9
    assert len(acks.remembered) >= 100
    check_store(tmp_path, acks)
