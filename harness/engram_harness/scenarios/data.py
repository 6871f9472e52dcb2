"""``[data]``: the embeddings a scenario stores and queries, and how many are preloaded.

Scenario data comes from :mod:`engram_harness.vectors` with the requirements' load generator:
``clustered`` (the default): ``clusters`` centres drawn U(-1, 1) per dimension, a vector is its
centre plus Gaussian noise of standard deviation ``sigma`` per dimension, clamped to [-1, 1] and L2-normalised;
``uniform``: U(-1, 1) per dimension, L2-normalised. The vector of an index depends only on the spec
and the index, so any subset can be produced without generating everything before it.
"""

from __future__ import annotations

from engram_harness.scenarios.toml_table import Table
from engram_harness.vectors import FRESH_BASE, ClusterSpec

__all__ = ["FRESH_BASE", "parse_data", "scenario_data"]


def scenario_data(
    dim: int = 768, distribution: str = "clustered", clusters: int = 10, sigma: float = 0.1, seed: int = 0
) -> ClusterSpec:
    """The :class:`~engram_harness.vectors.ClusterSpec` of a scenario's ``[data]`` table."""
    if distribution == "uniform":
        return ClusterSpec(dim=dim, clusters=1, shape="uniform", centres="cube", sigma=0.0, seed=seed)
    return ClusterSpec(dim=dim, clusters=clusters, shape="isotropic", centres="cube", sigma=sigma, clamp=True,
                       seed=seed)  # fmt: skip


def parse_data(tab: Table, default_seed: int) -> tuple[ClusterSpec, int]:
    """``[data]``: the embedding spec and ``preload`` (items remembered before the run starts)."""
    dist = tab.string("distribution", "clustered", choices=("clustered", "uniform"))
    spec = scenario_data(
        dim=tab.integer("dim", 768, lo=1),
        distribution=dist,
        clusters=tab.integer("clusters", 10, lo=1) if dist == "clustered" else 1,
        sigma=tab.number("sigma", 0.1, lo=0.0) if dist == "clustered" else 0.0,
        seed=tab.integer("seed", default_seed, lo=0),
    )
    preload = tab.integer("preload", 0, lo=0)
    tab.reject_unknown()
    return spec, preload
