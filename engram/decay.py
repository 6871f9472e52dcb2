"""Temporal decay: retention R(age) in [0, 1] as a function of age in seconds.

The pure-Python closed forms below mirror ``cpp/include/engram/decay.hpp`` (the engine's
implementation); :func:`retention` evaluates the engine's version, so tests can compare both.
Ages below zero count as zero (R = 1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from engram import _core

HOUR = 3600.0
DAY = 86400.0
MODELS = ("exponential", "power_law", "two_component", "hybrid")


def _age(t: float) -> float:
    return 0.0 if math.isnan(t) or t < 0.0 else t


def exponential(age_s: float, tau: float = 1.96 * HOUR) -> float:
    """R = e^(-t/tau)."""
    return math.exp(-_age(age_s) / tau)


def power_law(age_s: float, beta: float = 0.18, unit: float = HOUR) -> float:
    """R = (1 + t/unit)^(-beta), t in units of ``unit`` (hours by default)."""
    return float((1.0 + _age(age_s) / unit) ** (-beta))


def two_component(
    age_s: float,
    recent_half_life: float = 7 * DAY,
    remote_half_life: float = 90 * DAY,
    recent_weight: float = 0.5,
) -> float:
    """R = w * 2^(-t/h_recent) + (1 - w) * 2^(-t/h_remote)."""
    t = _age(age_s)
    return float(
        recent_weight * 2.0 ** (-t / recent_half_life)
        + (1.0 - recent_weight) * 2.0 ** (-t / remote_half_life)
    )


def hybrid(
    age_s: float,
    tau: float = 0.8 * HOUR,
    beta: float = 0.25,
    switch_after: float = 24 * HOUR,
    unit: float = HOUR,
    match_at_switch: bool = False,
) -> float:
    """Exponential before ``switch_after``, power law from then on (optionally made continuous)."""
    t = _age(age_s)
    if t < switch_after:
        return math.exp(-t / tau)
    r = float((1.0 + t / unit) ** (-beta))
    if match_at_switch:
        r *= math.exp(-switch_after / tau) / (1.0 + switch_after / unit) ** (-beta)
    return r


def retention(model: str, ages: npt.ArrayLike, **params: Any) -> npt.NDArray[np.float64]:
    """The engine's retention for ``ages`` (seconds) under ``model`` with optional parameters.

    Parameters: exponential ``tau``; power_law ``beta``, ``unit``; two_component
    ``recent_half_life``, ``remote_half_life``, ``recent_weight``; hybrid ``tau``, ``beta``,
    ``unit``, ``switch_after``, ``match_at_switch``.
    """
    return _core.decay_retention(model, ages, **params)


def hop_decay(decay: str, hops: int, rate: float | None = None) -> float:
    """The engine's attenuation of a spreading path of ``hops`` hops."""
    return _core.hop_decay(decay, hops, rate)
