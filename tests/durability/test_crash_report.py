"""A process killed inside a consolidation is reported by the next open (the phase marker in
LOCK: store.hpp, RunMarker), and its WAL reads back with strictly increasing LSNs and every concept
record carrying its bindings (engram.durability.inspect)."""

from __future__ import annotations

from pathlib import Path

import pytest

import engram
from engram.durability.inspect import check_wal, wal_records
from tests.durability.helpers import DIM
from tests.durability.kill_check import Acks, check_store, run_child

POINTS = [
    "consolidation.pre_clustering",
    "consolidation.mid_clustering",
    "consolidation.pre_concept_write",
    "consolidation.mid_binding_write",
    "consolidation.post_consolidation",
]


@pytest.mark.parametrize("point", POINTS)
def test_killed_consolidation_is_reported_by_phase(tmp_path: Path, point: str, test_build: None) -> None:
    acks = Acks()
    code = run_child(tmp_path, 1, 40, kill_after_s=None, crash_at=point, acks=acks)
    assert code == -9, f"{point} did not kill the child (exit code {code})"
    left = check_wal(tmp_path)  # what the dead process left, read before any recovery
    assert left.ok, left.to_dict()
    assert left.records > 0
    with engram.Engine(tmp_path, dim=DIM) as eng:
        info = eng.recovery_info()
    assert info["unclean_shutdown"], info
    assert info["crash_phase"] == point
    assert info["previous_pid"] > 0
    assert info["orphaned_concepts"] == 0 and info["partial_bindings"] == 0
    with engram.Engine(tmp_path, dim=DIM) as eng:  # the open above closed cleanly
        assert not eng.recovery_info()["unclean_shutdown"]
    check_store(tmp_path, acks)


def test_wal_check_reads_concept_records_with_their_bindings(tmp_path: Path) -> None:
    """The checker is not vacuous: the concept records of a consolidation are read back, each
    with bindings equal to its members, LSNs consecutive."""
    from tests.durability.helpers import clustered

    with engram.Engine(tmp_path, dim=DIM, checkpoint_interval_s=0, checkpoint_wal_bytes=0) as eng:
        sp = eng.create_space("a")
        for key in range(60):
            sp.remember(clustered(key), content=str(key))
        formed = sp.consolidate().concepts_formed
    assert formed > 0
    recs = wal_records(tmp_path)
    concepts = [r for r in recs if r.type == "concept_commit"]
    assert len(concepts) == formed
    assert all(sorted(r.bindings) == sorted(r.members) and r.bindings for r in concepts)
    rep = check_wal(tmp_path)
    assert rep.ok and rep.concept_commits == formed, rep.to_dict()
    assert [r.lsn for r in recs] == list(range(recs[0].lsn, recs[0].lsn + len(recs)))
