"""Precision and recall of a detector against ground truth (e.g. injected fraud patterns)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

__all__ = ["PrecisionRecall", "precision_recall", "precision_recall_from_counts"]


@dataclass(frozen=True)
class PrecisionRecall:
    """Precision tp/(tp+fp), recall tp/(tp+fn) and their harmonic mean F1; 0/0 is reported as nan."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def precision_recall_from_counts(
    true_positives: int, false_positives: int, false_negatives: int
) -> PrecisionRecall:
    """Precision, recall and F1 from confusion counts (all non-negative)."""
    tp, fp, fn = int(true_positives), int(false_positives), int(false_negatives)
    if min(tp, fp, fn) < 0:
        raise ValueError("counts must be non-negative")
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return PrecisionRecall(precision, recall, f1, tp, fp, fn)


def precision_recall(predicted: Iterable[Hashable], relevant: Iterable[Hashable]) -> PrecisionRecall:
    """Set-based precision and recall: ``predicted`` items found by the detector, ``relevant`` the truth.

    Duplicates are ignored (both arguments are turned into sets). When nothing was predicted precision is
    nan; when nothing is relevant recall is nan.
    """
    pred = set(predicted)
    truth = set(relevant)
    tp = len(pred & truth)
    return precision_recall_from_counts(tp, len(pred - truth), len(truth - pred))
