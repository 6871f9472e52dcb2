"""Ground truth returned with the synthetic fraud data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .config import FraudConfig
from .schema import LABEL_COLUMNS


@dataclass(frozen=True)
class InjectedPattern:
    """A complete injected pattern. ``txn_ids`` and ``account_ids`` are in pattern order
    (ring and chain order, otherwise time order); every id is in the transactions table."""

    pattern_id: int
    kind: str
    txn_ids: tuple[int, ...]
    account_ids: tuple[int, ...]
    start_ts: int
    end_ts: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PartialPattern:
    """A pattern with some members withheld. ``visible_*`` are in the transactions table;
    ``hidden_txn_ids`` are only in :attr:`FraudGroundTruth.hidden_transactions`.
    ``txn_ids``/``account_ids`` give the whole pattern in pattern order."""

    pattern_id: int
    kind: str
    txn_ids: tuple[int, ...]
    account_ids: tuple[int, ...]
    visible_txn_ids: tuple[int, ...]
    hidden_txn_ids: tuple[int, ...]
    visible_account_ids: tuple[int, ...]
    hidden_account_ids: tuple[int, ...]
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FraudGroundTruth:
    patterns: tuple[InjectedPattern, ...]
    partials: tuple[PartialPattern, ...]
    #: The withheld transactions of the partial patterns (same columns as the transactions).
    hidden_transactions: pd.DataFrame

    def by_kind(self, kind: str) -> list[InjectedPattern]:
        return [p for p in self.patterns if p.kind == kind]

    def fraud_txn_ids(self, *, include_partials: bool = True) -> set[int]:
        """Ids of visible transactions that belong to an injected pattern."""
        ids = {t for p in self.patterns for t in p.txn_ids}
        if include_partials:
            ids |= {t for p in self.partials for t in p.visible_txn_ids}
        return ids

    def to_frame(self) -> pd.DataFrame:
        """One row per pattern (complete and partial) with its kind and id lists."""
        rows = [
            {
                "pattern_id": p.pattern_id,
                "kind": p.kind,
                "partial": False,
                "txn_ids": list(p.txn_ids),
                "account_ids": list(p.account_ids),
                "hidden_txn_ids": [],
                "hidden_account_ids": [],
            }
            for p in self.patterns
        ] + [
            {
                "pattern_id": p.pattern_id,
                "kind": p.kind,
                "partial": True,
                "txn_ids": list(p.txn_ids),
                "account_ids": list(p.account_ids),
                "hidden_txn_ids": list(p.hidden_txn_ids),
                "hidden_account_ids": list(p.hidden_account_ids),
            }
            for p in self.partials
        ]
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class FraudDataset:
    """``transactions`` (time-ordered, ``txn_id`` 0..n-1), ``accounts``, ``merchants``, truth."""

    transactions: pd.DataFrame
    accounts: pd.DataFrame
    merchants: pd.DataFrame
    ground_truth: FraudGroundTruth
    config: FraudConfig

    def observed(self) -> pd.DataFrame:
        """The transactions without the label columns (what a detector may look at)."""
        return self.transactions.drop(columns=list(LABEL_COLUMNS))
