"""Injectors: one function per fraud pattern kind, each returning a :class:`PatternDraft`.

Every injector uses fresh accounts (no account takes part in two patterns) and builds the
pattern so that the matching reference detector in :mod:`.detectors` finds it:

- ``ring``: ``k`` accounts pass money round a directed cycle A->B->...->A, each hop minutes to
  hours after the previous one, each amount 0.5-3 % below the previous.
- ``mule_chain``: a source account and ``hops`` mules forward money along a path (3-5 hops),
  each hop within hours and at 95-99.5 % of the amount received.
- ``velocity_burst``: one account makes 8-15 small purchases within ``velocity_window_s``.
- ``impossible_travel``: a purchase at home, then one in a city >= ``min_jump_km`` away minutes
  later (speed far above ``impossible_speed_kmh``).
- ``structuring``: 3-6 deposits in ``[floor * limit, limit)`` within ``structuring_window_s``.
- ``account_takeover``: a transfer above the reporting limit from a device the account never
  used, in a city >= ``min_jump_km`` from home, to a fresh beneficiary account.
"""

from __future__ import annotations

from collections.abc import Callable

from .builder import PatternBuilder, PatternDraft


def ring(b: PatternBuilder, size: int | None = None) -> PatternDraft:
    k = size or int(b.rng.integers(b.cfg.ring_size[0], b.cfg.ring_size[1] + 1))
    members = b.take_accounts(k)
    delays = b.rng.integers(600, 4 * 3600, k)
    t = b.start_time(int(delays.sum()))
    amount = float(b.rng.uniform(2_000, 8_000))
    rows = []
    for i, src in enumerate(members):
        dst = members[(i + 1) % k]
        t += int(delays[i])
        rows.append(
            b.row(
                ts=t,
                src=src,
                dst=dst,
                kind="transfer",
                amount=amount,
                where=b.home_point(src),
                city=b.home_city(src),
            )
        )
        amount *= float(b.rng.uniform(0.97, 0.995))
    return PatternDraft("ring", rows, members, {"ring_size": k})


def mule_chain(b: PatternBuilder, hops: int | None = None) -> PatternDraft:
    h = hops or int(b.rng.integers(b.cfg.chain_hops[0], min(b.cfg.chain_hops[1], b.cfg.max_pattern_hops) + 1))
    members = b.take_accounts(h + 1)
    delays = b.rng.integers(300, 3 * 3600, h)
    t = b.start_time(int(delays.sum()))
    amount = float(b.rng.uniform(1_500, 8_500))
    rows = []
    for i in range(h):
        src, dst = members[i], members[i + 1]
        t += int(delays[i])
        rows.append(
            b.row(
                ts=t,
                src=src,
                dst=dst,
                kind="transfer",
                amount=amount,
                where=b.home_point(src),
                city=b.home_city(src),
            )
        )
        amount *= float(b.rng.uniform(0.95, 0.995))
    return PatternDraft("mule_chain", rows, members, {"hops": h})


def velocity_burst(b: PatternBuilder, size: int | None = None) -> PatternDraft:
    n = size or int(b.rng.integers(b.cfg.burst_size[0], b.cfg.burst_size[1] + 1))
    (acc,) = b.take_accounts(1)
    span = int(b.rng.integers(60, int(0.9 * b.cfg.velocity_window_s)))
    t0 = b.start_time(span)
    offsets = sorted(int(x) for x in b.rng.integers(0, span + 1, n))
    city = b.home_city(acc)
    rows = [
        b.row(
            ts=t0 + off,
            src=acc,
            kind="purchase",
            merchant=b.merchant_in(city),
            amount=float(b.rng.uniform(1, 60)),
            where=b.home_point(acc),
            city=city,
        )
        for off in offsets
    ]
    b.add_quiet(acc, t0, t0 + span)
    return PatternDraft(
        "velocity_burst", rows, [acc], {"n_transactions": n, "span_s": offsets[-1] - offsets[0]}
    )


def impossible_travel(b: PatternBuilder) -> PatternDraft:
    (acc,) = b.take_accounts(1)
    home = b.home_city(acc)
    far = b.far_city(home)
    gap = int(b.rng.integers(5 * 60, 60 * 60))
    t0 = b.start_time(gap)
    rows = [
        b.row(
            ts=t0,
            src=acc,
            kind="purchase",
            merchant=b.merchant_in(home),
            amount=float(b.rng.uniform(10, 300)),
            where=b.home_point(acc),
            city=home,
        ),
        b.row(
            ts=t0 + gap,
            src=acc,
            kind="purchase",
            merchant=b.merchant_in(far),
            amount=float(b.rng.uniform(50, 2_000)),
            where=b.city_point(far),
            city=far,
        ),
    ]
    b.add_quiet(acc, t0, t0 + gap)
    dist = b.distance_km(home, far)
    return PatternDraft("impossible_travel", rows, [acc], {"distance_km": round(dist, 1), "gap_s": gap})


def structuring(b: PatternBuilder, count: int | None = None) -> PatternDraft:
    n = count or int(b.rng.integers(b.cfg.structuring_count[0], b.cfg.structuring_count[1] + 1))
    (acc,) = b.take_accounts(1)
    span = int(b.rng.integers(3_600, b.cfg.structuring_window_s))
    t0 = b.start_time(span)
    times = sorted([t0, t0 + span, *(int(x) for x in b.rng.integers(t0, t0 + span + 1, n - 2))])
    lo, hi = b.cfg.structuring_floor * b.cfg.reporting_limit, b.cfg.reporting_limit - 1.0
    rows = [
        b.row(
            ts=ts,
            src=acc,
            kind="deposit",
            amount=float(b.rng.uniform(lo, hi)),
            where=b.home_point(acc),
            city=b.home_city(acc),
        )
        for ts in times
    ]
    return PatternDraft(
        "structuring", rows, [acc], {"n_deposits": n, "span_s": span, "limit": b.cfg.reporting_limit}
    )


def account_takeover(b: PatternBuilder) -> PatternDraft:
    victim, beneficiary = b.take_accounts(2)
    far = b.far_city(b.home_city(victim))
    t0 = b.start_time(0)
    device = b.new_device()
    amount = float(b.rng.uniform(1.2, 4.0)) * b.cfg.reporting_limit
    rows = [
        b.row(
            ts=t0,
            src=victim,
            dst=beneficiary,
            kind="transfer",
            amount=amount,
            where=b.city_point(far),
            city=far,
            device=device,
        )
    ]
    b.add_quiet(victim, t0, t0)
    return PatternDraft(
        "account_takeover",
        rows,
        [victim, beneficiary],
        {"new_device_id": device, "distance_km": round(b.distance_km(b.home_city(victim), far), 1)},
    )


INJECTORS: dict[str, Callable[[PatternBuilder], PatternDraft]] = {
    "ring": ring,
    "mule_chain": mule_chain,
    "velocity_burst": velocity_burst,
    "impossible_travel": impossible_travel,
    "structuring": structuring,
    "account_takeover": account_takeover,
}
