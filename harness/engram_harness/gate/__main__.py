"""``python -m engram_harness.gate``: run the A/B gate and write its verdicts into a results directory.

Exit codes (as the reference compare script): 0 no regression, 1 regression, 3 missing or invalid
data (a side failed to run, too many errors, no stored baseline for this machine).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

import engram
from engram_harness.checks import Check
from engram_harness.driver.result import RunResult
from engram_harness.gate.baselines import load_baseline, save_baseline
from engram_harness.gate.interleave import GateRunError, Side, run_interleaved, run_worker
from engram_harness.gate.verdicts import error_verdict, gate_verdicts
from engram_harness.runs import layout
from engram_harness.runs.fingerprint import machine_fingerprint
from engram_harness.runs.session import SessionResults

OK, REGRESSION, INVALID = 0, 1, 3
SHOWN = ["comparison", "regression", "rounds_worse", "p_adjusted", "median_ratio", "median_ratio_low", "median_ratio_high",
         "p99_ratio", "p99_ratio_low", "p99_ratio_high", "n_before", "n_after"]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engram_harness.gate", description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=Path("acceptance/scenarios/baseline.toml"))
    p.add_argument("--seconds", type=float, default=6.0, help="scheduled seconds per run (default 6)")
    p.add_argument("--rounds", type=int, default=4, help="runs per side, interleaved (default 4)")
    p.add_argument("--against", choices=["base", "stored"], default="base",
                   help="base: re-measure the base build in this job (A/B interleaved); stored: this "
                        "machine's stored baseline")  # fmt: skip
    p.add_argument("--base-site", type=Path, help="folder holding the base build's engram package")
    p.add_argument("--base-label", default="base")
    p.add_argument(
        "--candidate-site", type=Path, help="folder holding the candidate build (default: this one)"
    )
    p.add_argument("--candidate-label", default="candidate")
    p.add_argument("--record-baseline", action="store_true",
                   help="store the candidate's runs as this machine's baseline and exit")  # fmt: skip
    p.add_argument("--baselines-dir", type=Path, default=Path("acceptance/baselines"))
    p.add_argument("--results-dir", type=Path, default=Path("results"))
    p.add_argument("--workdir", type=Path, default=Path("build/gate/work"))
    p.add_argument("--alpha", type=float, default=0.01)
    p.add_argument("--threshold", type=float, default=0.05, help="relative change that is a regression")
    return p


def _say(msg: str) -> None:
    print(f"gate: {msg}", flush=True)


def _checks(verdicts: pd.DataFrame, errors: dict) -> list[Check]:
    out = []
    for r in verdicts.itertuples():
        measured = float("nan") if not r.valid else float(bool(r.regression))
        out.append(Check(f"no regression: {r.comparison}", measured, 0.0, "==", "", str(r.summary), "gate"))
    out.append(
        Check(
            "error rate before (validity)", errors["error_rate_before"], 0.10, "<=", "fraction", suite="gate"
        )
    )
    out.append(
        Check("error rate after (validity)", errors["error_rate_after"], 0.10, "<=", "fraction", suite="gate")
    )
    jump = errors["error_rate_after"] - errors["error_rate_before"]
    out.append(Check("error rate increase", jump, 0.05, "<=", "fraction", "checked when either is >= 5 %", "gate")
               if max(errors["error_rate_before"], errors["error_rate_after"]) >= 0.05
               else Check("error rate increase", jump, 1.0, "<=", "fraction", "both below 5 %: not gated", "gate"))  # fmt: skip
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    scenario = args.scenario.resolve()
    fingerprint = machine_fingerprint(engram.simd_level)
    candidate = Side(
        "B", args.candidate_label, args.candidate_site.resolve() if args.candidate_site else None
    )
    workdir = args.workdir.resolve()
    runs: dict[str, list[RunResult]]
    try:
        if args.record_baseline:
            after = [run_worker(candidate, scenario, args.seconds, workdir / f"rec-{i}.npz", workdir)
                     for i in range(args.rounds)]  # fmt: skip
            # The scenario by name, not by path: baselines are committed and shared across checkouts.
            info = {
                "label": args.candidate_label,
                "scenario": Path(args.scenario).name,
                "seconds": args.seconds,
            }
            _say(f"baseline stored in {save_baseline(args.baselines_dir, fingerprint, after, info)}")
            return OK
        if args.against == "stored":
            before, meta = load_baseline(args.baselines_dir, fingerprint)
            _say(f"comparing with the stored baseline of {meta['label']} ({meta['recorded_at_utc']})")
            runs = {"A": before}
            runs["B"] = [run_worker(candidate, scenario, args.seconds, workdir / f"B-{i + 1}.npz", workdir)
                         for i in range(args.rounds)]  # fmt: skip
            base_label = f"stored:{meta['label']}"
        else:
            if args.base_site is None:
                _say("--against base needs --base-site (the nox session `gate` builds it)")
                return INVALID
            base = Side("A", args.base_label, args.base_site.resolve())
            runs = run_interleaved(base, candidate, scenario, seconds=args.seconds, rounds=args.rounds,
                                   workdir=workdir, progress=_say)  # fmt: skip
            base_label = args.base_label
    except (GateRunError, FileNotFoundError) as exc:
        _say(f"no valid data: {exc}")
        return INVALID

    verdicts = gate_verdicts(runs["A"], runs["B"], alpha=args.alpha, threshold=args.threshold)
    errors = error_verdict(runs["A"], runs["B"])
    session = SessionResults(args.results_dir, f"gate-{args.against}", kind="gate", simd_level=engram.simd_level,
                             extra={"base": base_label, "candidate": args.candidate_label,
                                    "against": args.against, "rounds": args.rounds, "seconds": args.seconds,
                                    "alpha": args.alpha, "threshold": args.threshold, "errors": errors})  # fmt: skip
    for side, results in runs.items():
        for i, r in enumerate(results):
            session.add_run(r, name=f"{side}-{i + 1}", checks=[], raw=False)
    session.checks = _checks(verdicts, errors)
    out = session.write(pytest_args=list(argv) if argv is not None else sys.argv[1:])
    verdicts.to_parquet(out / layout.VERDICTS, index=False)

    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 4):
        print(verdicts[[c for c in SHOWN if c in verdicts.columns]].to_string(index=False))
    _say(f"A = {base_label}, B = {args.candidate_label}; results in {out}")
    overall = verdicts.set_index("comparison").loc["latency:all"]
    if errors["invalid"] or not overall["valid"]:
        _say("INVALID: a side had more than 10 % errors, or too few operations for the overall verdict")
        return INVALID
    for r in verdicts[~verdicts["valid"]].itertuples():  # e.g. a rare operation type in a short run
        _say(f"no verdict for {r.comparison}: {r.summary}")
    if verdicts["regression"].any() or errors["regression"]:
        _say("REGRESSION: " + ", ".join(verdicts.loc[verdicts["regression"], "comparison"]))
        return REGRESSION
    _say("no regression")
    return OK


if __name__ == "__main__":
    sys.exit(main())
