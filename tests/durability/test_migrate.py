"""Store format migration (docs/format.md, "Migration"; cpp/include/engram/migrate.hpp): a
format-1 store is refused until converted; a conversion keeps every content and the LSN sequence,
a dry run changes nothing, a rollback to format 1 keeps what format 1 can hold and refuses what it
cannot (a rollout stage), and a crash at any point of a conversion leaves a store that opens.

Each test converts a copy of a stored fixture (tests/fixtures/store-v1*), never the fixture."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import engram
from engram import _core
from engram.durability.migrate import migrate
from engram.durability.verify import verify
from engram.server.launcher import find_engramd
from tests.durability.helpers import vec
from tests.durability.store_contents import census, describe, digests, expected

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
V1_STORES = [FIXTURES / "store-v1", FIXTURES / "store-v1.1"]
V1_IDS = [p.name for p in V1_STORES]


def copy_of(store: Path, tmp_path: Path) -> Path:
    dest = tmp_path / store.name
    shutil.copytree(store, dest)
    return dest


def counts(contents: dict[str, Any]) -> dict[str, int]:
    """What a migration report counts, from a fixture's expected contents."""
    spaces = contents["spaces"].values()
    return {
        "spaces": len(contents["spaces"]),
        "episodes": sum(sp["episodes"] for sp in spaces),
        "concepts": sum(sp["concepts_count"] for sp in spaces),
        "forgotten": sum(sp["forgotten"] for sp in spaces),
    }


def majors(store: Path) -> set[int]:
    return {f["major"] for name, f in census(store).items() if name != "FORMAT"}


def leftovers(store: Path) -> list[str]:
    """Files a conversion stages or commits with; none remain once it is finished or cleared."""
    return sorted(
        p.name for p in store.iterdir() if p.name.startswith("migration-") or p.name.startswith("MIGRATION")
    )


@pytest.fixture(params=V1_STORES, ids=V1_IDS)
def v1(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A copy of a format-1 fixture."""
    return copy_of(request.param, tmp_path)


def fixture_of(copy: Path) -> Path:
    return FIXTURES / copy.name


# --- refusal, dry run, conversion -------------------------------------------------------------


def test_a_version_1_store_is_refused_naming_engram_migrate_and_left_alone(v1: Path) -> None:
    before = digests(v1)
    with pytest.raises(engram.StorageError, match=r"format 1.*`engram migrate .*`.*--dry-run.*migrate=True"):
        engram.Engine(v1, dim=8)
    assert digests(v1, ignore=("LOCK",)) == before  # the lock file is every open's, refused or not
    assert (v1 / "FORMAT").read_text() == "engram-store 1\n"


def test_a_dry_run_reports_and_changes_nothing(v1: Path) -> None:
    before = digests(v1)
    phases: list[tuple[str, int, int]] = []
    raw = _core.migrate_store(str(v1), 2, True, lambda *a: phases.append(a))
    assert (raw.from_format, raw.to_format, raw.dry_run, raw.changed) == (1, 2, True, False)
    assert "read" in {p[0] for p in phases} and not {p[0] for p in phases} - {"read"}
    assert phases[-1][1] == phases[-1][2] > 0, "the read phase ends at its total"
    rep = migrate(v1, dry_run=True, progress=False)
    exp = expected(fixture_of(v1))
    assert {k: rep[k] for k in ("from", "to", "dry_run", "changed", "resumed")} == {
        "from": 1, "to": 2, "dry_run": True, "changed": False, "resumed": False}  # fmt: skip
    assert {k: rep[k] for k in ("spaces", "episodes", "concepts", "forgotten")} == counts(exp["contents"])
    assert rep["lsn"] == exp["recovery"]["last_lsn"] and rep["blockers"] == [] and rep["torn_tails"] == 0
    assert rep["bytes_read"] == sum(p.stat().st_size for p in [*v1.glob("*.ckpt"), *v1.glob("wal/*.seg")])
    assert rep["checkpoint_bytes"] > 0
    assert digests(v1, ignore=("LOCK",)) == before and leftovers(v1) == []


def test_migration_converts_every_file_and_keeps_contents_and_lsns(v1: Path) -> None:
    exp = expected(fixture_of(v1))
    phases: set[str] = set()
    rep = _core.migrate_store(str(v1), 2, False, lambda phase, done, total: phases.add(phase))
    assert (rep.from_format, rep.to_format, rep.changed, rep.blockers) == (1, 2, True, [])
    assert phases == {"read", "write", "switch"}
    assert (v1 / "FORMAT").read_text() == "engram-store 2\n"
    c = census(v1)
    assert majors(v1) == {2} and len(c) == 2, c  # FORMAT and one checkpoint: the WAL was folded in
    assert c[f"checkpoint-{rep.lsn:020d}.ckpt"]["minor"] == 0
    assert rep.lsn == exp["recovery"]["last_lsn"] and leftovers(v1) == []
    with engram.Engine(v1, dim=8) as eng:  # no migrate=True needed any more
        info = eng.recovery_info()
        assert (info["migrated_from"], info["checkpoint_lsn"], info["last_lsn"]) == (0, rep.lsn, rep.lsn)
        assert describe(eng) == exp["contents"]
        eng.space("notes").remember(vec(1), content="after")
        assert eng.wal_stats()["last_lsn"] == rep.lsn + 1  # the LSN sequence continues
    with engram.Engine(v1, dim=8) as eng:
        assert eng.recovery_info()["last_lsn"] == rep.lsn + 1
    # A second conversion to the format it is in changes nothing.
    again = digests(v1, ignore=("LOCK",))
    assert migrate(v1, progress=False)["changed"] is False
    assert digests(v1, ignore=("LOCK",)) == again


def test_opening_with_migrate_converts_as_it_opens(v1: Path, caplog: pytest.LogCaptureFixture) -> None:
    exp = expected(fixture_of(v1))
    with caplog.at_level("INFO", logger="engram.durability"), engram.Engine(v1, dim=8, migrate=True) as eng:
        info = eng.recovery_info()
        assert info["migrated_from"] == 1 and info["migration_s"] >= 0.0
        assert info["last_lsn"] == exp["recovery"]["last_lsn"]
        assert describe(eng) == exp["contents"]
    assert any("migrated" in r.getMessage() and "format 1 to 2" in r.getMessage() for r in caplog.records)
    assert (v1 / "FORMAT").read_text() == "engram-store 2\n" and majors(v1) == {2}
    with engram.Engine(v1, dim=8, migrate=True) as eng:  # already converted: nothing to do
        assert eng.recovery_info()["migrated_from"] == 0
        assert describe(eng) == exp["contents"]


def test_a_torn_tail_is_left_out_and_counted(v1: Path) -> None:
    """A frame cut off at the end of the WAL was never acknowledged: the conversion leaves it out
    (cut in memory while reading, not in the source) and counts it."""
    last = sorted((v1 / "wal").glob("wal-*.seg"))[-1]
    data = last.read_bytes()
    last.write_bytes(data + data[32:52])  # the first 20 bytes of a frame header, again
    before = digests(v1)
    dry = migrate(v1, dry_run=True, progress=False)
    assert dry["torn_tails"] == 1 and dry["blockers"] == []
    assert digests(v1, ignore=("LOCK",)) == before
    rep = migrate(v1, progress=False)
    assert rep["torn_tails"] == 1 and rep["lsn"] == expected(fixture_of(v1))["recovery"]["last_lsn"]
    with engram.Engine(v1, dim=8) as eng:
        assert describe(eng) == expected(fixture_of(v1))["contents"]


def test_a_damaged_store_is_refused_and_left_alone(v1: Path) -> None:
    """Damage inside the log (not a torn tail) is not converted: recovery by a build of the store's
    format would quarantine it, and a conversion must not decide that on its own."""
    first = sorted((v1 / "wal").glob("wal-*.seg"))[0]
    data = bytearray(first.read_bytes())
    data[200] ^= 0xFF  # inside the second record
    first.write_bytes(bytes(data))
    before = digests(v1)
    for dry_run in (True, False):
        with pytest.raises(engram.StorageError, match=r"has damage.*nothing was changed"):
            migrate(v1, dry_run=dry_run, progress=False)
    with pytest.raises(engram.StorageError, match="has damage"):
        engram.Engine(v1, dim=8, migrate=True)
    assert digests(v1, ignore=("LOCK",)) == before and leftovers(v1) == []


def test_full_verification_of_a_version_1_store_converts_a_scratch_copy_only(v1: Path) -> None:
    before = digests(v1)
    report = verify(v1, level="full")
    assert report["ok"], report["issues"]
    assert digests(v1) == before and (v1 / "FORMAT").read_text() == "engram-store 1\n"


# --- rollback ---------------------------------------------------------------------------------


def test_rollback_to_version_1_and_forward_again_keeps_new_writes(v1: Path) -> None:
    migrate(v1, progress=False)
    with engram.Engine(v1, dim=8) as eng:
        notes = eng.space("notes")
        new = notes.remember(vec(7), content="written in format 2", metadata={"when": "v2"})
        eng.set_features(blended_recall=False)
        contents = describe(eng)
        snapshot = eng._core.content_snapshot()
        lsn = eng.wal_stats()["last_lsn"]
    rep = migrate(v1, 1, progress=False)
    assert (rep["from"], rep["to"], rep["changed"], rep["lsn"]) == (2, 1, True, lsn)
    assert (v1 / "FORMAT").read_text() == "engram-store 1\n"
    c = census(v1)
    assert majors(v1) == {1}
    assert c[f"checkpoint-{lsn:020d}.ckpt"]["minor"] == 1  # 1.1: the newest format 1 (keys)
    with pytest.raises(engram.StorageError, match="engram migrate"):
        engram.Engine(v1, dim=8)  # this build serves format 2 only
    back = migrate(v1, 2, progress=False)
    assert (back["from"], back["to"], back["lsn"]) == (1, 2, lsn)
    with engram.Engine(v1, dim=8) as eng:
        assert describe(eng) == contents
        assert eng._core.content_snapshot() == snapshot  # byte-equal content after 2 -> 1 -> 2
        assert eng.space("notes").get(new).content == "written in format 2"
        assert eng.features()["blended_recall"] is False


def test_a_rollback_is_refused_while_a_rollout_stage_is_set(v1: Path) -> None:
    migrate(v1, progress=False)
    with engram.Engine(v1, dim=8) as eng:
        eng.set_rollout("fan_effect", 25.0)
    before = digests(v1, ignore=("LOCK",))
    dry = migrate(v1, 1, dry_run=True, progress=False)
    assert (
        len(dry["blockers"]) == 1 and "fan_effect" in dry["blockers"][0] and "rollout" in dry["blockers"][0]
    )
    with pytest.raises(engram.StorageError, match=r"not converted to format 1.*fan_effect.*rollout"):
        migrate(v1, 1, progress=False)
    assert digests(v1, ignore=("LOCK",)) == before and leftovers(v1) == []
    with engram.Engine(v1, dim=8) as eng:
        assert eng.rollout()["fan_effect"] == {"percent": 25.0, "shadow": False}
        eng.set_rollout("fan_effect", None)  # the stage ends: the flag's own value applies
    assert migrate(v1, 1, dry_run=True, progress=False)["blockers"] == []
    assert migrate(v1, 1, progress=False)["changed"] is True
    assert (v1 / "FORMAT").read_text() == "engram-store 1\n"


# --- rollout stages are durable in format 2 ---------------------------------------------------


def test_rollout_stages_survive_a_reopen_and_a_checkpoint(tmp_path: Path) -> None:
    stages = {
        "blended_recall": {"percent": 12.5, "shadow": False},
        "fan_effect": {"percent": 0.0, "shadow": True},
        "concept_formation": {"percent": 50.0, "shadow": False},
    }
    with engram.Engine(tmp_path, dim=8) as eng:
        assert eng.rollout() == dict.fromkeys(stages)
        for flag, st in stages.items():
            eng.set_rollout(flag, st["percent"], shadow=st["shadow"])  # type: ignore[arg-type]
        assert eng.rollout() == stages
        assert set(eng.features()) == {"blended_recall", "fan_effect", "concept_formation"}
    with engram.Engine(tmp_path, dim=8) as eng:  # from the WAL
        assert eng.rollout() == stages
        eng.checkpoint()
    with engram.Engine(tmp_path, dim=8) as eng:  # from the checkpoint
        assert eng.rollout() == stages
        eng.set_rollout("blended_recall", None)
    with engram.Engine(tmp_path, dim=8) as eng:
        assert eng.rollout() == {**stages, "blended_recall": None}


@pytest.mark.parametrize(
    ("flag", "percent", "shadow", "why"),
    [
        ("blended_recall", 101.0, False, "percent must be a number from 0 to 100"),
        ("fan_effect", 10.0, True, "use percent 0"),
        ("concept_formation", 0.0, True, "no shadow stage"),
        ("consolidation", 10.0, False, "flag must be"),
    ],
)
def test_bad_rollout_stages_are_refused(
    tmp_path: Path, flag: str, percent: float, shadow: bool, why: str
) -> None:
    with engram.Engine(tmp_path, dim=8) as eng:
        with pytest.raises(engram.InvalidInputError, match=why):
            eng.set_rollout(flag, percent, shadow=shadow)  # type: ignore[arg-type]
        assert all(v is None for v in eng.rollout().values())


# --- crash safety -----------------------------------------------------------------------------

CRASHING_MIGRATION = "import sys; from engram import _core; _core.migrate_store(sys.argv[1], 2)"


def crash_migration(store: Path, point: str) -> None:
    """Runs a conversion of ``store`` in a child that the test build kills at ``point``."""
    env = {k: v for k, v in os.environ.items() if k not in ("ENGRAM_FAULTS", "ENGRAM_CRASH_AT")}
    env["ENGRAM_CRASH_AT"] = point
    run = subprocess.run(
        [sys.executable, "-c", CRASHING_MIGRATION, str(store)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == -signal.SIGKILL, (run.returncode, run.stderr[-2000:])


def test_a_crash_before_the_commit_leaves_the_version_1_store(v1: Path, test_build: None) -> None:
    exp = expected(fixture_of(v1))
    before = digests(v1)
    crash_migration(v1, "migration.before_commit")
    assert (v1 / "FORMAT").read_text() == "engram-store 1\n"
    assert {
        k: v for k, v in digests(v1, ignore=("LOCK",)).items() if not k.startswith("migration-")
    } == before
    assert leftovers(v1), "the staged checkpoint is there (the crash came after it was written)"
    with pytest.raises(engram.StorageError, match="engram migrate"):
        engram.Engine(v1, dim=8)  # still format 1: refused, and the staged file is cleared away
    assert leftovers(v1) == [] and digests(v1, ignore=("LOCK",)) == before
    crash_migration(v1, "migration.before_commit")
    rep = migrate(v1, progress=False)  # a conversion clears a leftover too, then runs
    assert (rep["from"], rep["changed"], rep["resumed"]) == (1, True, False)
    assert leftovers(v1) == [] and majors(v1) == {2}
    with engram.Engine(v1, dim=8) as eng:
        assert describe(eng) == exp["contents"]


@pytest.mark.parametrize("point", ["migration.after_commit", "migration.mid_switch"])
@pytest.mark.parametrize("finish_by", ["open", "migrate"])
def test_a_crash_after_the_commit_is_finished_by_the_next_open(
    v1: Path, test_build: None, point: str, finish_by: str
) -> None:
    exp = expected(fixture_of(v1))
    crash_migration(v1, point)
    assert (v1 / "MIGRATION").exists(), "the crash came after the commit"
    with pytest.raises(engram.StorageError, match="interrupted migration"):
        migrate(v1, dry_run=True, progress=False)  # a dry run does not finish it
    if finish_by == "migrate":
        rep = migrate(v1, progress=False)
        assert (rep["resumed"], rep["from"], rep["changed"]) == (True, 2, False)
    with engram.Engine(v1, dim=8) as eng:  # a plain open (no migrate=True) finishes the switch
        assert describe(eng) == exp["contents"]
        assert eng.recovery_info()["last_lsn"] == exp["recovery"]["last_lsn"]
    assert (v1 / "FORMAT").read_text() == "engram-store 2\n"
    assert majors(v1) == {2} and leftovers(v1) == []


# --- the command lines ------------------------------------------------------------------------


def engram_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engram", "migrate", *args], capture_output=True, text=True, timeout=120
    )


def test_engram_migrate_command(v1: Path) -> None:
    before = digests(v1)
    dry = engram_cli(str(v1), "--dry-run", "--no-progress")
    assert dry.returncode == 0, dry.stderr
    assert (
        "dry run" in dry.stdout and "from format 1 to 2" in dry.stdout and "nothing was changed" in dry.stdout
    )
    assert digests(v1, ignore=("LOCK",)) == before
    as_json = engram_cli(str(v1), "--dry-run", "--json")
    assert as_json.returncode == 0, as_json.stderr
    rep = json.loads(as_json.stdout)
    assert (rep["from"], rep["to"], rep["dry_run"], rep["blockers"]) == (1, 2, True, [])
    done = engram_cli(str(v1), "--no-progress")
    assert done.returncode == 0 and "converted" in done.stdout, done.stderr
    assert (v1 / "FORMAT").read_text() == "engram-store 2\n"
    with engram.Engine(v1, dim=8) as eng:
        eng.set_rollout("concept_formation", 40.0)
    blocked = engram_cli(str(v1), "--to", "1", "--dry-run", "--no-progress")
    assert blocked.returncode == 1
    assert (
        "blocker: concept_formation has a rollout stage" in blocked.stderr
        and "Traceback" not in blocked.stderr
    )
    refused = engram_cli(str(v1), "--to", "1", "--json")
    assert refused.returncode == 1 and refused.stdout == ""
    last = refused.stderr.strip().splitlines()[-1]  # after the progress bars
    assert last.startswith("engram migrate: ") and "concept_formation" in last
    assert "Traceback" not in refused.stderr
    missing = engram_cli(str(v1 / "nothing-here"))
    assert (
        missing.returncode == 1 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    )


def test_engram_migrate_help_explains_dry_run_and_rollback() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "engram", "migrate", "--help"], capture_output=True, text=True
    )
    assert run.returncode == 0
    text = " ".join(run.stdout.split())
    assert "--dry-run" in text and "changes nothing" in text
    assert "Rollback: --to 1" in text and "rollout stage" in text


def test_engramd_migrate_reports_a_json_line_like_engram_migrate(v1: Path) -> None:
    engramd = find_engramd()
    if engramd is None:
        pytest.skip("engramd is not installed (the server build); engram migrate is tested above")
    run = subprocess.run(
        [engramd, "migrate", "--data", str(v1), "--dry-run"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    report = [x for x in lines if x.get("event") == "migration_report"]
    assert len(report) == 1, run.stdout
    ours = migrate(v1, dry_run=True, progress=False)
    theirs = {k: v for k, v in report[0].items() if k != "event"}
    assert set(theirs) == set(ours)
    assert {k: v for k, v in theirs.items() if k != "seconds"} == {
        k: v for k, v in ours.items() if k != "seconds"
    }
    assert (v1 / "FORMAT").read_text() == "engram-store 1\n"
