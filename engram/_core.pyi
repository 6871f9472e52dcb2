"""
Engram's C++ engine. Use the engram package rather than this module directly.
"""

from __future__ import annotations

import collections.abc
import typing

import numpy
import numpy.typing

__all__: list[str] = [
    "FORMAT_VERSION",
    "HTTP_LOAD_AVAILABLE",
    "LOAD_ERROR_CLASSES",
    "OLDEST_FORMAT_VERSION",
    "SPACE_NAME_MAX",
    "SPACE_NAME_PATTERN",
    "SPACE_NAME_RULE",
    "Activation",
    "BuildInfo",
    "Checkpoint",
    "Completion",
    "Concept",
    "ConsolidationCounters",
    "ConsolidationReport",
    "ConsolidatorStatus",
    "Edge",
    "Engine",
    "FeatureFlags",
    "HttpLoadOutcome",
    "Hypothesis",
    "IndexIntegrity",
    "IntegrityReport",
    "LatencyHistogram",
    "LoadOutcome",
    "MemoryView",
    "MigrationReport",
    "OperationMetrics",
    "Recollection",
    "RecoveryEvent",
    "RecoveryInfo",
    "Space",
    "SpaceConfig",
    "SpaceStats",
    "VerifyIssue",
    "VerifyReport",
    "WalInspection",
    "WalRecord",
    "WalSegment",
    "WalStats",
    "build_info",
    "crc32c",
    "decay_retention",
    "dot",
    "hop_decay",
    "inspect_wal",
    "is_valid_space_name",
    "lock_waits",
    "migrate_store",
    "run_schedule",
    "run_schedule_http",
    "set_simd_level",
    "simd_best",
    "simd_level",
    "simd_supported",
    "verify_store",
]

class MemoryView:
    """
    One memory copied out of the engine (Space.get).
    """
    @property
    def confidence(self) -> float: ...
    @property
    def content(self) -> str:
        """
        The content as text.
        """
    @property
    def embedding(self) -> numpy.typing.NDArray[numpy.float32]:
        """
        The stored float32 embedding (a new array on each read).
        """
    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str:
        """
        'episode' or 'concept'.
        """
    @property
    def metadata(self) -> dict[str, str]:
        """
        The metadata as a new dict on each read.
        """
    @property
    def timestamp(self) -> float:
        """
        Seconds since the Unix epoch.
        """

class SpaceConfig:
    """
    A space's configuration (fixed at creation).
    """
    @property
    def M(self) -> int:
        """
        HNSW links per node on upper layers.
        """
    @property
    def dim(self) -> int: ...
    @property
    def ef_construction(self) -> int:
        """
        HNSW candidate list size while inserting.
        """
    @property
    def ef_search(self) -> int:
        """
        Default HNSW candidate list size while searching.
        """
    @property
    def max_content_bytes(self) -> int: ...
    @property
    def max_k(self) -> int: ...
    @property
    def max_memories(self) -> int: ...
    @property
    def max_metadata_entries(self) -> int: ...
    @property
    def seed(self) -> int:
        """
        Seed of the HNSW level generator.
        """

class SpaceStats:
    """
    Counts and memory use of a space, in bytes by component.
    """
    @property
    def concept_bytes(self) -> int: ...
    @property
    def concepts(self) -> int: ...
    @property
    def content_bytes(self) -> int: ...
    @property
    def edge_bytes(self) -> int: ...
    @property
    def episodes(self) -> int: ...
    @property
    def forgotten(self) -> int: ...
    @property
    def index_link_bytes(self) -> int: ...
    @property
    def index_node_bytes(self) -> int: ...
    @property
    def index_top_level(self) -> int:
        """
        -1 while the index is empty.
        """
    @property
    def metadata_bytes(self) -> int: ...
    @property
    def record_bytes(self) -> int: ...
    @property
    def total_bytes(self) -> int:
        """
        The sum of the components.
        """
    @property
    def vector_bytes(self) -> int: ...

class IndexIntegrity:
    """
    Integrity counts of the vector index (see hnsw.hpp).
    """
    @property
    def broken_links(self) -> int: ...
    @property
    def dangling_ids(self) -> int: ...
    @property
    def deleted(self) -> int: ...
    @property
    def layer_violations(self) -> int: ...
    @property
    def nodes(self) -> int: ...
    @property
    def ok(self) -> bool: ...
    @property
    def unreachable(self) -> int:
        """
        Not a fault: pruned in-links (see hnsw.hpp).
        """

class IntegrityReport:
    """
    What Space.validate found; every problem count is 0 when ok.
    """
    @property
    def concepts(self) -> int: ...
    @property
    def edges_to_missing(self) -> int: ...
    @property
    def index(self) -> IndexIntegrity: ...
    @property
    def ok(self) -> bool: ...
    @property
    def one_sided_bindings(self) -> int: ...
    @property
    def orphaned_concepts(self) -> int: ...
    @property
    def record_index_mismatches(self) -> int: ...
    @property
    def records(self) -> int: ...

class LatencyHistogram:
    """
    Latency buckets of one operation (not cumulative).
    """
    @property
    def bounds_seconds(self) -> list[float]:
        """
        Upper bounds of the buckets in seconds (the same for every histogram); the last bucket is +Inf.
        """
    @property
    def buckets(self) -> list[int]: ...
    @property
    def count(self) -> int: ...
    @property
    def sum_seconds(self) -> float: ...

class OperationMetrics:
    """
    Counters of one operation of one space.
    """
    @property
    def errors(self) -> int: ...
    @property
    def latency(self) -> LatencyHistogram:
        """
        Latency histogram.
        """
    @property
    def op(self) -> str:
        """
        The operation's name (remember, search, ...).
        """
    @property
    def total(self) -> int: ...

class Space:
    """
    One memory space (tenant) of an Engine.
    """
    def complete(self, partial: numpy.typing.ArrayLike, mask: numpy.typing.ArrayLike, **kwargs) -> Completion:
        """
        Reconstruct the dimensions where mask is False (options: completion.hpp's CompletionParams).
        """
    def concept_members(self, id: int) -> list[int]:
        """
        Member episode ids of a concept.
        """
    def concepts(self) -> list[Concept]:
        """
        Every live concept, by id.
        """
    def consolidate(self, **kwargs) -> ConsolidationReport:
        """
        Form and update concepts from the space's episodes (parameters: consolidation.hpp).
        """
    def consolidation_counters(self) -> ConsolidationCounters:
        """
        Monotonic consolidation counters and breaker state.
        """
    def contains(self, id: typing.Any) -> bool:
        """
        Whether id is a live memory of this space (False for anything that is not an id).
        """
    def edge_count(self) -> int:
        """
        Edges stored in the space's graph.
        """
    def episode_concepts(self, id: int) -> list[int]:
        """
        Concepts an episode is bound to.
        """
    def exact_search(
        self, query: numpy.typing.ArrayLike, k: int = 10
    ) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float32]]:
        """
        Exact nearest neighbours by a full scan: (ids, similarities).
        """
    def forget(self, id: int) -> None:
        """
        Tombstone a memory; MemoryNotFound when it is not live.
        """
    def get(self, id: int) -> MemoryView:
        """
        The memory with this id; MemoryNotFound otherwise.
        """
    def link(
        self,
        src: int,
        dst: int,
        weight: float = 1.0,
        kind: str = "association",
        strength: float = 1.0,
        contribution: float = 1.0,
    ) -> bool:
        """
        Add or replace the edge src -> dst; True when it is new.
        """
    def neighbors(self, id: int) -> list[Edge]:
        """
        Out-edges of a live memory to live memories, by target id.
        """
    def operation_metrics(self) -> list[OperationMetrics]:
        """
        Counters and latency histogram of every operation, in a fixed order.
        """
    def recall(
        self,
        cue: numpy.typing.ArrayLike,
        k: int = 10,
        mode: str = "blended",
        semantic_weight: float = 0.3,
        now: float | None = None,
        threshold: float = 0.0,
        **kwargs,
    ) -> list[Recollection]:
        """
        Ranked episodes and concepts for a cue (options: recall.hpp's RecallParams).
        """
    def remember(
        self,
        embedding: numpy.typing.ArrayLike,
        content: str | bytes = "",
        confidence: float = 1.0,
        timestamp: float | None = None,
        metadata: collections.abc.Mapping[str, str] | None = None,
    ) -> int:
        """
        Store one episode and return its id. timestamp None: the engine clock's now.
        """
    def remember_batch(
        self,
        embeddings: numpy.typing.ArrayLike,
        contents: collections.abc.Sequence[str | bytes] | None = None,
        confidences: numpy.typing.ArrayLike | None = None,
        timestamps: collections.abc.Sequence[float | None] | numpy.typing.ArrayLike | None = None,
        metadatas: collections.abc.Sequence[collections.abc.Mapping[str, str] | None] | None = None,
    ) -> numpy.typing.NDArray[numpy.int64]:
        """
        Store n episodes at once (all or nothing); returns their ids in order.
        """
    def remember_batch_keyed(
        self,
        embeddings: numpy.typing.ArrayLike,
        contents: collections.abc.Sequence[str | bytes] | None = None,
        confidences: numpy.typing.ArrayLike | None = None,
        timestamps: collections.abc.Sequence[float | None] | numpy.typing.ArrayLike | None = None,
        metadatas: collections.abc.Sequence[collections.abc.Mapping[str, str] | None] | None = None,
        *,
        key: str,
        fingerprint: str | bytes | None = None,
    ) -> tuple[numpy.typing.NDArray[numpy.int64], bool]:
        """
        remember_batch once per idempotency key (one key for the whole batch): (ids, replayed).
        """
    def remember_each(
        self,
        embeddings: numpy.typing.ArrayLike,
        contents: collections.abc.Sequence[str | bytes] | None = None,
        confidences: numpy.typing.ArrayLike | None = None,
        timestamps: collections.abc.Sequence[float | None] | numpy.typing.ArrayLike | None = None,
        metadatas: collections.abc.Sequence[collections.abc.Mapping[str, str] | None] | None = None,
        *,
        keys: collections.abc.Sequence[str | None],
        fingerprints: collections.abc.Sequence[str | bytes] | None = None,
    ) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.bool]]:
        """
        Store episodes with one idempotency key each (None: no key), for streams: (ids, replayed flags). Those not replayed are stored all or nothing; a key repeated in the call replays its first use.
        """
    def remember_keyed(
        self,
        embedding: numpy.typing.ArrayLike,
        content: str | bytes = "",
        confidence: float = 1.0,
        timestamp: float | None = None,
        metadata: collections.abc.Mapping[str, str] | None = None,
        *,
        key: str,
        fingerprint: str | bytes | None = None,
    ) -> tuple[int, bool]:
        """
        Store one episode once per idempotency key: (id, replayed). The same key with the same fingerprint returns the stored id with replayed True; another fingerprint raises IdempotencyConflict.
        """
    def search(
        self, query: numpy.typing.ArrayLike, k: int = 10, ef: int | None = None
    ) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float32]]:
        """
        Approximate nearest neighbours by cosine similarity: (ids, similarities), best first.
        """
    def size(self) -> int:
        """
        Live memories (episodes).
        """
    def spread(
        self,
        ids: collections.abc.Sequence[int],
        activations: collections.abc.Sequence[float],
        max_hops: int,
        decay: str,
        decay_rate: float | None,
        threshold: float,
        fan_effect: bool,
        fan_divisor: str,
        min_fan: float,
        upward_boost: float,
        upward: float | None,
        downward: float | None,
        lateral: float | None,
        episodic: float | None,
        cycle_penalty: float,
        max_results: int | None,
    ) -> list[Activation]:
        """
        Spread activation from seed ids with the given activations; ranked by activation, seeds at hop 0.
        """
    def stats(self) -> SpaceStats:
        """
        Counts and memory use by component.
        """
    def unlink(self, src: int, dst: int) -> bool:
        """
        Remove the edge src -> dst; whether there was one.
        """
    def validate(self) -> IntegrityReport:
        """
        Integrity counts of the index, records, concepts and edges (takes the structure lock exclusively).
        """
    @property
    def config(self) -> SpaceConfig:
        """
        The space's configuration.
        """
    @property
    def dim(self) -> int: ...
    @property
    def idempotency_keys(self) -> int:
        """
        Idempotency keys this space retains (at most the engine's idempotency_capacity).
        """
    @property
    def name(self) -> str: ...
    @property
    def ordinal(self) -> int:
        """
        The space's number within its engine (the id prefix).
        """

class FeatureFlags:
    """
    The run-time feature flags at one moment (see features.hpp).
    """
    @property
    def blended_recall(self) -> bool: ...
    @property
    def concept_formation(self) -> bool: ...
    @property
    def fan_effect(self) -> bool: ...

class Engine:
    """
    A set of isolated memory spaces sharing one clock.
    """
    def __init__(
        self,
        dim: int = 768,
        M: int = 16,
        ef_construction: int = 200,
        ef_search: int = 64,
        seed: int = 42,
        max_memories: int = 4294967296,
        max_content_bytes: int = 1048576,
        max_spaces: int = 4096,
        idempotency_capacity: int = 100000,
    ) -> None:
        """
        An in-memory engine; open_store makes it durable. The arguments are defaults for new spaces.
        """
    def checkpoint(self) -> int:
        """
        Write a checkpoint now; returns its LSN.
        """
    def checkpoints(self) -> list[Checkpoint]:
        """
        The store's checkpoint files, ascending LSN.
        """
    def clock_advance(self, dt: float) -> None:
        """
        Move manual time forward by dt seconds.
        """
    def clock_is_manual(self) -> bool: ...
    def clock_now(self) -> float:
        """
        Seconds since the epoch, as the engine sees it.
        """
    def clock_set(self, t: float) -> None:
        """
        Switch to manual time at t seconds since the epoch.
        """
    def clock_use_system(self) -> None:
        """
        Switch back to system time.
        """
    def close(self) -> None:
        """
        Close the engine (and its store).
        """
    def consolidation_status(self) -> ConsolidatorStatus:
        """
        The background consolidator's state and counts.
        """
    def content_snapshot(self, major: int = 2) -> bytes:
        """
        The logical state in checkpoint encoding of format `major`: equal bytes mean equal content.
        """
    def create_space(
        self,
        name: str,
        dim: int | None = None,
        M: int | None = None,
        ef_construction: int | None = None,
        ef_search: int | None = None,
        max_memories: int | None = None,
    ) -> Space:
        """
        Create a space; SpaceExists when the name is taken.
        """
    def drop_space(self, name: str) -> None:
        """
        Remove a space and its memories; handles to it raise SpaceNotFound afterwards.
        """
    def features(self) -> FeatureFlags:
        """
        The feature flags now.
        """
    def open_store(
        self,
        path: str,
        durability: str = "group",
        segment_bytes: int = 67108864,
        checkpoint_interval_s: float = 300.0,
        checkpoint_wal_bytes: int = 268435456,
        flush_interval_s: float = 0.05,
        disk_full_fraction: float = 0.95,
        until_lsn: int | None = None,
        until_time_ns: int | None = None,
        migrate: bool = False,
    ) -> None:
        """
        Open (or create) the store at path and recover it; call once, right after construction. migrate: convert a store of an older format as it opens (else it is refused).
        """
    def pause_consolidation(self) -> None: ...
    def prometheus(self) -> str:
        """
        Every metric in Prometheus text exposition format.
        """
    def recovery_info(self) -> RecoveryInfo:
        """
        What opening the store found.
        """
    def resume_consolidation(self) -> None: ...
    def rollout(self) -> dict:
        """
        Each flag's rollout stage: (percent, shadow), or None without one.
        """
    def set_features(
        self,
        blended_recall: bool | None = None,
        fan_effect: bool | None = None,
        concept_formation: bool | None = None,
    ) -> None:
        """
        Switch features at run time; None keeps a flag's value.
        """
    def set_rollout(self, flag: str, percent: float | None = None, shadow: bool = False) -> None:
        """
        Set a flag's staged rollout (percent 0-100; shadow with percent 0), or end it (percent None). Durable.
        """
    def space(self, name: str) -> Space:
        """
        An existing space; SpaceNotFound otherwise.
        """
    def space_names(self) -> list[str]:
        """
        Names of the spaces, sorted.
        """
    def spaces(self) -> list[Space]:
        """
        Every space, by name.
        """
    def start_consolidation(self, interval_s: float, **kwargs) -> None:
        """
        Consolidate every space every interval_s seconds on a background thread.
        """
    def stop_consolidation(self) -> None: ...
    def sync_wal(self) -> None:
        """
        Write and sync everything logged so far.
        """
    def wal_segments(self) -> list[WalSegment]:
        """
        WAL segments with their durable sizes (for backups).
        """
    def wal_stats(self) -> WalStats:
        """
        Write-ahead log counters.
        """
    @property
    def closed(self) -> bool: ...
    @property
    def dim(self) -> int:
        """
        The default dimension of new spaces.
        """
    @property
    def durable(self) -> bool:
        """
        Whether a store is open.
        """
    @property
    def store_path(self) -> str:
        """
        The store's directory; empty when in memory.
        """

class Edge:
    """
    One out-edge of a memory (Space.neighbors).
    """
    @property
    def contribution(self) -> float:
        """
        The episode's share of its concept; 1 for the other kinds.
        """
    @property
    def id(self) -> int:
        """
        The destination memory.
        """
    @property
    def kind(self) -> str:
        """
        'association', 'binding' or 'hierarchy'.
        """
    @property
    def strength(self) -> float:
        """
        Binding strength; 1 for the other kinds.
        """
    @property
    def weight(self) -> float: ...

class Activation:
    """
    One memory reached by spreading activation.
    """
    @property
    def activation(self) -> float: ...
    @property
    def hops(self) -> int:
        """
        Hops from the nearest seed (0 for a seed).
        """
    @property
    def id(self) -> int: ...

class Recollection:
    """
    One recall result (recall.hpp has the formulas).
    """
    @property
    def activation(self) -> float:
        """
        Spreading activation A.
        """
    @property
    def confidence(self) -> float: ...
    @property
    def episodic(self) -> float:
        """
        Episodic pathway value E before weighting.
        """
    @property
    def episodic_weight(self) -> float:
        """
        Weight of the episodic pathway used.
        """
    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str:
        """
        'episode' or 'concept'.
        """
    @property
    def provenance(self) -> str:
        """
        'episodic', 'semantic', 'blended' or 'pattern-completed'.
        """
    @property
    def score(self) -> float: ...
    @property
    def semantic(self) -> float:
        """
        Semantic pathway value S before weighting.
        """
    @property
    def semantic_weight(self) -> float:
        """
        Weight of the semantic pathway used.
        """

class Hypothesis:
    """
    One single-source completion proposal.
    """
    @property
    def confidence(self) -> float: ...
    @property
    def kind(self) -> str:
        """
        The source's kind.
        """
    @property
    def source(self) -> int:
        """
        The memory that proposed it.
        """
    @property
    def vector(self) -> numpy.typing.NDArray[numpy.float32]: ...

class Completion:
    """
    A completed vector: known dimensions as given, the others reconstructed.
    """
    @property
    def accepted(self) -> bool:
        """
        confidence reached ca1_threshold.
        """
    @property
    def alternatives(self) -> list[Hypothesis]: ...
    @property
    def confidence(self) -> float: ...
    @property
    def known_dims(self) -> int: ...
    @property
    def source_similarity(self) -> list[float]:
        """
        Cosine on the known dimensions.
        """
    @property
    def sources(self) -> list[int]: ...
    @property
    def vector(self) -> numpy.typing.NDArray[numpy.float32]: ...

class Concept:
    """
    A detached copy of one concept.
    """
    @property
    def centroid(self) -> numpy.typing.NDArray[numpy.float32]: ...
    @property
    def coherence(self) -> float: ...
    @property
    def confidence(self) -> float: ...
    @property
    def formed_at(self) -> float: ...
    @property
    def id(self) -> int: ...
    @property
    def members(self) -> list[int]:
        """
        Member episode ids, ascending.
        """
    @property
    def updated_at(self) -> float: ...

class ConsolidationReport:
    """
    What one consolidation run did.
    """
    @property
    def blocks_reused(self) -> int: ...
    @property
    def clusters_deferred(self) -> int: ...
    @property
    def clusters_found(self) -> int: ...
    @property
    def clusters_incoherent(self) -> int: ...
    @property
    def concepts_dissolved(self) -> int: ...
    @property
    def concepts_formed(self) -> int: ...
    @property
    def concepts_updated(self) -> int: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def episodes_bound(self) -> int: ...
    @property
    def episodes_considered(self) -> int: ...
    @property
    def formation_disabled(self) -> bool: ...
    @property
    def formed(self) -> list[int]:
        """
        New concept ids.
        """
    @property
    def rate_breaker_tripped(self) -> bool: ...
    @property
    def ratio_breaker_tripped(self) -> bool: ...
    @property
    def updated(self) -> list[int]:
        """
        Concept ids whose members changed.
        """

class ConsolidationCounters:
    """
    A space's monotonic consolidation counters.
    """
    @property
    def concepts_dissolved(self) -> int: ...
    @property
    def concepts_formed(self) -> int: ...
    @property
    def concepts_updated(self) -> int: ...
    @property
    def episodes_bound(self) -> int: ...
    @property
    def failures(self) -> int: ...
    @property
    def last_duration_s(self) -> float: ...
    @property
    def last_run_at(self) -> float:
        """
        Engine clock, seconds.
        """
    @property
    def rate_breaker_open(self) -> bool:
        """
        State after the last run.
        """
    @property
    def rate_breaker_trips(self) -> int: ...
    @property
    def ratio_breaker_open(self) -> bool:
        """
        State after the last run.
        """
    @property
    def ratio_breaker_trips(self) -> int: ...
    @property
    def runs(self) -> int: ...

class ConsolidatorStatus:
    """
    The background consolidator's state.
    """
    @property
    def cycles(self) -> int:
        """
        Completed passes over all spaces.
        """
    @property
    def failures(self) -> int:
        """
        Space runs that threw.
        """
    @property
    def interval_s(self) -> float: ...
    @property
    def last_cycle_duration_s(self) -> float: ...
    @property
    def state(self) -> str:
        """
        'stopped', 'running' or 'paused'.
        """

class RecoveryEvent:
    """
    Something recovery found and handled in one file.
    """
    @property
    def detail(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def kind(self) -> str:
        """
        'torn_tail', 'corruption' or 'gap'.
        """
    @property
    def offset(self) -> int: ...
    @property
    def quarantined_to(self) -> str:
        """
        Empty when nothing was moved.
        """

class RecoveryInfo:
    """
    What opening the store found.
    """
    @property
    def checkpoint_lsn(self) -> int: ...
    @property
    def corruptions(self) -> int: ...
    @property
    def crash_phase(self) -> str:
        """
        The phase it last recorded: 'serving' or 'consolidation.<step>'.
        """
    @property
    def durable(self) -> bool: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def events(self) -> list[RecoveryEvent]: ...
    @property
    def last_lsn(self) -> int: ...
    @property
    def migrated_from(self) -> int:
        """
        The format the store was converted from as it opened (migrate=True); 0: none.
        """
    @property
    def migration_s(self) -> float:
        """
        Seconds that conversion took.
        """
    @property
    def orphaned_concepts(self) -> int:
        """
        Concepts without a binding after replay (0 unless a record was applied in part).
        """
    @property
    def partial_bindings(self) -> int:
        """
        Bindings present on one side only after replay.
        """
    @property
    def previous_pid(self) -> int:
        """
        Its pid (0: unknown or clean).
        """
    @property
    def records_replayed(self) -> int: ...
    @property
    def records_skipped(self) -> int:
        """
        Records of a newer minor format version marked skippable (docs/format.md).
        """
    @property
    def torn_tails(self) -> int: ...
    @property
    def unclean_shutdown(self) -> bool:
        """
        The previous process did not close the store (it crashed or was killed).
        """

class MigrationReport:
    """
    What a store conversion did, or would do (dry run).
    """
    @property
    def blockers(self) -> list[str]:
        """
        Why the conversion cannot run without losing something; empty: it can.
        """
    @property
    def bytes_read(self) -> int: ...
    @property
    def changed(self) -> bool: ...
    @property
    def checkpoint_bytes(self) -> int: ...
    @property
    def concepts(self) -> int: ...
    @property
    def dry_run(self) -> bool: ...
    @property
    def episodes(self) -> int: ...
    @property
    def forgotten(self) -> int: ...
    @property
    def from_format(self) -> int: ...
    @property
    def lsn(self) -> int:
        """
        The state's last LSN: the new checkpoint's.
        """
    @property
    def resumed(self) -> bool:
        """
        An interrupted conversion was finished first.
        """
    @property
    def seconds(self) -> float: ...
    @property
    def spaces(self) -> int: ...
    @property
    def to_format(self) -> int: ...
    @property
    def torn_tails(self) -> int: ...

class WalStats:
    """
    Write-ahead log counters.
    """
    @property
    def appends(self) -> int: ...
    @property
    def bytes_since_checkpoint(self) -> int: ...
    @property
    def bytes_written(self) -> int: ...
    @property
    def durable_lsn(self) -> int: ...
    @property
    def failed(self) -> bool: ...
    @property
    def last_error(self) -> str: ...
    @property
    def last_lsn(self) -> int: ...
    @property
    def segments_created(self) -> int: ...
    @property
    def storage_errors(self) -> int: ...
    @property
    def syncs(self) -> int: ...

class WalSegment:
    """
    A WAL segment and its durable size.
    """
    @property
    def bytes(self) -> int:
        """
        Durable bytes: the prefix a backup may copy.
        """
    @property
    def first_lsn(self) -> int: ...
    @property
    def path(self) -> str: ...

class Checkpoint:
    """
    A checkpoint file of a store.
    """
    @property
    def lsn(self) -> int:
        """
        The state it holds is as of this LSN.
        """
    @property
    def path(self) -> str: ...

class VerifyIssue:
    """
    One problem verify_store found.
    """
    @property
    def detail(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def offset(self) -> int: ...
    @property
    def severity(self) -> str:
        """
        'error' or 'warning'.
        """

class WalRecord:
    """
    One WAL frame (inspect_wal); concept fields for ConceptCommit only.
    """
    @property
    def bindings(self) -> list[int]:
        """
        Episode ids of the record's bindings.
        """
    @property
    def concept_id(self) -> int: ...
    @property
    def is_new(self) -> bool: ...
    @property
    def lsn(self) -> int: ...
    @property
    def members(self) -> list[int]: ...
    @property
    def ordinal(self) -> int: ...
    @property
    def segment(self) -> str: ...
    @property
    def timestamp_ns(self) -> int: ...
    @property
    def type(self) -> str: ...

class WalInspection:
    """
    Every frame of a store's WAL (inspect_wal).
    """
    @property
    def problems(self) -> list[str]: ...
    @property
    def records(self) -> list[WalRecord]: ...
    @property
    def segments(self) -> int: ...

class VerifyReport:
    """
    What verify_store found.
    """
    @property
    def checkpoints(self) -> int: ...
    @property
    def issues(self) -> list[VerifyIssue]: ...
    @property
    def last_lsn(self) -> int: ...
    @property
    def ok(self) -> bool: ...
    @property
    def records(self) -> int: ...
    @property
    def segments(self) -> int: ...

class BuildInfo:
    """
    Which build this is.
    """
    @property
    def fault_injection(self) -> bool: ...
    @property
    def flavour(self) -> str:
        """
        'release', or 'test' (crash points, fault injection, test-only delays and leaks).
        """

class LoadOutcome:
    """
    Per-operation results of run_schedule, in schedule order.
    """
    @property
    def actual_start_ns(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        Start offsets; -1 when never started.
        """
    @property
    def error_code(self) -> numpy.typing.NDArray[numpy.int16]:
        """
        Index into LOAD_ERROR_CLASSES.
        """
    @property
    def latency_ns(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        Completion minus intended start; -1 when never started.
        """
    @property
    def wall_ns(self) -> int:
        """
        Run start to last completion.
        """

class HttpLoadOutcome:
    """
    Per-operation results of run_schedule_http, in schedule order.
    """
    @property
    def actual_start_ns(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        Send offsets; -1 when never sent.
        """
    @property
    def bodies_prebuilt(self) -> int:
        """
        Operations whose body was serialised before the run.
        """
    @property
    def bytes_received(self) -> int:
        """
        Response bytes read.
        """
    @property
    def bytes_sent(self) -> int:
        """
        Request bytes written.
        """
    @property
    def connections_opened(self) -> int:
        """
        TCP connections opened.
        """
    @property
    def error_classes(self) -> list[str]:
        """
        Error class names; [0] is '' (success).
        """
    @property
    def error_code(self) -> numpy.typing.NDArray[numpy.int16]:
        """
        Index into error_classes.
        """
    @property
    def error_samples(self) -> list[str]:
        """
        First message per error class.
        """
    @property
    def io_thread_cpu_ns(self) -> int:
        """
        CPU time of the I/O threads.
        """
    @property
    def latency_ns(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        Response complete minus intended start; -1 when never sent.
        """
    @property
    def prebuild_cpu_ns(self) -> int:
        """
        CPU spent serialising them, before the run (not in process_cpu_ns).
        """
    @property
    def process_cpu_ns(self) -> int:
        """
        This process's CPU time over the run.
        """
    @property
    def wall_ns(self) -> int:
        """
        Run start to last completion.
        """

def build_info() -> BuildInfo:
    """
    The build's flavour.
    """

def crc32c(data: bytes) -> int:
    """
    CRC32C (Castagnoli) of bytes, as the WAL and checkpoints use it.
    """

def decay_retention(
    model: str,
    ages: numpy.typing.ArrayLike,
    tau: float | None = None,
    beta: float | None = None,
    unit: float | None = None,
    recent_half_life: float | None = None,
    remote_half_life: float | None = None,
    recent_weight: float | None = None,
    switch_after: float | None = None,
    match_at_switch: bool = False,
) -> numpy.typing.NDArray[numpy.float64]:
    """
    Retention in [0, 1] of each age (seconds) under a decay model, same shape as ages.
    """

def dot(a: numpy.typing.ArrayLike, b: numpy.typing.ArrayLike, level: str | None = None) -> float:
    """
    Dot product of two float32 vectors with the active kernels or those of `level`.
    """

def hop_decay(decay: str, hops: int, rate: float | None = None) -> float:
    """
    Attenuation of a spreading path of `hops` hops.
    """

def inspect_wal(path: str) -> WalInspection:
    """
    Read every WAL record of a store, read-only (concept records decoded).
    """

def is_valid_space_name(name: str) -> bool:
    """
    Whether the engine accepts this space name (SPACE_NAME_RULE).
    """

def lock_waits() -> dict:
    """
    Process-wide lock-wait counters by lock class: {class: {'contended': n, 'wait_s': seconds}} (acquisitions that had to wait, and the time they waited; lock_stats.hpp).
    """

def migrate_store(
    path: str, to: int = 2, dry_run: bool = False, progress: typing.Any = None
) -> MigrationReport:
    """
    Convert the store at path to format `to` in place (docs/format.md, Migration); progress(phase, done, total) is called as it goes.
    """

def run_schedule(
    spaces: collections.abc.Sequence[Space],
    start_ns: numpy.typing.ArrayLike,
    op: numpy.typing.ArrayLike,
    space: numpy.typing.ArrayLike,
    vectors: numpy.typing.ArrayLike,
    k: numpy.typing.ArrayLike,
    threshold: numpy.typing.ArrayLike,
    confidence: numpy.typing.ArrayLike,
    threads: int = 4,
    deadline_ns: int = 0,
) -> LoadOutcome:
    """
    Run a schedule open-loop on C++ worker threads; latency from each operation's intended start.
    """

def run_schedule_http(
    host: str,
    port: int,
    space_names: collections.abc.Sequence[str],
    start_ns: numpy.typing.ArrayLike,
    op: numpy.typing.ArrayLike,
    space: numpy.typing.ArrayLike,
    vectors: numpy.typing.ArrayLike,
    k: numpy.typing.ArrayLike,
    threshold: numpy.typing.ArrayLike,
    confidence: numpy.typing.ArrayLike,
    api_key: str = "",
    base_path: str = "",
    connections: int = 8,
    threads: int = 1,
    deadline_ns: int = 0,
    request_timeout_ns: int = 10000000000,
    connect_timeout_ns: int = 2000000000,
    spin_ns: int = 20000,
    prebuild_bytes: int = 1073741824,
    embeddings: str = "json",
) -> HttpLoadOutcome:
    """
    Run a schedule open-loop as HTTP requests to an API v1 server over keep-alive connections; latency from each operation's intended start. embeddings: 'json' (arrays of numbers, any API v1 server) or 'base64' (little-endian float32 strings, engramd). Needs a build with Boost.Beast/Asio (HTTP_LOAD_AVAILABLE).
    """

def set_simd_level(name: str) -> None:
    """
    Switch the distance kernels of the whole process (scalar, avx2 or avx512).
    """

def simd_best() -> str:
    """
    The best kernel level this CPU supports.
    """

def simd_level() -> str:
    """
    The distance kernels in use: scalar, avx2 or avx512.
    """

def simd_supported(name: str) -> bool:
    """
    Whether this CPU can run the named kernel level.
    """

def verify_store(path: str) -> VerifyReport:
    """
    Check every checkpoint and WAL segment of a store without changing it.
    """

FORMAT_VERSION: int = 2
HTTP_LOAD_AVAILABLE: bool = True
LOAD_ERROR_CLASSES: list = [
    "",
    "InvalidInputError",
    "MemoryNotFound",
    "CapacityError",
    "SpaceNotFound",
    "EngramError",
    "Exception",
    "NotStarted",
    "Unsupported",
]
OLDEST_FORMAT_VERSION: int = 1
SPACE_NAME_MAX: int = 64
SPACE_NAME_PATTERN: str = "^[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
SPACE_NAME_RULE: str = "1-64 characters of letters, digits, '_', '-' or '.', not only dots"
__version__: str = "0.1.0"
