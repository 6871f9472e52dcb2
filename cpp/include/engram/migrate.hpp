// The store migrator: converts a store in place between format major versions (docs/format.md,
// "Migration"): version 1 to 2 (an upgrade), and 2 back to 1 (a rollback) while the store holds
// nothing version 1 cannot represent.
//
// A conversion reads the store through a read-only Env (the source files are never changed
// while it reads: a torn tail is cut in memory only), recovers the whole state, writes it as one
// checkpoint of the target format under a staging name, and commits by writing MIGRATION; the
// switch then puts the checkpoint in place, removes the source's checkpoints and segments and
// rewrites FORMAT. A crash before the commit leaves the store as it was (the staging file is
// removed by the next open); after it, the next open or migration finishes the switch
// (resume_migration). The LSN sequence continues across the conversion.
//
// Locking: the store's LOCK is held for the whole conversion (migrate_store takes it;
// migrate_locked runs under the caller's), so no engine serves the store meanwhile.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engram/env.hpp"
#include "engram/wal.hpp"

namespace engram {

struct EngineConfig;

// Where a conversion stands: phase "read" (bytes of checkpoints and segments read of the
// store's total), "write" (bytes of the new checkpoint), "switch" (files switched of the total).
struct MigrationProgress {
  std::string phase;
  std::uint64_t done = 0;
  std::uint64_t total = 0;
};
using MigrationProgressFn = std::function<void(const MigrationProgress&)>;
// fn, called only when a phase starts or reaches its next tenth: one line per tenth for a log.
MigrationProgressFn every_tenth(MigrationProgressFn fn);

struct MigrationOptions {
  std::string path;
  std::uint32_t to = kFormatVersion;  // kOldestFormatVersion .. kFormatVersion
  // Reads and checks everything, reports what a conversion would write and what blocks it, and
  // changes nothing (no staging file either).
  bool dry_run = false;
  MigrationProgressFn progress;  // called from the converting thread; may be empty
  std::shared_ptr<Env> env;      // null: Env::default_env()
  // A point-in-time bound (StoreOptions::until_lsn, until_time_ns): the state converted is the
  // one up to it, and the records after it are not carried over (a restore of an older backup).
  std::optional<std::uint64_t> until_lsn;
  std::optional<std::int64_t> until_time_ns;
};

struct MigrationReport {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  bool dry_run = false;
  bool changed = false;   // the store was converted (false: a dry run, or already in format `to`)
  bool resumed = false;   // an interrupted conversion was finished first
  std::uint64_t lsn = 0;  // the state's last LSN: the new checkpoint's (0: nothing read, already in `to`)
  std::uint64_t spaces = 0, episodes = 0, concepts = 0, forgotten = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t checkpoint_bytes = 0;  // of the new checkpoint (what a dry run would write)
  std::uint64_t torn_tails = 0;        // cut while reading (never acknowledged; cut in memory only)
  double seconds = 0.0;
  // Why the conversion cannot run without losing something (a rollback with a rollout stage in
  // the store); a dry run lists them, a conversion refuses with them. Empty: it can run.
  std::vector<std::string> blockers;
};

// Converts the store at options.path to format options.to, taking its LOCK (StorageError when
// another process has the store open). A store already in that format is left alone (changed
// false). Refuses, changing nothing, a store with damage the read finds (quarantine it by opening
// it with the build of its format first) and, unless dry_run, a conversion with blockers:
// StorageError naming each.
MigrationReport migrate_store(const MigrationOptions& options);
// The same with the store's LOCK already held by the caller (Engine::open_store's migrate).
MigrationReport migrate_locked(const MigrationOptions& options, const EngineConfig& config);
// Finishes a committed conversion a crash interrupted, or removes the staging file of one that
// was not committed; call with the store's LOCK held. Returns true when it finished one.
bool resume_migration(Env& env, const std::string& store);

}  // namespace engram
