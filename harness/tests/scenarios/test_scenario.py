from __future__ import annotations

from pathlib import Path

import pytest

from engram_harness.scenarios import (
    Constant,
    Op,
    ScenarioError,
    build_schedule,
    load_scenario,
    parse_scenario,
)

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = sorted((ROOT / "acceptance" / "scenarios").glob("*.toml"))


def test_scenario_files_exist() -> None:
    assert any(p.name == "baseline.toml" for p in SCENARIOS)
    assert len(SCENARIOS) >= 5


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_scenario_file_loads_and_schedules(path: Path) -> None:
    sc = load_scenario(path)
    sched = build_schedule(sc, profile_scale=min(1.0, 5.0 / sc.duration_s))
    assert len(sched) > 0
    assert sc.toml_text == path.read_text()


def test_baseline_is_the_reference_scenario() -> None:
    sc = load_scenario(ROOT / "acceptance" / "scenarios" / "baseline.toml")
    assert sc.duration_s == 60 and sc.seed == 3735928559
    assert sc.arrival == Constant(rate=1000.0)
    w = sc.mix.weights
    assert w is not None
    assert w[Op.REMEMBER] == pytest.approx(0.5)
    assert w[Op.RECALL_EPISODIC] == pytest.approx(0.425)
    assert w[Op.SEARCH] == pytest.approx(0.075)
    assert (sc.data.dim, sc.data.clusters, sc.data.sigma, sc.data.shape, sc.data.clamp) == (
        768,
        10,
        0.1,
        "isotropic",
        True,
    )
    assert sc.spaces.names == ("default",)
    assert sc.thresholds.max_error_rate == 0.0 and sc.thresholds.min_throughput == 949.9
    sched = build_schedule(sc)
    assert len(sched) == 60_000
    counts = sched.counts()
    assert abs(counts["remember"] / 60_000 - 0.5) < 0.01
    assert abs(counts["recall_episodic"] / 60_000 - 0.425) < 0.01
    assert abs(counts["search"] / 60_000 - 0.075) < 0.005


def _err(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "bad.toml")
    return info.value


GOOD = (
    'name = "x"\nduration_s = 1\nseed = 1\n'
    '[arrival]\npattern = "constant"\nrate = 10\n[operations]\nremember = 1\n'
)


def test_good_minimal_scenario() -> None:
    assert parse_scenario(GOOD, "ok.toml").name == "x"


def test_error_names_file_key_value_and_expectation() -> None:
    e = _err(GOOD.replace("rate = 10", "rate = -5"))
    assert e.source == "bad.toml" and e.key == "arrival.rate" and e.value == -5
    assert "bad.toml" in str(e) and "arrival.rate" in str(e) and "-5" in str(e) and "> 0" in str(e)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("seed = 1", 'seed = "one"'), "seed"),
        (('pattern = "constant"', 'pattern = "sinus"'), "arrival.pattern"),
        (("remember = 1", "remember = 0"), "operations.remember"),
        (("remember = 1", "remembr = 1"), "operations.remembr"),
        (("duration_s = 1", "duration_s = 0"), "duration_s"),
        (("duration_s = 1", "duratoin_s = 1"), "duration_s"),
        (("[operations]", "[arrival2]\nx=1\n[operations]"), "arrival2"),
    ],
)
def test_invalid_values_are_rejected_with_their_key(change: tuple[str, str], key: str) -> None:
    assert _err(GOOD.replace(*change)).key == key


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    assert _err("name = ").key == "<file>"
    with pytest.raises(ScenarioError, match="readable file"):
        load_scenario(tmp_path / "nope.toml")


def test_phases_must_cover_the_day_without_base_weights() -> None:
    text = GOOD.replace("remember = 1\n", "[[operations.phases]]\nhours = [0, 12]\nremember = 1\n")
    assert "24 hours" in _err(text).expected
    ok = text + "[[operations.phases]]\nhours = [12, 24]\nsearch = 1\n"
    assert len(parse_scenario(ok).mix.phases) == 2
    overlapping = text + "[[operations.phases]]\nhours = [6, 24]\nsearch = 1\n"
    assert "overlap" in _err(overlapping).expected


def test_thresholds_and_aliases() -> None:
    text = GOOD.replace("remember = 1", "store_weight = 1\nrecall = 1") + (
        "[thresholds]\nmax_error_rate = 0.01\n[thresholds.p99_ms]\nall = 5\nsearch = 2\n"
    )
    sc = parse_scenario(text)
    assert sc.mix.weights is not None and sc.mix.weights[Op.RECALL_EPISODIC] == 0.5
    assert sc.thresholds.latency_ms == {("p99_ms", "all"): 5.0, ("p99_ms", "search"): 2.0}
    assert _err(text.replace("search = 2", "serch = 2")).key == "thresholds.p99_ms.serch"


def test_diurnal_rejects_equal_peak_and_trough() -> None:
    arr = (
        '[arrival]\npattern = "diurnal"\nbaseline_ops = 5\n'
        "peak_multiplier = 3\npeak_hour = 4\ntrough_hour = 4\n"
    )
    text = GOOD.replace('[arrival]\npattern = "constant"\nrate = 10\n', arr)
    assert _err(text).key == "arrival.trough_hour"
