"""Temporal decay: the engine's functions against their closed forms, and use with the
simulated engine clock."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engram
from engram import decay

ages = st.floats(min_value=0.0, max_value=3 * 365 * decay.DAY, allow_nan=False)
times = st.floats(min_value=60.0, max_value=120 * decay.DAY)
exponents = st.floats(min_value=0.0, max_value=3.0)


@settings(deadline=None)
@given(age=ages, tau=times)
def test_exponential_matches_closed_form(age: float, tau: float) -> None:
    got = decay.retention("exponential", [age], tau=tau)[0]
    assert got == pytest.approx(math.exp(-age / tau), rel=1e-12, abs=1e-300)
    assert got == pytest.approx(decay.exponential(age, tau), rel=1e-12, abs=1e-300)


@settings(deadline=None)
@given(age=ages, beta=exponents, unit=times)
def test_power_law_matches_closed_form(age: float, beta: float, unit: float) -> None:
    got = decay.retention("power_law", [age], beta=beta, unit=unit)[0]
    assert got == pytest.approx((1 + age / unit) ** -beta, rel=1e-12)


@settings(deadline=None)
@given(age=ages, recent=times, remote=times, w=st.floats(0.0, 1.0))
def test_two_component_matches_closed_form(age: float, recent: float, remote: float, w: float) -> None:
    got = decay.retention(
        "two_component", [age], recent_half_life=recent, remote_half_life=remote, recent_weight=w
    )
    expected = w * 0.5 ** (age / recent) + (1 - w) * 0.5 ** (age / remote)
    assert got[0] == pytest.approx(expected, rel=1e-12, abs=1e-300)


@settings(deadline=None)
@given(age=ages, tau=times, beta=exponents, switch=times, match=st.booleans())
def test_hybrid_matches_closed_form(age: float, tau: float, beta: float, switch: float, match: bool) -> None:
    got = decay.retention("hybrid", [age], tau=tau, beta=beta, switch_after=switch, match_at_switch=match)[0]
    if age < switch:
        expected = math.exp(-age / tau)
    else:
        expected = (1 + age / 3600.0) ** -beta
        if match:
            expected *= math.exp(-switch / tau) / (1 + switch / 3600.0) ** -beta
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert got == pytest.approx(decay.hybrid(age, tau, beta, switch, 3600.0, match), rel=1e-12, abs=1e-300)


def test_defaults_and_anchor_points() -> None:
    h = decay.HOUR
    assert decay.retention("exponential", [1.96 * h])[0] == pytest.approx(math.exp(-1))
    assert decay.retention("power_law", [(2 ** (1 / 0.18) - 1) * h])[0] == pytest.approx(0.5)
    assert decay.retention("two_component", [0.0])[0] == 1.0
    assert decay.retention("hybrid", [23.99 * h])[0] == pytest.approx(math.exp(-23.99 / 0.8))
    assert decay.retention("hybrid", [24 * h])[0] == pytest.approx(25**-0.25)
    # Every model is non-increasing in age and stays in [0, 1]; negative ages count as zero.
    # The upstream hybrid jumps up at its switch, so it is checked in its continuous form.
    grid = np.geomspace(1.0, 2 * 365 * decay.DAY, 400)
    for model in decay.MODELS:
        params = {"match_at_switch": True} if model == "hybrid" else {}
        r = decay.retention(model, grid, **params)
        assert np.all(np.diff(r) <= 0), model
        assert np.all((r >= 0) & (r <= 1))
        assert decay.retention(model, [-5.0])[0] == 1.0


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(engram.InvalidInputError, match="tau"):
        decay.retention("exponential", [1.0], tau=0.0)
    with pytest.raises(engram.InvalidInputError, match="recent weight"):
        decay.retention("two_component", [1.0], recent_weight=2.0)
    with pytest.raises(engram.InvalidInputError, match="does not apply"):
        decay.retention("exponential", [1.0], beta=0.5)
    with pytest.raises(engram.InvalidInputError, match="unknown decay model"):
        decay.retention("ebbinghaus", [1.0])


def test_simulated_clock_drives_the_age() -> None:
    with engram.Engine(dim=4) as eng:
        eng.clock.set(1_700_000_000.0)
        sp = eng.create_space("clocked")
        mid = sp.remember(np.ones(4, dtype=np.float32))
        stored = sp.get(mid).timestamp
        assert stored == 1_700_000_000.0
        eng.clock.advance(days=7)
        age = eng.clock.now() - stored
        # Half of the recent trace is left after its 7-day half-life.
        assert decay.retention("two_component", [age], recent_weight=1.0)[0] == pytest.approx(0.5)
        eng.clock.advance(days=83)
        age = eng.clock.now() - stored
        assert decay.retention("two_component", [age], recent_weight=0.0)[0] == pytest.approx(0.5)
