"""The in-process engine: a thin, typed layer over the C++ module ``engram._core``.

Every call that can take time releases the GIL inside ``_core``, which also checks and converts
every argument (``cpp/bindings/convert.hpp``); the objects here build the public results from
the named fields of ``_core``'s result types. Locking is documented in
``cpp/include/engram/*.hpp``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from engram import _core
from engram.durability.backup import backup_engine
from engram.durability.store import StoreSettings, open_store, recovery_dict, wal_stats_dict
from engram.errors import SpaceNotFound, StorageError
from engram.graph import GraphMethods
from engram.memory import Memory, MemoryKind
from engram.recall import ConsolidationControl, RecallMethods

ArrayLike = npt.ArrayLike


class Clock:
    """The engine's clock: system time unless set, then manual (for simulated time)."""

    def __init__(self, core: _core.Engine) -> None:
        self._core = core

    def now(self) -> float:
        """Seconds since the epoch, as the engine sees it."""
        return self._core.clock_now()

    @property
    def manual(self) -> bool:
        return self._core.clock_is_manual()

    def set(self, t: float) -> None:
        """Switch to manual time at ``t`` seconds since the epoch."""
        self._core.clock_set(t)

    def advance(self, seconds: float = 0.0, *, hours: float = 0.0, days: float = 0.0) -> None:
        """Move manual time forward (switching to manual at the current time first)."""
        self._core.clock_advance(seconds + 3600.0 * hours + 86400.0 * days)

    def use_system(self) -> None:
        self._core.clock_use_system()


def _stats_dict(sp: _core.Space) -> dict[str, Any]:
    s, c = sp.stats(), sp.config
    return {
        "space": sp.name,
        "dim": sp.dim,
        "episodes": s.episodes,
        "concepts": s.concepts,
        "forgotten": s.forgotten,
        "memory_bytes": {
            "vectors": s.vector_bytes,
            "index_links": s.index_link_bytes,
            "index_nodes": s.index_node_bytes,
            "records": s.record_bytes,
            "content": s.content_bytes,
            "metadata": s.metadata_bytes,
            "concepts": s.concept_bytes,
            "edges": s.edge_bytes,
            "total": s.total_bytes,
        },
        "index": {
            "M": c.M,
            "ef_construction": c.ef_construction,
            "ef_search": c.ef_search,
            "top_level": s.index_top_level,
        },
    }


def _integrity_dict(r: _core.IntegrityReport) -> dict[str, Any]:
    return {
        "ok": r.ok,
        "nodes": r.index.nodes,
        "deleted": r.index.deleted,
        "broken_links": r.index.broken_links,
        "layer_violations": r.index.layer_violations,
        "dangling_ids": r.index.dangling_ids,
        "unreachable": r.index.unreachable,
        "records": r.records,
        "record_index_mismatches": r.record_index_mismatches,
        "concepts": r.concepts,
        "orphaned_concepts": r.orphaned_concepts,
        "one_sided_bindings": r.one_sided_bindings,
        "edges_to_missing": r.edges_to_missing,
    }


def _space_metrics(sp: _core.Space) -> dict[str, Any] | None:
    """One space's operation counters and sizes; None once the space is dropped."""
    ops = {
        m.op: {
            "total": m.total,
            "errors": m.errors,
            "latency": {
                "bounds_seconds": m.latency.bounds_seconds,
                "buckets": m.latency.buckets,
                "count": m.latency.count,
                "sum_seconds": m.latency.sum_seconds,
            },
        }
        for m in sp.operation_metrics()
    }
    try:
        st = sp.stats()
    except SpaceNotFound:  # dropped between listing and reading
        return None
    return {
        "ops": ops,
        "memories": {"episode": st.episodes, "concept": st.concepts},
        "memory_bytes": st.total_bytes,
    }


_Stored = TypeVar("_Stored")


def _store(
    plain: Callable[..., _Stored],
    keyed: Callable[..., tuple[_Stored, bool]],
    args: tuple[Any, ...],
    key: str | None,
    fingerprint: str | bytes | None,
) -> tuple[_Stored, bool]:
    """The one path of a write with an optional idempotency key: ``(result, replayed)``; without a
    key the engine's plain call (nothing to replay)."""
    if key is None:
        return plain(*args), False
    return keyed(*args, key=key, fingerprint=fingerprint)


class Space(GraphMethods, RecallMethods):
    """One memory space (tenant). Obtain it from :class:`Engine`; never construct it directly."""

    def __init__(self, core: _core.Space) -> None:
        self._core = core

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def dim(self) -> int:
        return self._core.dim

    def remember(
        self,
        embedding: ArrayLike,
        content: str | bytes = "",
        confidence: float = 1.0,
        timestamp: float | None = None,
        metadata: Mapping[str, str] | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | bytes | None = None,
    ) -> int:
        """Store one episode and return its id (unique within the engine).

        With ``idempotency_key`` the episode is stored once per key in this space: a repeat with the
        same key and ``fingerprint`` (the caller's digest of its request) stores nothing and returns
        the stored id; another fingerprint raises :class:`engram.IdempotencyConflict`. Keys are
        durable with the memory and bounded per space (``Engine(idempotency_capacity=...)``).
        """
        return _store(
            self._core.remember, self._core.remember_keyed,
            (embedding, content, confidence, timestamp, metadata), idempotency_key, fingerprint,
        )[0]  # fmt: skip

    def remember_keyed(
        self,
        embedding: ArrayLike,
        content: str | bytes = "",
        confidence: float = 1.0,
        timestamp: float | None = None,
        metadata: Mapping[str, str] | None = None,
        *,
        idempotency_key: str,
        fingerprint: str | bytes | None = None,
    ) -> tuple[int, bool]:
        """:meth:`remember` with a key: ``(id, replayed)``, replayed when an earlier call stored it."""
        return self._core.remember_keyed(
            embedding, content, confidence, timestamp, metadata, key=idempotency_key, fingerprint=fingerprint
        )

    def remember_batch(
        self,
        embeddings: ArrayLike,
        contents: Sequence[str | bytes] | None = None,
        confidences: Sequence[float] | npt.NDArray[np.floating[Any]] | None = None,
        timestamps: Sequence[float | None] | npt.NDArray[np.floating[Any]] | None = None,
        metadatas: Sequence[Mapping[str, str] | None] | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | bytes | None = None,
    ) -> npt.NDArray[np.int64]:
        """Store ``n`` episodes at once (all or nothing) and return their ids in order.

        ``idempotency_key`` covers the whole batch, as in :meth:`remember`."""
        return _store(
            self._core.remember_batch, self._core.remember_batch_keyed,
            (embeddings, contents, confidences, timestamps, metadatas), idempotency_key, fingerprint,
        )[0]  # fmt: skip

    def remember_batch_keyed(
        self,
        embeddings: ArrayLike,
        contents: Sequence[str | bytes] | None = None,
        confidences: Sequence[float] | npt.NDArray[np.floating[Any]] | None = None,
        timestamps: Sequence[float | None] | npt.NDArray[np.floating[Any]] | None = None,
        metadatas: Sequence[Mapping[str, str] | None] | None = None,
        *,
        idempotency_key: str,
        fingerprint: str | bytes | None = None,
    ) -> tuple[npt.NDArray[np.int64], bool]:
        """:meth:`remember_batch` with one key for the batch: ``(ids, replayed)``."""
        return self._core.remember_batch_keyed(
            embeddings,
            contents,
            confidences,
            timestamps,
            metadatas,
            key=idempotency_key,
            fingerprint=fingerprint,
        )

    def remember_each(
        self,
        embeddings: ArrayLike,
        contents: Sequence[str | bytes] | None = None,
        confidences: Sequence[float] | npt.NDArray[np.floating[Any]] | None = None,
        timestamps: Sequence[float | None] | npt.NDArray[np.floating[Any]] | None = None,
        metadatas: Sequence[Mapping[str, str] | None] | None = None,
        *,
        keys: Sequence[str | None],
        fingerprints: Sequence[str | bytes] | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Store episodes with one idempotency key each (``None``: no key), as a stream does:
        ``(ids, replayed)``. The episodes not replayed are stored all or nothing, in one record."""
        return self._core.remember_each(
            embeddings, contents, confidences, timestamps, metadatas, keys=keys, fingerprints=fingerprints
        )

    @property
    def idempotency_keys(self) -> int:
        """Idempotency keys this space retains (at most the engine's ``idempotency_capacity``)."""
        return self._core.idempotency_keys

    def get(self, memory_id: int) -> Memory:
        """The memory with this id; raises :class:`engram.MemoryNotFound` otherwise."""
        v = self._core.get(memory_id)
        return Memory(
            id=v.id,
            kind=cast(MemoryKind, v.kind),
            embedding=v.embedding,
            content=v.content,
            confidence=v.confidence,
            timestamp=v.timestamp,
            metadata=v.metadata,
        )

    def forget(self, memory_id: int) -> None:
        """Tombstone a memory: no later operation returns it."""
        self._core.forget(memory_id)

    def search(
        self, query: ArrayLike, k: int = 10, ef: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Approximate nearest neighbours by cosine similarity, most similar first."""
        return self._core.search(query, k, ef)

    def exact_search(
        self, query: ArrayLike, k: int = 10
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Exact nearest neighbours by scanning every memory (a reference for quality checks)."""
        return self._core.exact_search(query, k)

    def stats(self) -> dict[str, Any]:
        """Counts and memory use in bytes by component."""
        return _stats_dict(self._core)

    def validate(self) -> dict[str, Any]:
        """Integrity counts of the index and records; all problem counts are zero when healthy."""
        return _integrity_dict(self._core.validate())

    def __len__(self) -> int:
        return self._core.size()

    def __contains__(self, memory_id: object) -> bool:
        return self._core.contains(memory_id)

    def __repr__(self) -> str:
        return f"Space(name={self.name!r}, dim={self.dim}, memories={len(self)})"


class Engine(ConsolidationControl):
    """An Engram engine: a set of isolated memory spaces.

    ``path=None`` keeps everything in memory. A path makes it durable: opening recovers the store
    there, and every mutation is in the write-ahead log before it returns (``durability``:
    "group" by default, "fsync" or "none"; see docs/architecture.md, "Durability"). Writes are
    refused (``StorageError`` "disk full") while the store's file system is at least
    ``disk_full_fraction`` full (default 0.95; 1 leaves it to the disk). A store of an older format
    is refused (``StorageError`` naming ``engram migrate``) unless ``migrate=True``, which converts
    it in place as it opens (``recovery_info()["migrated_from"]``; see engram.durability.migrate).
    All methods are safe to call from many threads.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        dim: int = 768,
        *,
        M: int = 16,
        ef_construction: int = 200,
        ef_search: int = 64,
        seed: int = 42,
        max_memories: int = 1 << 32,
        max_content_bytes: int = 1 << 20,
        max_spaces: int = 4096,
        durability: str = "group",
        checkpoint_interval_s: float = 300.0,
        checkpoint_wal_bytes: int = 256 << 20,
        segment_bytes: int = 64 << 20,
        flush_interval_s: float = 0.05,
        idempotency_capacity: int = 100_000,
        disk_full_fraction: float = 0.95,
        migrate: bool = False,
    ) -> None:
        self._core = _core.Engine(
            dim, M, ef_construction, ef_search, seed, max_memories, max_content_bytes, max_spaces,
            idempotency_capacity,
        )  # fmt: skip
        self.path = os.fspath(path) if path is not None else None
        self.clock = Clock(self._core)
        if self.path is not None:
            open_store(
                self._core,
                self.path,
                StoreSettings(
                    durability=durability,
                    checkpoint_interval_s=checkpoint_interval_s,
                    checkpoint_wal_bytes=checkpoint_wal_bytes,
                    segment_bytes=segment_bytes,
                    flush_interval_s=flush_interval_s,
                    disk_full_fraction=disk_full_fraction,
                ),
                migrate=migrate,
            )

    @property
    def dim(self) -> int:
        return self._core.dim

    def create_space(
        self,
        name: str,
        *,
        dim: int | None = None,
        M: int | None = None,
        ef_construction: int | None = None,
        ef_search: int | None = None,
        max_memories: int | None = None,
    ) -> Space:
        """Create a memory space; raises :class:`engram.SpaceExists` if the name is taken."""
        return Space(self._core.create_space(name, dim, M, ef_construction, ef_search, max_memories))

    def space(self, name: str) -> Space:
        """An existing space; raises :class:`engram.SpaceNotFound` otherwise."""
        return Space(self._core.space(name))

    def spaces(self) -> list[str]:
        return self._core.space_names()

    def drop_space(self, name: str) -> None:
        """Remove a space and all its memories; handles to it raise SpaceNotFound afterwards."""
        self._core.drop_space(name)

    def metrics(self) -> dict[str, Any]:
        """Per-space, per-operation counters and latency histograms."""
        spaces = {}
        for sp in self._core.spaces():
            m = _space_metrics(sp)
            if m is not None:
                spaces[sp.name] = m
        return {"spaces": spaces, "simd": _core.simd_level(), "consolidation": self.consolidation_status()}

    def prometheus(self) -> str:
        """The metrics in Prometheus text exposition format."""
        return self._core.prometheus()

    def close(self) -> None:
        self._core.close()

    # --- durability (engram.durability) ---------------------------------------------------

    @property
    def durable(self) -> bool:
        return self.path is not None

    def _require_durable(self, what: str) -> None:
        if self.path is None:
            raise StorageError(f"{what} needs a durable engine; this one is in memory (path=None)")

    def checkpoint(self) -> int:
        """Write a checkpoint of the full state now; returns its LSN."""
        self._require_durable("checkpoint()")
        return self._core.checkpoint()

    def recovery_info(self) -> dict[str, Any]:
        """What opening the store found: records replayed, torn tails, corruption events."""
        return recovery_dict(self._core.recovery_info())

    def wal_stats(self) -> dict[str, Any]:
        """Write-ahead log counters: appends, syncs, LSNs, storage errors."""
        return wal_stats_dict(self._core.wal_stats())

    def backup(self, dest: str | os.PathLike[str], *, progress: bool = False) -> dict[str, Any]:
        """Hot, consistent backup into ``dest`` while writes continue (see engram.durability.backup).

        A second backup into the same ``dest`` is incremental: it ships only new WAL segments.
        Returns the manifest written to ``dest/manifest.json``.
        """
        self._require_durable("backup()")
        return backup_engine(self._core, os.fspath(dest), progress=progress)

    @property
    def closed(self) -> bool:
        return self._core.closed

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.spaces())

    def __repr__(self) -> str:
        return f"Engine(path={self.path!r}, dim={self.dim}, spaces={len(self.spaces())})"


def simd_level() -> str:
    """The distance kernels in use: scalar, avx2 or avx512."""
    return _core.simd_level()
