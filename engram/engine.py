"""The in-process engine: a thin, typed layer over the C++ module ``engram._core``.

Every call that can take time releases the GIL inside ``_core``; the objects here only convert
arguments and results. Locking is documented in ``cpp/include/engram/*.hpp``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from engram import _core
from engram.durability.store import StoreSettings, open_store
from engram.errors import InvalidInputError, MemoryNotFound, StorageError
from engram.graph import GraphMethods
from engram.memory import Memory
from engram.recall import ConsolidationControl, RecallMethods

ArrayLike = npt.ArrayLike

_ID_MIN, _ID_MAX = -(1 << 63), (1 << 63) - 1


def _memory_id(space: str, memory_id: int) -> int:
    """``memory_id`` as an int64; ids outside that range cannot exist, so they are unknown ids."""
    # Only integers are ids: int("12") or int(12.7) would silently address some other memory.
    if isinstance(memory_id, bool) or not isinstance(memory_id, (int, np.integer)):
        raise InvalidInputError(
            f"a memory id must be an integer; got {type(memory_id).__name__} {memory_id!r}"
        )
    mid = int(memory_id)
    if not _ID_MIN <= mid <= _ID_MAX:
        raise MemoryNotFound(f"no memory with id {mid} in space {space!r}; ids are 64-bit signed integers")
    return mid


class Clock:
    """The engine's clock: system time unless set, then manual (for simulated time)."""

    def __init__(self, core: _core.Engine) -> None:
        self._core = core

    def now(self) -> float:
        """Seconds since the epoch, as the engine sees it."""
        return float(self._core.clock_now())

    @property
    def manual(self) -> bool:
        return bool(self._core.clock_is_manual())

    def set(self, t: float) -> None:
        """Switch to manual time at ``t`` seconds since the epoch."""
        self._core.clock_set(float(t))

    def advance(self, seconds: float = 0.0, *, hours: float = 0.0, days: float = 0.0) -> None:
        """Move manual time forward (switching to manual at the current time first)."""
        self._core.clock_advance(float(seconds) + 3600.0 * hours + 86400.0 * days)

    def use_system(self) -> None:
        self._core.clock_use_system()


class Space(GraphMethods, RecallMethods):
    """One memory space (tenant). Obtain it from :class:`Engine`; never construct it directly."""

    def __init__(self, core: _core.Space) -> None:
        self._core = core

    @property
    def name(self) -> str:
        return str(self._core.name)

    @property
    def dim(self) -> int:
        return int(self._core.dim)

    def remember(
        self,
        embedding: ArrayLike,
        content: str | bytes = "",
        confidence: float = 1.0,
        timestamp: float | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Store one episode and return its id (unique within the engine)."""
        md = dict(metadata) if metadata is not None else None
        return int(self._core.remember(embedding, content, confidence, timestamp, md))

    def remember_batch(
        self,
        embeddings: ArrayLike,
        contents: Sequence[str | bytes] | None = None,
        confidences: Sequence[float] | npt.NDArray[np.floating[Any]] | None = None,
        timestamps: Sequence[float | None] | npt.NDArray[np.floating[Any]] | None = None,
        metadatas: Sequence[Mapping[str, str] | None] | None = None,
    ) -> npt.NDArray[np.int64]:
        """Store ``n`` episodes at once (all or nothing) and return their ids in order."""
        mds = [dict(m) if m is not None else None for m in metadatas] if metadatas is not None else None
        return np.asarray(self._core.remember_batch(embeddings, contents, confidences, timestamps, mds))

    def get(self, memory_id: int) -> Memory:
        """The memory with this id; raises :class:`engram.MemoryNotFound` otherwise."""
        mid, kind, emb, content, conf, ts, md = self._core.get(_memory_id(self.name, memory_id))
        return Memory(int(mid), kind, emb, content, float(conf), float(ts), dict(md))

    def forget(self, memory_id: int) -> None:
        """Tombstone a memory: no later operation returns it."""
        self._core.forget(_memory_id(self.name, memory_id))

    def search(
        self, query: ArrayLike, k: int = 10, ef: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Approximate nearest neighbours by cosine similarity, most similar first."""
        ids, scores = self._core.search(query, int(k), None if ef is None else int(ef))
        return np.asarray(ids), np.asarray(scores)

    def exact_search(
        self, query: ArrayLike, k: int = 10
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Exact nearest neighbours by scanning every memory (a reference for quality checks)."""
        ids, scores = self._core.exact_search(query, int(k))
        return np.asarray(ids), np.asarray(scores)

    def stats(self) -> dict[str, Any]:
        """Counts and memory use in bytes by component."""
        return dict(self._core.stats())

    def validate(self) -> dict[str, Any]:
        """Integrity counts of the index and records; all problem counts are zero when healthy."""
        return dict(self._core.validate())

    def __len__(self) -> int:
        return int(self._core.size())

    def __contains__(self, memory_id: object) -> bool:
        return (
            isinstance(memory_id, (int, np.integer))
            and _ID_MIN <= int(memory_id) <= _ID_MAX
            and bool(self._core.contains(int(memory_id)))
        )

    def __repr__(self) -> str:
        return f"Space(name={self.name!r}, dim={self.dim}, memories={len(self)})"


class Engine(ConsolidationControl):
    """An Engram engine: a set of isolated memory spaces.

    ``path=None`` keeps everything in memory. A path makes it durable: opening recovers the store
    there, and every mutation is in the write-ahead log before it returns (``durability``:
    "group" by default, "fsync" or "none"; see docs/architecture.md, "Durability"). All methods
    are safe to call from many threads.
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
    ) -> None:
        self._core = _core.Engine(
            int(dim), int(M), int(ef_construction), int(ef_search), int(seed),
            int(max_memories), int(max_content_bytes), int(max_spaces),
        )  # fmt: skip
        self.path = os.fspath(path) if path is not None else None
        self.clock = Clock(self._core)
        if self.path is not None:
            open_store(
                self._core,
                self.path,
                StoreSettings(
                    durability=durability,
                    checkpoint_interval_s=float(checkpoint_interval_s),
                    checkpoint_wal_bytes=int(checkpoint_wal_bytes),
                    segment_bytes=int(segment_bytes),
                    flush_interval_s=float(flush_interval_s),
                ),
            )

    @property
    def dim(self) -> int:
        return int(self._core.dim)

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
        return list(self._core.space_names())

    def drop_space(self, name: str) -> None:
        """Remove a space and all its memories; handles to it raise SpaceNotFound afterwards."""
        self._core.drop_space(name)

    def metrics(self) -> dict[str, Any]:
        """Per-space, per-operation counters and latency histograms."""
        d = dict(self._core.metrics())
        d["consolidation"] = self.consolidation_status()
        return d

    def prometheus(self) -> str:
        """The metrics in Prometheus text exposition format."""
        return str(self._core.prometheus())

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
        return int(_core.store_checkpoint(self._core))

    def recovery_info(self) -> dict[str, Any]:
        """What opening the store found: records replayed, torn tails, corruption events."""
        return dict(_core.store_recovery(self._core))

    def wal_stats(self) -> dict[str, Any]:
        """Write-ahead log counters: appends, syncs, LSNs, storage errors."""
        return dict(_core.store_wal_stats(self._core))

    def backup(self, dest: str | os.PathLike[str], *, progress: bool = False) -> dict[str, Any]:
        """Hot, consistent backup into ``dest`` while writes continue (see engram.durability.backup).

        A second backup into the same ``dest`` is incremental: it ships only new WAL segments.
        Returns the manifest written to ``dest/manifest.json``.
        """
        self._require_durable("backup()")
        from engram.durability.backup import backup_engine

        return backup_engine(self, os.fspath(dest), progress=progress)

    @property
    def closed(self) -> bool:
        return bool(self._core.closed)

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
    return str(_core.simd_level())
