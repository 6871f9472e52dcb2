"""The seeded fraud data generator: background activity plus injected, labelled patterns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .background import background_transactions, enforce_quiet_periods
from .builder import PatternBuilder, PatternDraft
from .config import PARTIAL_KINDS, PATTERN_KINDS, FraudConfig
from .entities import make_accounts, make_merchants
from .ground_truth import FraudDataset, FraudGroundTruth, InjectedPattern, PartialPattern
from .partials import make_partial
from .patterns import INJECTORS
from .schema import TXN_DTYPES


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[c for c in TXN_DTYPES if c != "txn_id"])


def generate_fraud(config: FraudConfig | None = None, **overrides: Any) -> FraudDataset:
    """Generate the data set for ``config`` (defaults: 100K transactions, 10K accounts, 5K
    merchants, 50 patterns, 20 partials); keyword ``overrides`` replace config fields.

    Same config (seed included) -> identical frames and ground truth. Visible transactions are
    sorted by time (ties by generation order) and numbered 0..n-1; hidden members of partial
    patterns are numbered after them, n.., in time order.
    """
    cfg = config or FraudConfig()
    if overrides:
        cfg = FraudConfig(**({**cfg.__dict__, **overrides}))
    rng = np.random.default_rng(cfg.seed)
    accounts = make_accounts(rng, cfg.n_accounts, cfg.start_ts)
    merchants = make_merchants(rng, cfg.n_merchants)
    builder = PatternBuilder(rng, cfg, accounts, merchants)

    drafts: list[tuple[PatternDraft, list[int], list[int]]] = []
    for i in range(cfg.n_patterns):
        drafts.append((INJECTORS[PATTERN_KINDS[i % len(PATTERN_KINDS)]](builder), [], []))
    for i in range(cfg.n_partial_patterns):
        drafts.append(make_partial(builder, PARTIAL_KINDS[i % len(PARTIAL_KINDS)]))

    injected: list[dict[str, Any]] = []
    for pid, (draft, hidden_pos, _) in enumerate(drafts):
        for pos, row in enumerate(draft.rows):
            injected.append(row | {"pattern_id": pid, "_pid": pid, "_pos": pos, "_hidden": pos in hidden_pos})
    inj = pd.DataFrame(injected)
    n_visible_injected = int((~inj["_hidden"]).sum())
    n_bg = cfg.n_transactions - n_visible_injected
    if n_bg < 0:
        raise ValueError(f"n_transactions={cfg.n_transactions} < {n_visible_injected} injected transactions")

    bg = background_transactions(rng, cfg, accounts, merchants, n_bg)
    enforce_quiet_periods(rng, cfg, bg, builder.quiet)
    bg["_pid"], bg["_pos"], bg["_hidden"] = -1, -1, False

    allrows = pd.concat([bg, inj], ignore_index=True)
    allrows = allrows.sort_values(["_hidden", "timestamp"], kind="stable").reset_index(drop=True)
    allrows.insert(0, "txn_id", np.arange(len(allrows), dtype=np.int64))
    for col, dtype in TXN_DTYPES.items():
        allrows[col] = allrows[col].astype(dtype)

    key = allrows[allrows["_pid"] >= 0].set_index(["_pid", "_pos"])["txn_id"]
    hidden_mask = allrows["_hidden"].to_numpy()
    visible = allrows[~hidden_mask].drop(columns=["_pid", "_pos", "_hidden"]).reset_index(drop=True)
    hidden = allrows[hidden_mask].drop(columns=["_pid", "_pos", "_hidden"]).reset_index(drop=True)

    patterns: list[InjectedPattern] = []
    partials: list[PartialPattern] = []
    for pid, (draft, hidden_pos, hidden_accounts) in enumerate(drafts):
        ids = tuple(int(key[(pid, pos)]) for pos in range(len(draft.rows)))
        times = [r["timestamp"] for r in draft.rows]
        if pid < cfg.n_patterns:
            patterns.append(
                InjectedPattern(
                    pid, draft.kind, ids, tuple(draft.account_ids), min(times), max(times), draft.attributes
                )
            )
        else:
            hidden_ids = tuple(ids[p] for p in hidden_pos)
            partials.append(
                PartialPattern(
                    pattern_id=pid,
                    kind=draft.kind,
                    txn_ids=ids,
                    account_ids=tuple(draft.account_ids),
                    visible_txn_ids=tuple(t for t in ids if t not in hidden_ids),
                    hidden_txn_ids=hidden_ids,
                    visible_account_ids=tuple(a for a in draft.account_ids if a not in hidden_accounts),
                    hidden_account_ids=tuple(hidden_accounts),
                    attributes=draft.attributes,
                )
            )
    truth = FraudGroundTruth(tuple(patterns), tuple(partials), hidden)
    return FraudDataset(
        transactions=visible,
        accounts=accounts.drop(columns=["city_idx"]),
        merchants=merchants.drop(columns=["city_idx"]),
        ground_truth=truth,
        config=cfg,
    )
