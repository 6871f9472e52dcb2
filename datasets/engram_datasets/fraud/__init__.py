"""Synthetic transactions with injected, labelled fraud patterns (workflow 103)."""

from __future__ import annotations

from .config import PARTIAL_KINDS, PATTERN_KINDS, FraudConfig
from .detectors import (
    detect_all,
    find_account_takeovers,
    find_impossible_travel,
    find_mule_chains,
    find_rings,
    find_structuring,
    find_velocity_bursts,
)
from .generator import generate_fraud
from .geo import CITIES, haversine_km
from .ground_truth import FraudDataset, FraudGroundTruth, InjectedPattern, PartialPattern
from .schema import LABEL_COLUMNS, TXN_DTYPES, TXN_KINDS

__all__ = [
    "CITIES",
    "LABEL_COLUMNS",
    "PARTIAL_KINDS",
    "PATTERN_KINDS",
    "TXN_DTYPES",
    "TXN_KINDS",
    "FraudConfig",
    "FraudDataset",
    "FraudGroundTruth",
    "InjectedPattern",
    "PartialPattern",
    "detect_all",
    "find_account_takeovers",
    "find_impossible_travel",
    "find_mule_chains",
    "find_rings",
    "find_structuring",
    "find_velocity_bursts",
    "generate_fraud",
    "haversine_km",
]
