"""Workflow 103: fraud detection over a transaction graph (requirements section 10, 103).

The seeded generator (engram_datasets.fraud) makes background activity plus 50 injected fraud
patterns (rings, mule chains, velocity bursts, impossible travel, structuring, account
takeovers) and 20 partial patterns with members withheld. Transactions are ingested in time
order as episodes linked to their accounts and merchants (engram_harness.workflows.fraud.store); the
labels never reach the engine. Detection then reads everything back from the engine: one
pattern-matching query per account (multi-hop rings and mule chains up to 5 hops, 5-minute
velocity windows, impossible travel, structuring, takeovers), velocity checks at random
moments, and the engine's pattern completion of each partial pattern against a library of the
complete patterns the detectors found.

Quick: 10,000 transactions, 1,000 accounts, 500 merchants, all 50 + 20 patterns, 200 velocity
checks. Full: 100,000 / 10,000 / 5,000, 1,000 velocity checks.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from engram_datasets.fraud import FraudConfig, generate_fraud
from engram_harness.stats import precision_recall
from engram_harness.suite import CheckRecorder, Profile
from engram_harness.workflows.backend import Backend
from engram_harness.workflows.fraud import signature
from engram_harness.workflows.fraud.account_rules import count_in_window
from engram_harness.workflows.fraud.detect import detect
from engram_harness.workflows.fraud.reader import Reader, Txn
from engram_harness.workflows.fraud.store import DIM, FraudStore
from engram_harness.workflows.latency import LatencyLog
from engram_harness.workflows.prometheus import moved, parse_prometheus

pytestmark = pytest.mark.workflow
#: A real ``engram serve`` process: each account query reads its neighbourhood (edges and
#: records) with one POST .../neighbors; each transaction's edges go in one POST .../links/batch.
BACKEND = "server"

SEED = 103
CONFIDENCE = 0.7  # completion confidence threshold (CA1)


def test_fraud_workflow(profile: Profile, checks: CheckRecorder, backend: Backend) -> None:
    cfg = FraudConfig.quick(seed=SEED) if profile.quick else FraudConfig(seed=SEED)
    data = generate_fraud(cfg)
    truth = data.ground_truth
    eng = backend.engine
    errors: list[str] = []
    space = eng.create_space("transactions", dim=DIM)
    store = FraudStore(space)
    metrics_before = parse_prometheus(backend.metrics_text())

    # --- ingest ---------------------------------------------------------------------------------
    store.add_accounts(data.accounts)
    store.add_merchants(data.merchants)
    observed = data.observed()
    t0 = time.perf_counter()
    for row in observed.itertuples(index=False):
        try:
            store.add_transaction(row)
        except Exception as exc:
            errors.append(f"ingest {row.txn_id}: {type(exc).__name__}: {exc}")
    ingest_s = time.perf_counter() - t0
    checks.check("ingest rate", len(observed) / ingest_s, ">=", 200.0, "txn/s",
                 note=f"{len(observed)} transactions, each an episode plus 1-3 links")  # fmt: skip
    metrics_mid = parse_prometheus(backend.metrics_text())

    # --- detection: one pattern-matching query per account ------------------------------------
    reader = Reader(space, store.account_node)
    found = detect(reader, sorted(store.account_node))
    errors += found.errors
    pr = precision_recall(found.flagged(), truth.fraud_txn_ids(include_partials=True))
    per_kind = ", ".join(f"{k} {len(v)}" for k, v in found.by_kind.items())
    checks.check(
        "precision (transactions)",
        pr.precision,
        ">=",
        0.90,
        note=f"tp {pr.true_positives}, fp {pr.false_positives}",
    )
    checks.check(
        "recall (transactions)", pr.recall, ">=", 0.85, note=f"fn {pr.false_negatives}; found {per_kind}"
    )
    checks.check(
        "pattern match p99",
        found.latency.p99_ms(),
        "<",
        50.0,
        "ms",
        note=f"{len(found.latency)} account queries",
    )

    # --- velocity checks at random moments ------------------------------------------------------
    rng = np.random.default_rng(SEED)
    velocity = LatencyLog("velocity check")
    n_checks = profile.pick(quick=200, full=1_000)
    senders = observed["src_account"].to_numpy()
    stamps = observed["timestamp"].to_numpy()
    velocity_mismatch = 0
    for j in rng.choice(len(observed), size=n_checks, replace=False):
        account, at = int(senders[j]), int(stamps[j])
        try:
            with velocity.time():
                q = reader.fresh()
                n = count_in_window(q.sent(account), at, cfg.velocity_window_s)
        except Exception as exc:
            errors.append(f"velocity {account}: {type(exc).__name__}: {exc}")
            continue
        expected = int(((senders == account) & (stamps > at - cfg.velocity_window_s) & (stamps <= at)).sum())
        velocity_mismatch += n != expected
    checks.check("velocity checks", len(velocity), "==", n_checks)
    checks.check("velocity counts differing from the data", velocity_mismatch, "==", 0)
    checks.check("velocity check p99", velocity.p99_ms(), "<", 50.0, "ms")

    # --- completion of the partial patterns --------------------------------------------------
    partial_txns = {t for p in truth.partials for t in p.visible_txn_ids}
    library = eng.create_space("fraud-patterns", dim=signature.DIM)
    stored = 0
    for kind in signature.COMPLETABLE_KINDS:
        for det in found.by_kind[kind]:
            if partial_txns.isdisjoint(det):  # hold-out: a partial must not be completed from itself
                library.remember(signature.full([found.records[t] for t in det], kind), content=kind,
                                 metadata={"kind": kind})  # fmt: skip
                stored += 1
    completion = LatencyLog("completion")
    completed = exact = 0
    outcomes: list[str] = []
    for p in truth.partials:
        txns = [_read(space, store, t) for t in p.visible_txn_ids]
        vec, mask = signature.cue(txns)
        try:
            with completion.time():
                c = library.complete(vec, mask, ca1_threshold=CONFIDENCE)
        except Exception as exc:
            errors.append(f"complete {p.pattern_id}: {type(exc).__name__}: {exc}")
            continue
        kind = signature.predicted_kind(c.vector)
        ok = c.accepted and c.confidence >= CONFIDENCE and kind in signature.admissible_kinds(p.kind, txns)
        completed += ok
        exact += kind == p.kind
        outcomes.append(f"{p.kind}->{kind}@{c.confidence:.2f}")
    checks.check("partial patterns completed (confidence >= 0.7, a kind the fragment admits)", completed, ">=", 18,
                 note=f"of {len(truth.partials)}; exact kind {exact}; library of {stored}; " + " ".join(outcomes))  # fmt: skip
    checks.check("completion p99", completion.p99_ms(), "<", 100.0, "ms")

    # --- metrics moved, errors ------------------------------------------------------------------
    after = parse_prometheus(backend.metrics_text())
    checks.check(
        "remember counter moved during ingest",
        moved(metrics_before, metrics_mid, "engram_operations_total", op="remember"),
        ">=",
        len(observed),
    )
    n_edges = (
        len(observed)
        + 2 * int((observed["dst_account"] >= 0).sum())
        + int((observed["merchant_id"] >= 0).sum())
    )
    checks.check(
        "link counter moved during ingest",  # the batch link route links edge by edge
        moved(metrics_before, metrics_mid, "engram_operations_total", op="link"),
        "==",
        n_edges,
    )
    checks.check(
        "get latency samples added",
        moved(metrics_mid, after, "engram_operation_duration_seconds_count", op="get"),
        ">",
        0,
    )
    checks.check(
        "completion latency samples added",
        moved(metrics_mid, after, "engram_operation_duration_seconds_count", op="complete"),
        "==",
        len(completion),
    )
    checks.check("errors", len(errors), "==", 0, note="; ".join(errors[:5]))
    checks.assert_all()


def _read(space: object, store: FraudStore, txn_id: int) -> Txn:
    return Txn.from_metadata(space.get(store.txn_node[txn_id]).metadata)  # type: ignore[attr-defined]
