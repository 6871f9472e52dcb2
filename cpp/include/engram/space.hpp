// A memory space: one tenant's episodes, their vector index and their metrics.
//
// Ids are engine-wide unique: id = (space ordinal << 40) | local sequence (from 1). A space
// recognises only ids carrying its own ordinal, so an id from another space (or from a dropped
// space whose name was reused) is simply unknown here: isolation does not depend on callers.
//
// Locking scheme (the order among these and the engine's other locks: engine.hpp, "Lock order"):
//  - structure_mu_: every operation holds it shared; validate() holds it exclusively so
//    integrity counts are exact, and mark_dropped() to wait for the operations in flight.
//  - records_mu_: readers of record contents (get, search results) hold it shared; forget()
//    holds it exclusively while it erases content. Appends do not take it: a record is fully
//    written before its state is published with a release store (which is also why record
//    fields cannot be declared GUARDED_BY it).
//  - append_mu_ serialises id allocation; graph_log_mu_ orders graph mutations with their WAL
//    records. link() holds records_mu_ shared while it checks both ends and adds the edge, and
//    forget() removes a memory's edges under records_mu_ exclusive, so no edge to a forgotten
//    memory can appear after forget() returns; spread() also skips dead targets.
//    append_mu_ also guards the idempotency keys (idempotency.hpp): a keyed remember looks its
//    key up, stores its episodes and records the key in one critical section, so concurrent
//    calls with one new key store once.
//  - Inside: the HNSW index's own locks (hnsw.hpp), the graph's stripe locks (graph.hpp), the
//    concept store's lock (concepts.hpp).
// Metrics are lock-free atomics. A dropped or closed space rejects every later call.
//
// Engine algorithms outside this class (consolidation, recall, completion) hold the structure
// lock shared through OperationLock (or operation_lock()) and then call the functions below
// documented "the caller holds the operation lock". Those are not annotated REQUIRES_SHARED:
// the algorithms call them from TBB worker lambdas and helper objects, which Clang's analysis
// (one function at a time) cannot connect to the lock their caller holds.
//
// Durability (space_durable.cpp, wal.hpp): in a durable engine every mutation appends one WAL
// record while it holds the lock that orders it: remember/concept creation under append_mu_
// (id allocation), forget and dissolve under records_mu_ exclusive, link/unlink and concept
// commits under graph_log_mu_ (taken after records_mu_), so LSN order is the order in which
// conflicting mutations took effect. Each holds the WAL gate shared (after structure_mu_,
// before records_mu_) from its append until it is applied (a checkpoint holds the gate
// exclusively), and waits for durability after releasing it. Records carry explicit ids, so
// replay reproduces ids exactly; ids of memories forgotten before a checkpoint are empty slots.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "engram/clock.hpp"
#include "engram/codec.hpp"
#include "engram/concepts.hpp"
#include "engram/features.hpp"
#include "engram/graph.hpp"
#include "engram/hnsw.hpp"
#include "engram/idempotency.hpp"
#include "engram/memory.hpp"
#include "engram/memory_budget.hpp"
#include "engram/metrics.hpp"
#include "engram/segmented_array.hpp"
#include "engram/spread.hpp"
#include "engram/thread_annotations.hpp"
#include "engram/wal.hpp"

namespace engram {

class RunMarker;  // store.hpp

struct SpaceConfig {
  std::size_t dim = 768;
  HnswParams hnsw{};
  std::size_t max_memories = std::size_t{1} << 32;
  std::size_t max_content_bytes = std::size_t{1} << 20;
  std::size_t max_metadata_entries = 256;
  std::size_t max_k = 10000;
};

// Throws InvalidInputError naming the field, the value received and the valid range: dim 1 to
// 65536; HNSW M 2 to 128, ef_construction and ef_search 1 to 1,000,000; max_memories 1 to
// 2^40 - 1 (an id keeps 40 bits for its local sequence); max_content_bytes up to 256 MiB;
// max_metadata_entries up to 1,000,000; max_k 1 to 1,000,000.
void validate(const SpaceConfig& config);

struct SpaceStats {
  std::uint64_t episodes = 0;
  std::uint64_t concepts = 0;
  std::uint64_t forgotten = 0;
  std::uint64_t vector_bytes = 0;
  std::uint64_t index_link_bytes = 0;
  std::uint64_t index_node_bytes = 0;
  std::uint64_t record_bytes = 0;
  std::uint64_t content_bytes = 0;
  std::uint64_t metadata_bytes = 0;
  std::uint64_t concept_bytes = 0;  // concept store: centroids, member lists, bookkeeping
  std::uint64_t edge_bytes = 0;     // graph: associations, bindings, hierarchy (both directions)
  int index_top_level = -1;
  std::uint64_t total_bytes() const noexcept {
    return vector_bytes + index_link_bytes + index_node_bytes + record_bytes + content_bytes + metadata_bytes +
           concept_bytes + edge_bytes;
  }
};

struct IntegrityReport {
  HnswIntegrity index;
  std::uint64_t records = 0;
  std::uint64_t record_index_mismatches = 0;  // record and index disagree on id, slot or liveness
  // Concepts and bindings (concepts.hpp): concepts without any binding, bindings whose concept
  // does not list the episode (or a listed live member without its binding edge, or an edge
  // present in one adjacency list only), and edges whose source or target is not live.
  std::uint64_t concepts = 0;
  std::uint64_t orphaned_concepts = 0;
  std::uint64_t one_sided_bindings = 0;
  std::uint64_t edges_to_missing = 0;
  bool ok() const noexcept {
    return index.ok() && record_index_mismatches == 0 && orphaned_concepts == 0 && one_sided_bindings == 0 &&
           edges_to_missing == 0;
  }
};

// Result of a keyed remember: the id, and whether it was stored by an earlier request with the
// same idempotency key (replayed: nothing was stored by this call).
struct Remembered {
  std::int64_t id = 0;
  bool replayed = false;
};
struct RememberedBatch {
  std::vector<std::int64_t> ids;
  bool replayed = false;
};

class Space {
 public:
  static constexpr int kOrdinalShift = 40;
  static constexpr std::int64_t kLocalMask = (std::int64_t{1} << kOrdinalShift) - 1;

  Space(std::string name, std::uint32_t ordinal, SpaceConfig config, std::shared_ptr<const Clock> clock);
  Space(const Space&) = delete;
  Space& operator=(const Space&) = delete;

  const std::string& name() const noexcept { return name_; }
  std::uint32_t ordinal() const noexcept { return ordinal_; }
  std::size_t dim() const noexcept { return config_.dim; }
  const SpaceConfig& config() const noexcept { return config_; }

  std::int64_t remember(EpisodeInput episode);
  // All or nothing: every input is validated before any is stored. Indexing runs in parallel.
  std::vector<std::int64_t> remember_batch(std::vector<EpisodeInput> episodes);
  // Idempotent forms (idempotency.hpp). The first call with a key stores the episode(s) and
  // records the key with its fingerprint in the same WAL record; a later call with the same key
  // and fingerprint stores nothing and returns the stored ids with replayed = true (after the
  // original write is durable: a replay never acknowledges what the first call could not); the
  // same key with another fingerprint raises IdempotencyConflict. A replay is answered even
  // when the memories were forgotten since. Concurrent calls with one new key store once.
  Remembered remember(EpisodeInput episode, const IdempotencyKey& key);
  RememberedBatch remember_batch(std::vector<EpisodeInput> episodes, const IdempotencyKey& key);
  // One key per episode (nullopt: none), for streams that batch independent observations: the
  // episodes not replayed are stored all or nothing in one record; a key repeated within the
  // call replays its first occurrence. IdempotencyConflict (naming the item) stores nothing.
  std::vector<Remembered> remember_each(std::vector<EpisodeInput> episodes,
                                        const std::vector<std::optional<IdempotencyKey>>& keys);
  // Keys retained per space, oldest evicted first (EngineConfig::idempotency_capacity); set by
  // the engine before the space is shared.
  void set_idempotency_capacity(std::size_t capacity);
  std::size_t idempotency_keys() const;
  MemoryView get(std::int64_t id) const;
  bool contains(std::int64_t id) const noexcept;
  void forget(std::int64_t id);
  std::vector<SearchHit> search(std::span<const float> query, std::size_t k, std::optional<std::size_t> ef) const;
  std::vector<SearchHit> exact_search(std::span<const float> query, std::size_t k) const;

  // Graph (space_graph.cpp). Both ends must be live memories of this space (MemoryNotFound
  // otherwise, including another space's ids); kinds must fit the edge kind: association
  // episode -> episode, binding episode -> concept, hierarchy concept -> concept
  // (InvalidInputError). Returns true when the edge is new (false: it was replaced).
  bool link(std::int64_t src, std::int64_t dst, EdgeKind kind = EdgeKind::Association, float weight = 1.0f,
            float strength = 1.0f, float contribution = 1.0f);
  // Returns true when an edge was removed. Ids of another space raise MemoryNotFound.
  bool unlink(std::int64_t src, std::int64_t dst);
  // Out-edges of a live memory to live memories, by target id.
  std::vector<Edge> neighbors(std::int64_t id) const;
  // Seeds must be live memories of this space (MemoryNotFound otherwise).
  std::vector<Activation> spread(std::span<const Seed> seeds, const SpreadConfig& config) const;
  // Kind of a live memory of this space, nullopt otherwise; lock-free (atomic record state).
  std::optional<MemoryKind> live_kind(std::int64_t id) const noexcept;
  const Graph& graph() const noexcept { return graph_; }
  Graph& graph() noexcept { return graph_; }

  // Concepts (concepts.hpp, consolidation.hpp). A concept is a record of kind Concept whose
  // centroid and members live in concept_store(); live_, size() and stats().episodes count
  // episodes only.
  struct BindingSpec {
    std::int64_t episode;
    float strength;
    float contribution;
  };
  // Creates (id == 0) or replaces concept `id`: its record, its store entry and its binding
  // edges, which become exactly `bindings` (draft.members must list the same episodes). All of
  // it happens under records_mu_ shared, so forget() cannot interleave; members that are no
  // longer live episodes are dropped first. A new id comes from this space's sequence under
  // append_mu_ (writers wait only for that append). Returns the concept id, or 0 when fewer
  // than min_members remain (nothing written). The caller holds the operation lock.
  std::int64_t commit_concept(std::int64_t id, ConceptDraft draft, std::vector<BindingSpec> bindings,
                              std::size_t min_members);
  // Forgets a concept and its bindings from inside an operation (caller holds the operation lock).
  void dissolve_concept(std::int64_t id);
  // Every live concept, by id; a consistent copy taken under the operation lock.
  std::vector<ConceptView> concepts() const;
  // Member episodes of a live concept of this space (sorted). MemoryNotFound when the id is not
  // a live concept here; InvalidInputError when it is an episode.
  std::vector<std::int64_t> concept_members(std::int64_t id) const;
  // Concepts a live episode of this space is bound to (sorted); MemoryNotFound otherwise.
  std::vector<std::int64_t> episode_concepts(std::int64_t id) const;
  const ConceptStore& concept_store() const noexcept { return *concepts_; }
  ConceptStore& concept_store() noexcept { return *concepts_; }
  // For engine algorithms outside this class (consolidation, recall, completion): structure_mu_
  // held shared, as every operation holds it, after checking the space is open (SpaceNotFound
  // otherwise). OperationLock is the form the analysis sees; operation_lock() returns a movable
  // lock it does not see.
  class SCOPED_CAPABILITY OperationLock {
   public:
    explicit OperationLock(const Space& space) ACQUIRE_SHARED(space.structure_mu_);
    ~OperationLock() RELEASE();
    OperationLock(const OperationLock&) = delete;
    OperationLock& operator=(const OperationLock&) = delete;

   private:
    const Space& space_;
  };
  std::shared_lock<SharedMutex> operation_lock() const;
  struct EpisodeRef {
    std::int64_t id;
    const float* vector;  // stays valid while the space exists: storage never moves
    float inv_norm;
    float confidence;
    double timestamp;
    std::uint32_t slot;  // the episode's node in the vector index
  };
  // Live episodes in id order; the caller holds the operation lock.
  void scan_episodes(const std::function<void(const EpisodeRef&)>& f) const;
  std::optional<EpisodeRef> episode_ref(std::int64_t id) const noexcept;
  // Approximate nearest live episodes, no metrics; the caller holds the operation lock.
  std::vector<SearchHit> nearest_episodes(const float* q, std::size_t k, std::size_t ef) const;
  // Ids of the episodes linked to an episode's node in the index's layer-0 graph (tombstoned
  // ones included; callers filter). The caller holds the operation lock.
  void index_neighbors(const EpisodeRef& e, std::vector<std::int64_t>& out) const;
  const Clock& clock() const noexcept { return *clock_; }
  // Run-time feature flags shared with the engine; defaults until the engine sets them.
  void set_features(std::shared_ptr<const FeatureFlags> flags) noexcept;
  const FeatureFlags& features() const noexcept;
  // The engine's memory governor (memory_budget.hpp), set before the space is shared: remember
  // and its batch and keyed forms ask it for admission (MemoryPressureError under critical
  // pressure, nothing stored); a keyed write whose keys are all known (a replay) is admitted.
  void set_memory_governor(std::shared_ptr<MemoryGovernor> governor) noexcept { memory_ = std::move(governor); }

  std::size_t size() const noexcept;  // live memories
  std::uint64_t forgotten_count() const noexcept { return forgotten_.load(std::memory_order_acquire); }
  SpaceStats stats() const;
  IntegrityReport validate() const;
  // The concept part of validate() only (orphans, one-sided bindings, edges to missing memories):
  // no pass over the vector index, so recovery can afford it on every open.
  IntegrityReport check_concepts() const;
  const SpaceMetrics& metrics() const noexcept { return metrics_; }
  SpaceMetrics& metrics() noexcept { return metrics_; }

  // --- Durability (space_durable.cpp) ---
  // The engine's write-ahead log; set once, before the space is shared. Null: in memory only.
  void set_wal(std::shared_ptr<Wal> wal) noexcept { wal_ = std::move(wal); }
  // The store's phase marker (store.hpp); set once, before the space is shared. Null: none.
  void set_run_marker(std::shared_ptr<RunMarker> marker) noexcept { marker_ = std::move(marker); }
  // Records the phase a consolidation of this space is entering (no-op without a marker).
  void mark_phase(std::string_view phase) const noexcept;
  // Applies one WAL or checkpoint record of this space exactly (explicit ids), without logging.
  // Recovery is single-threaded and runs before the space is shared. Records whose target no
  // longer exists (a forget racing a link) are skipped, as the live operation would have failed.
  // `major`: the store's format version (the migrator reads version 1; docs/format.md).
  void replay(RecordType type, Decoder& in, std::uint32_t major = kFormatVersion);
  // Links the index nodes restored by replay into the HNSW graph (in parallel).
  void finish_restore();
  // Appends this space's full state as checkpoint frames of format `major` (the migrator writes
  // version 1 for a rollback); the caller holds the WAL gate exclusively, so no mutation runs
  // meanwhile.
  void snapshot(std::string& out, std::uint64_t& seq, std::uint32_t major = kFormatVersion) const;
  // CreateSpace payload: ordinal u32, name str, config (encode_config).
  std::string create_payload() const;
  void encode_config(Encoder& e) const;
  static SpaceConfig decode_config(Decoder& d);

  // Waits for in-flight operations, then rejects every later call with SpaceNotFound.
  void mark_dropped();
  bool dropped() const noexcept { return dropped_.load(std::memory_order_acquire); }

 private:
  static constexpr std::uint8_t kEmpty = 0, kLive = 1, kForgotten = 2;
  struct Record {
    std::atomic<std::uint8_t> state{kEmpty};
    MemoryKind kind = MemoryKind::Episode;
    float confidence = 1.0f;
    double timestamp = 0.0;
    std::uint32_t slot = 0;
    std::string content;
    Metadata metadata;
  };

  void ensure_open() const;
  void check_episode(const EpisodeInput& e) const;
  // Memory admission of episodes about to be stored (MemoryPressureError under critical pressure);
  // true when they take memory across the critical line (memory_->sample_soon() once stored).
  bool admit_memory(const std::vector<EpisodeInput>& episodes, const char* what) const;
  // Local index of a live record, or throws MemoryNotFound.
  std::size_t resolve(std::int64_t id) const;
  std::int64_t make_id(std::size_t local_index) const noexcept {
    return (static_cast<std::int64_t>(ordinal_) << kOrdinalShift) | static_cast<std::int64_t>(local_index + 1);
  }
  // Returns the first local index; appends the Remember record (lsn) when durable.
  std::size_t store_records(std::vector<EpisodeInput>& episodes, std::uint64_t& lsn);
  // A key covering items [first, first + count) of a keyed call (remember_keyed).
  struct KeyClaim {
    const IdempotencyKey* key;
    std::size_t first;
    std::uint32_t count;
  };
  // Per item: its id and whether it was replayed.
  struct KeyedOutcome {
    std::vector<Remembered> items;
    std::size_t first_new = 0;        // local index of the first stored episode
    std::size_t stored = 0;           // episodes stored by this call
    std::uint64_t lsn = 0;            // this call's record (0: none)
    std::uint64_t replay_lsn = 0;     // the newest record a replayed item waits for
    std::size_t replayed_claims = 0;  // claims answered from the table
  };
  // Resolves the claims against the table under append_mu_ and stores the new episodes with
  // their keys as one RememberKeyed record.
  KeyedOutcome store_keyed(std::vector<EpisodeInput>& episodes, const std::vector<KeyClaim>& claims);
  KeyedOutcome remember_keyed(std::vector<EpisodeInput> episodes, const std::vector<KeyClaim>& claims, Op op);
  // Records, index slots and counters of episodes with ids first.. (live and in replay).
  void apply_episodes(std::size_t first, std::vector<EpisodeInput>& episodes) REQUIRES(append_mu_);
  void replay_keys(Decoder& in);
  // Waits until a replayed write's record is durable (mode None: at once).
  void wait_replayed(std::uint64_t lsn) const;
  // Concept record, store entry and bindings (live and in replay).
  void apply_concept(std::int64_t id, bool is_new, const ConceptDraft& draft, const std::vector<BindingSpec>& bindings)
      REQUIRES_SHARED(records_mu_);
  // forget() after resolve (live and in replay).
  void apply_forget(std::size_t local, std::int64_t id) REQUIRES(records_mu_);
  void apply_dissolve(std::int64_t id) REQUIRES(records_mu_);
  // The WAL gate, held shared while a mutation appends and applies (empty when not durable, so
  // the analysis does not see it: see thread_annotations.hpp).
  std::shared_lock<SharedMutex> wal_gate() const;
  void wait_durable(std::uint64_t lsn) const;
  // Remember payload: episodes with consecutive ids from first_id (timestamps resolved).
  std::string encode_episodes(std::int64_t first_id, const std::vector<EpisodeInput>& episodes) const;
  void validate_concepts(IntegrityReport& r) const REQUIRES(structure_mu_);  // space_concepts.cpp
  std::vector<SearchHit> to_hits(const std::vector<Neighbor>& found, std::size_t k) const;

  std::string name_;
  std::uint32_t ordinal_;
  SpaceConfig config_;
  std::shared_ptr<const Clock> clock_;
  mutable SharedMutex structure_mu_{LockClass::SpaceStructure};
  mutable SharedMutex records_mu_ ACQUIRED_AFTER(structure_mu_){LockClass::SpaceRecords};
  mutable Mutex append_mu_ ACQUIRED_AFTER(records_mu_){
      LockClass::SpaceAppend};  // serialises id allocation so a batch gets contiguous ids
  // Idempotency keys: looked up and recorded under append_mu_ with the memories they store.
  IdempotencyTable idempotency_ GUARDED_BY(append_mu_);
  SegmentedArray<Record> records_;
  std::atomic<std::size_t> next_local_{0};
  HnswIndex index_;
  Graph graph_;
  std::unique_ptr<ConceptStore> concepts_;
  std::shared_ptr<const FeatureFlags> features_;
  std::shared_ptr<MemoryGovernor> memory_;  // null: no budget (a space made outside an engine)
  std::atomic<std::uint64_t> live_{0};
  std::atomic<std::uint64_t> forgotten_{0};
  std::atomic<std::uint64_t> content_bytes_{0};
  std::atomic<std::uint64_t> metadata_bytes_{0};
  SpaceMetrics metrics_;
  std::atomic<bool> dropped_{false};
  std::shared_ptr<Wal> wal_;
  std::shared_ptr<RunMarker> marker_;
  Mutex graph_log_mu_ ACQUIRED_AFTER(records_mu_){
      LockClass::SpaceGraphLog};              // orders graph mutations with their WAL records
  std::vector<std::uint32_t> pending_links_;  // index slots restored by replay, not yet linked
};

}  // namespace engram
