// The engine: a registry of memory spaces sharing one clock and one configuration.
//
// Locking scheme: spaces_mu_ (shared) guards the name -> space map; lookups hold it shared,
// create/drop/close exclusively. Spaces are handed out as shared_ptr so a caller's handle stays
// valid after a drop (every later call through it raises SpaceNotFound). Operations on
// different spaces never share a lock.
//
// Durability (open_store, engine_durable.cpp; format in docs/format.md): a durable
// engine logs create/drop/feature changes itself and hands its Wal to every space, which logs
// its own mutations (space.hpp). checkpoint_mu_ serialises checkpoints; a checkpoint holds the
// WAL gate exclusively only while it copies the state into memory, then writes the file
// without any engine lock.
//
// Lock order, for the whole engine (the other headers refer here). A thread that holds one of
// these takes only locks further down the list, never one above it:
//   1. Engine::checkpoint_mu_
//   2. Space::structure_mu_ (shared by every operation on the space, exclusive by validate()
//      and by drop/close, which wait for the operations in flight)
//   3. ConceptStore::run_mu_ (consolidation, one run per space)
//   4. Wal::gate() (shared by a logged mutation from its append until it is applied,
//      exclusive by a checkpoint)
//   5. Engine::spaces_mu_, Engine::features_mu_
//   6. Space::records_mu_
//   7. Space::append_mu_ or Space::graph_log_mu_ (never both at once)
//   8. Leaves, each held without taking any other engine lock: ConceptStore::mu_; RunMarker::mu_; Graph stripe
//      locks (two at most, lower stripe first); HnswIndex::entry_mu_, under which one node spin
//      lock at a time; SegmentedArray's growth mutex
//   9. Wal::io_mu_, then Wal::buf_mu_
// Two rules on top of the order: a checkpoint never takes a structure lock, so holding the gate
// exclusively never waits for a space operation that holds its structure lock; and Wal::io_mu_
// (check_writable, wait_durable, sync) is never taken under the gate, so a checkpoint's
// exclusive gate never waits for an fsync. Engine::consolidator_mu_ and then
// BackgroundConsolidator::mu_ are taken only with each other: the consolidator's thread releases
// its mutex before it runs a space. ACQUIRED_AFTER on the members states the parts of this order
// that lie within one class, and the thread-safety build (nox -s thread_safety) checks them.
// The memory monitor (memory_budget.hpp) holds Engine::sample_mu_, taken before any other engine
// lock, while it samples (spaces_mu_, then each space's stats() under its structure lock, one at
// a time) and then takes consolidator_mu_ to hold or release consolidation and calls the
// listeners; listeners_mu_ and the governor's mutexes are leaves.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engram/clock.hpp"
#include "engram/codec.hpp"
#include "engram/consolidation.hpp"
#include "engram/consolidator.hpp"
#include "engram/features.hpp"
#include "engram/memory_budget.hpp"
#include "engram/migrate.hpp"
#include "engram/space.hpp"
#include "engram/store.hpp"
#include "engram/thread_annotations.hpp"
#include "engram/wal.hpp"

namespace engram {

struct EngineConfig {
  SpaceConfig space{};  // defaults for new spaces
  std::size_t max_spaces = 4096;
  // Idempotency keys kept per space (idempotency.hpp); the oldest of a space is evicted beyond it.
  std::size_t idempotency_capacity = kDefaultIdempotencyCapacity;
  // The memory budget and its pressure thresholds (memory_budget.hpp); bytes 0: none.
  MemoryBudget memory{};
};

// InvalidInputError naming the field, the value and the valid range: the space defaults
// (validate(SpaceConfig)), max_spaces 1 to 2^22 (space ordinals), idempotency_capacity 1 to 2^26,
// the memory budget (validate(MemoryBudget)).
void validate(const EngineConfig& config);

struct StoreOptions {
  std::string path;
  Durability durability = Durability::Group;
  std::uint64_t segment_bytes = 64ull << 20;
  double checkpoint_interval_s = 300.0;               // background checkpoint period; 0: off
  std::uint64_t checkpoint_wal_bytes = 256ull << 20;  // or after this much WAL; 0: off
  double flush_interval_s = 0.05;                     // durability "none": the loss window
  // Writes are refused while the store's file system is at least this full (WalOptions); 1: off.
  double disk_full_fraction = 0.95;
  // Point-in-time restore: replay stops after this LSN / wall-clock time (ns), the state is
  // checkpointed and every WAL segment removed (the store continues from there).
  std::optional<std::uint64_t> until_lsn;
  std::optional<std::int64_t> until_time_ns;
  // The file system (env.hpp); null: Env::default_env(). Tests pass a FaultEnv here.
  std::shared_ptr<Env> env;
  // A store of an older format (docs/format.md, Migration) is converted in place as it opens
  // (migrate.hpp), reporting progress to migrate_progress; false: such a store is refused with a
  // message saying how to convert it, and nothing changes.
  bool migrate = false;
  std::function<void(const MigrationProgress&)> migrate_progress;
};

// InvalidInputError naming the field, the value and the valid range: a non-empty path;
// segment_bytes 4096 to 2^40; checkpoint_interval_s 0 (off) or 0.01 to 31,536,000 s (a year);
// flush_interval_s 0.001 to 3600 s (NaN, negative or zero would spin the flusher, infinity would
// never sync). checkpoint_wal_bytes takes any value (0: off). disk_full_fraction 0.5 to 1.
void validate(const StoreOptions& options);

struct RecoveryEvent {
  std::string kind;  // "torn_tail", "corruption", "gap"
  std::string file;
  std::uint64_t offset = 0;
  std::string detail;
  std::string quarantined_to;  // empty when nothing was moved
};

struct RecoveryInfo {
  bool durable = false;
  double duration_s = 0.0;
  std::uint64_t checkpoint_lsn = 0;
  std::uint64_t records_replayed = 0;
  std::uint64_t last_lsn = 0;
  std::uint64_t torn_tails = 0;
  std::uint64_t corruptions = 0;
  std::uint64_t records_skipped = 0;  // of a newer minor format, marked ignorable (docs/format.md)
  std::vector<RecoveryEvent> events;
  // The previous process did not close the store (crashed or killed): its LOCK text (store.hpp).
  bool unclean_shutdown = false;
  std::int64_t previous_pid = 0;
  std::string crash_phase;  // the phase it last recorded ("serving", "consolidation.<step>")
  // Space::check_concepts after replay, summed over the spaces: concepts without a binding, and
  // bindings present on one side only. Both 0 unless a record was applied in part.
  std::uint64_t orphaned_concepts = 0;
  std::uint64_t partial_bindings = 0;
  // StoreOptions::migrate converted the store as it opened: from this format (0: no migration).
  std::uint32_t migrated_from = 0;
  double migration_s = 0.0;
};

// One flag's rollout change for Engine::set_features: a stage, or nullopt to end the rollout.
struct RolloutChange {
  Feature feature = Feature::BlendedRecall;
  std::optional<RolloutStage> stage;
};
// InvalidInputError naming the field: percent 0 to 100; shadow only for blended_recall and
// fan_effect, with percent 0.
void validate(const RolloutChange& change);

// The Features record's payload in format `major` (docs/format.md, "9 Features"): format 1 holds
// the three flags, format 2 each flag's rollout stage too. decode_features: CorruptionError for
// a stage that is not valid or bytes left over.
std::string encode_features(const FeatureFlags& flags, std::uint32_t major);
void decode_features(FeatureFlags& flags, Decoder& in, std::uint32_t major);

class Engine {
 public:
  explicit Engine(EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineConfig& config() const noexcept { return config_; }
  std::shared_ptr<Space> create_space(std::string_view name, std::optional<SpaceConfig> config = std::nullopt);
  std::shared_ptr<Space> space(std::string_view name) const;
  std::vector<std::string> space_names() const;
  std::vector<std::shared_ptr<Space>> spaces() const;
  void drop_space(std::string_view name);

  Clock& clock() noexcept { return *clock_; }

  // Run-time feature flags shared by every space (features.hpp); unset arguments keep their value.
  // `rollout` sets or ends (stage nullopt) flags' staged rollouts (InvalidInputError for a stage
  // out of range, checked before anything changes). Flags and stages change together, in one
  // durable Features record.
  void set_features(std::optional<bool> blended_recall, std::optional<bool> fan_effect,
                    std::optional<bool> concept_formation, const std::vector<RolloutChange>& rollout = {});
  const FeatureFlags& features() const noexcept { return *features_; }

  // Background consolidation (consolidator.hpp). start replaces a running consolidator; stop
  // joins its thread (at most one space run later). consolidator_mu_ guards the pointer.
  void start_consolidation(double interval_s, ConsolidationParams params = {});
  void stop_consolidation();
  void pause_consolidation();   // no-op when stopped
  void resume_consolidation();  // no-op when stopped
  ConsolidatorStatus consolidation_status() const;
  std::string prometheus() const;

  // --- Memory budget (memory_budget.hpp) ---
  // With a budget, a monitor thread samples accounted_bytes() every poll interval and runs the
  // pressure state machine; on each change it holds (Warning, Critical) or releases (Normal)
  // background consolidation and calls the listeners, from the monitor thread, in order.
  const MemoryGovernor& memory() const noexcept { return *memory_; }
  MemoryGovernor& memory() noexcept { return *memory_; }
  std::uint64_t accounted_bytes() const;  // SpaceStats::total_bytes summed over the spaces
  using PressureListener = std::function<void(const PressureTransition&)>;
  void on_memory_pressure(PressureListener listener);
  // Samples and runs the state machine now (what the monitor does each poll); for tests and
  // the monitor itself.
  std::optional<PressureTransition> sample_memory();

  void close();
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // --- Durability (engine_durable.cpp) ---
  // Opens (creating if needed) the store at options.path and recovers it: newest valid
  // checkpoint, then the WAL after it; torn tails are cut, damaged files quarantined. Call once,
  // right after construction, before the engine is shared.
  void open_store(StoreOptions options);
  // The migrator's read (migrate.hpp): recovers a store of format `major` through options.env,
  // which must change nothing (the migrator passes a read-only Env); takes no lock (the migrator
  // holds it) and starts no checkpointer. Not for serving.
  void open_store_for_migration(StoreOptions options, std::uint32_t major);
  bool durable() const noexcept { return wal_ != nullptr; }
  const std::string& store_path() const noexcept { return store_.path; }
  // Writes a checkpoint now; returns its LSN. StorageError when not durable or on I/O failure.
  std::uint64_t checkpoint();
  const RecoveryInfo& recovery_info() const noexcept { return recovery_; }
  WalStats wal_stats() const;
  // For hot backups: WAL segments with their durable sizes, after a checkpoint.
  std::vector<Wal::SegmentExtent> wal_segments();
  // The store's checkpoint files, ascending LSN (store.hpp). StorageError when not durable.
  std::vector<CheckpointFile> checkpoints() const;
  void sync_wal();
  // The logical state in checkpoint encoding of format `major` (canonical order, no index): equal
  // bytes mean equal content. Holds the WAL gate exclusively while it copies, like a checkpoint.
  std::string content_snapshot(std::uint32_t major = kFormatVersion) const;

 private:
  void ensure_open() const;
  // Recovery only: runs before the engine is shared (from open_store's frame callbacks), so it
  // touches spaces_ without spaces_mu_; not checked.
  void apply_record(RecordType type, std::string_view payload) NO_THREAD_SAFETY_ANALYSIS;
  // migration_major 0: open to serve; else the migrator's read of a store of that format.
  void open_store_impl(StoreOptions options, std::uint32_t migration_major);
  // The WAL gate held exclusively as well (not checked: the gate is held only when durable).
  std::string snapshot_locked(std::uint32_t major = kFormatVersion) const REQUIRES_SHARED(spaces_mu_);
  void checkpoint_loop(std::stop_token st);
  std::uint64_t write_checkpoint_locked() REQUIRES(checkpoint_mu_);
  void durability_metrics(std::ostream& out) const;
  void memory_metrics(std::ostream& out) const;
  void memory_loop(std::stop_token st);
  Env& env() const { return store_.env ? *store_.env : Env::default_env(); }

  EngineConfig config_;
  std::shared_ptr<Clock> clock_;
  mutable SharedMutex spaces_mu_ ACQUIRED_AFTER(checkpoint_mu_){LockClass::EngineSpaces};
  std::map<std::string, std::shared_ptr<Space>, std::less<>> spaces_ GUARDED_BY(spaces_mu_);
  std::uint32_t next_ordinal_ GUARDED_BY(spaces_mu_) = 1;
  std::atomic<bool> closed_{false};
  std::shared_ptr<FeatureFlags> features_ = std::make_shared<FeatureFlags>();
  mutable Mutex consolidator_mu_;
  std::unique_ptr<BackgroundConsolidator> consolidator_ GUARDED_BY(consolidator_mu_);
  std::shared_ptr<MemoryGovernor> memory_;  // shared with every space (admission)
  Mutex listeners_mu_;                      // a leaf; listeners run without it
  std::vector<PressureListener> listeners_ GUARDED_BY(listeners_mu_);
  Mutex sample_mu_;  // one sample_memory() at a time, so listeners see transitions in order

  StoreOptions store_;
  std::shared_ptr<Wal> wal_;
  std::unique_ptr<FileLock> lock_;     // the store's LOCK, held while open
  std::shared_ptr<RunMarker> marker_;  // the phase marker in LOCK (store.hpp); null in memory
  RecoveryInfo recovery_;
  std::uint32_t read_major_ = kFormatVersion;  // the format recovery decodes (set before it runs)
  Mutex features_mu_ ACQUIRED_AFTER(checkpoint_mu_){
      LockClass::EngineFeatures};  // orders feature changes with their WAL records
  Mutex checkpoint_mu_{LockClass::EngineCheckpoint};
  std::atomic<std::uint64_t> checkpoints_{0}, checkpoint_failures_{0};
  std::atomic<std::uint64_t> last_checkpoint_lsn_{0};
  std::atomic<double> last_checkpoint_s_{0.0};
  Mutex checkpointer_mu_;  // for checkpointer_cv_ only (the checkpointer's sleep)
  std::condition_variable_any checkpointer_cv_;
  std::jthread checkpointer_;
  std::jthread memory_monitor_;  // last: started once every other member exists, joined first
};

}  // namespace engram
