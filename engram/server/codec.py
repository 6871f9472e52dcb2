"""Conversions between JSON values and engine values."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np

from engram.memory import Memory
from engram.server.errors import ApiError


def vector(values: list[float], name: str = "embedding") -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ApiError(400, "invalid_input", f"{name} must be a non-empty array of numbers")
    if not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > np.finfo(np.float32).max):
        raise ApiError(400, "invalid_input", f"{name} values must be finite 32-bit floats")
    return arr.astype(np.float32)


def partial_vector(values: list[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """``partial`` with nulls for unknown dimensions -> (values with 0 there, known-mask)."""
    mask = np.array([v is not None for v in values], dtype=bool)
    if mask.size == 0:
        raise ApiError(400, "invalid_input", "partial must be a non-empty array")
    filled = vector([0.0 if v is None else v for v in values], "partial")
    return filled, mask


def memory(m: Memory) -> dict[str, Any]:
    d = dataclasses.asdict(m)
    d["embedding"] = m.embedding.tolist()
    return d


def fingerprint_bytes(kind: str, raw: bytes) -> str:
    """A digest of a request's raw body: reusing an idempotency key for another payload is a conflict."""
    return hashlib.sha256(kind.encode() + b"\0" + raw).hexdigest()
