// Hot backups of the store a server holds open (POST /api/v1/admin/backup, routes_backup.cpp).
//
// The layout and manifest are those of engram/durability/backup.py, so `engram restore` and
// `engram verify` read a backup from either: `manifest.json` (per-file bytes and SHA-256),
// `FORMAT`, `checkpoint-<LSN>.ckpt` and `wal/wal-<LSN>.seg`. The first backup into a directory
// (or one asked to be full) ships the store's oldest retained checkpoint and every WAL segment
// from it; a later one is incremental: it ships only segments the backup lacks and the grown
// prefix of the one that was live, or falls back to full when the store has dropped a segment
// the chain needs. Only durable prefixes are copied, so writes go on while it runs, and every
// write acknowledged before the backup began is in it (the manifest's durable_lsn is read after
// a WAL sync, before the segments are listed).
//
// Every file operation goes through Env::default_env(): the test build's fault plan reaches
// backups too (docs/faults.md). Thread safety: BackupRunner runs one backup at a time (try_begin
// refuses a second); its counters are atomics read by /metrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "engram/engine.hpp"
#include "engram/thread_annotations.hpp"

namespace engram::server {

struct BackupResult {
  std::string path;  // the destination directory
  bool incremental = false;
  std::uint64_t checkpoint_lsn = 0;  // the checkpoint the chain starts from (0: none, WAL from LSN 1)
  std::uint64_t durable_lsn = 0;     // every record up to it is in the backup
  std::uint64_t bytes_shipped = 0;   // copied by this run
  std::uint64_t bytes_total = 0;     // the backup's files (the manifest's)
  std::size_t files = 0;             // in the manifest
  std::size_t files_shipped = 0;
  double seconds = 0;
  double created_unix = 0;
};

// One backup of engine's store into dest (created if missing). full: ignore an earlier backup
// there (start a new chain). StorageError (an IoError naming the file) on failure; the manifest
// is replaced only after every file is written and synced, so a failed run leaves the previous
// backup valid.
BackupResult back_up(Engine& engine, const std::string& dest, bool full);

// True when name can be a backup's directory under --backup-dir: 1-128 of [A-Za-z0-9._-],
// starting with a letter or digit (no path separators, no "..").
bool valid_backup_name(std::string_view name) noexcept;

class BackupRunner {
 public:
  // false when a backup is running already.
  bool try_begin() noexcept { return !busy_.exchange(true, std::memory_order_acq_rel); }
  void end(bool ok, const BackupResult* r) noexcept;

  std::uint64_t succeeded() const noexcept { return ok_.load(std::memory_order_relaxed); }
  std::uint64_t failed() const noexcept { return failed_.load(std::memory_order_relaxed); }
  double last_success_unix() const noexcept { return last_ok_unix_.load(std::memory_order_relaxed); }
  double last_failure_unix() const noexcept { return last_failed_unix_.load(std::memory_order_relaxed); }
  double last_seconds() const noexcept { return last_seconds_.load(std::memory_order_relaxed); }
  std::uint64_t bytes_shipped() const noexcept { return bytes_.load(std::memory_order_relaxed); }
  bool running() const noexcept { return busy_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> busy_{false};
  std::atomic<std::uint64_t> ok_{0}, failed_{0}, bytes_{0};
  std::atomic<double> last_ok_unix_{0}, last_failed_unix_{0}, last_seconds_{0};
};

}  // namespace engram::server
