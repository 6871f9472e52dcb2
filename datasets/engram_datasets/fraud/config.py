"""Parameters of the synthetic fraud data set (workflow 103)."""

from __future__ import annotations

from dataclasses import dataclass

#: Complete-pattern kinds, assigned round-robin to the ``n_patterns`` injected patterns.
PATTERN_KINDS: tuple[str, ...] = (
    "ring",
    "mule_chain",
    "velocity_burst",
    "impossible_travel",
    "structuring",
    "account_takeover",
)
#: Kinds used for partial patterns (something meaningful is left once members are hidden).
PARTIAL_KINDS: tuple[str, ...] = ("ring", "mule_chain", "velocity_burst", "structuring")

#: 2024-01-01T00:00:00Z
DEFAULT_START_TS = 1_704_067_200


@dataclass(frozen=True)
class FraudConfig:
    """Sizes, seed and the thresholds that make every pattern detectable by construction.

    ``n_transactions`` counts the visible transactions (background plus injected); the hidden
    members of partial patterns come on top, in the ground truth only.
    """

    n_transactions: int = 100_000
    n_accounts: int = 10_000
    n_merchants: int = 5_000
    n_patterns: int = 50
    n_partial_patterns: int = 20
    seed: int = 0
    start_ts: int = DEFAULT_START_TS
    days: int = 30
    #: Structuring sits just below this amount (e.g. a 10,000 cash-reporting limit).
    reporting_limit: float = 10_000.0
    #: Structuring amounts fall in ``[structuring_floor * limit, limit)``; background never does.
    structuring_floor: float = 0.90
    #: Background transfers and deposits are capped at ``background_cap * limit``.
    background_cap: float = 0.75
    #: Velocity: a burst puts at least ``velocity_threshold`` transactions in this window.
    velocity_window_s: int = 300
    velocity_threshold: int = 6
    burst_size: tuple[int, int] = (8, 15)
    #: Impossible travel: two transactions this far apart at a speed no flight reaches.
    impossible_speed_kmh: float = 900.0
    min_jump_km: float = 2_000.0
    #: No background transaction of a pattern account within this many seconds of a
    #: time-sensitive pattern (travel, takeover, burst), so speeds to or from it stay plausible.
    quiet_period_s: int = 86_400
    ring_size: tuple[int, int] = (3, 5)
    chain_hops: tuple[int, int] = (3, 5)
    structuring_count: tuple[int, int] = (3, 6)
    structuring_window_s: int = 72 * 3600
    max_pattern_hops: int = 5
    #: Detection thresholds (the reference detectors here and workflow 103's matchers both read
    #: them, so they are defined once): a hop forwards money received within ``hop_max_delay_s`` at
    #: ``hop_amount_ratio`` of the amount; impossible travel and account takeover need at least
    #: ``detect_min_km`` (below the generator's ``min_jump_km``, so every injected jump qualifies).
    #: Chains need ``chain_hops[0]`` transfers and structuring ``structuring_count[0]`` amounts.
    hop_max_delay_s: int = 6 * 3600
    hop_amount_ratio: tuple[float, float] = (0.9, 1.0)
    detect_min_km: float = 500.0

    @classmethod
    def quick(cls, **overrides: object) -> FraudConfig:
        """The quick profile: 10K transactions, 1K accounts, 500 merchants, all 50 + 20 patterns."""
        base: dict[str, object] = {"n_transactions": 10_000, "n_accounts": 1_000, "n_merchants": 500}
        return cls(**(base | overrides))  # type: ignore[arg-type]

    @property
    def end_ts(self) -> int:
        return self.start_ts + self.days * 86_400
