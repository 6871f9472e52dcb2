// The on-disk store of a durable engine: directory layout, checkpoint files, quarantine and
// offline verification. Recovery itself is Engine::open_store (engine_durable.cpp).
//
// The layout (FORMAT, LOCK, checkpoint-<LSN>.ckpt, wal/, quarantine/) and the checkpoint file
// format are specified in docs/format.md, sections "Store layout" and "Checkpoints"; the WAL in
// wal.hpp. A checkpoint is written to <name>.tmp, synced, renamed over and the directory synced,
// so a crash leaves either the old or the new checkpoint, never a partial one under its name.
// Every file operation goes through an Env (env.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engram/env.hpp"
#include "engram/thread_annotations.hpp"
#include "engram/wal.hpp"

namespace engram {

inline constexpr std::uint32_t kCheckpointMagic = 0x4B434745u;  // "EGCK"
inline constexpr std::size_t kCheckpointHeaderBytes = 48;

struct CheckpointFile {
  std::uint64_t lsn = 0;
  std::string path;
};
std::string checkpoint_name(std::uint64_t lsn);
std::vector<CheckpointFile> list_checkpoints(Env& env, const std::string& store);  // ascending LSN
// A checkpoint file's bytes: the header (docs/format.md "Checkpoints") and the body.
std::string encode_checkpoint_file(std::uint64_t lsn, std::string_view body, std::uint32_t major = kFormatVersion);
// Writes atomically (temp file, sync, rename, directory sync); StorageError on failure. `major`:
// the format of the body (the migrator writes version 1 checkpoints for a rollback).
void write_checkpoint_file(Env& env, const std::string& store, std::uint64_t lsn, std::string_view body,
                           std::uint32_t major = kFormatVersion);
struct CheckpointHeader {
  std::uint64_t lsn = 0;
  std::uint32_t minor = 0;  // the minor format version that wrote it
};
// Verifies header and body checksums; returns the body. CorruptionError naming the problem,
// UnsupportedFormatError for a sound header of a major version other than `major`.
std::string_view check_checkpoint(std::string_view data, const std::string& path, CheckpointHeader& header,
                                  std::uint32_t major = kFormatVersion);

// Creates the store directories and FORMAT, or checks FORMAT of an existing store; returns its
// major version: kFormatVersion, or an older one the migrator converts (migrate.hpp). Another
// major version: UnsupportedFormatError; anything else in FORMAT: StorageError.
std::uint32_t prepare_store(Env& env, const std::string& store);
// The major version in an existing store's FORMAT, checked as prepare_store does.
std::uint32_t read_format_version(Env& env, const std::string& store);
// Replaces FORMAT atomically (FORMAT.tmp, sync, rename, directory sync): the migrator's commit.
void write_format_file(Env& env, const std::string& store, std::uint32_t major);
// Takes the store's LOCK, held until the returned object is destroyed. StorageError when held.
std::unique_ptr<FileLock> lock_store(Env& env, const std::string& store);

// What the LOCK file of a store says about the process that had it open last (docs/format.md,
// "Store layout"): empty after a clean close; otherwise that process did not close the store (it
// crashed or was killed), and the text names its pid and the phase it last recorded.
struct PreviousRun {
  bool unclean = false;
  std::int64_t pid = 0;
  std::string phase;  // "serving", "consolidation.<step>"; empty when the text was unreadable
};
// Reads the LOCK file's text; call with the store's lock held (no live writer).
PreviousRun read_previous_run(Env& env, const std::string& store);

// The phase marker in a store's LOCK file while an engine has the store open: "pid=<pid>" and
// "phase=<phase>", rewritten in place (fixed size, no fsync) at each phase change. A kill -9
// keeps it (the page cache survives the process), so the next open reports the crash and the
// phase it hit; a power cut may keep an older phase or none. close() empties it (synced). Best
// effort: an I/O error disables the marker and is never reported to the operation that set a
// phase. mu_ serialises writes; phases of concurrent consolidations overwrite each other (the
// last one written is kept).
class RunMarker {
 public:
  RunMarker(Env& env, std::string path);
  RunMarker(const RunMarker&) = delete;
  RunMarker& operator=(const RunMarker&) = delete;
  void set_phase(std::string_view phase) noexcept EXCLUDES(mu_);
  // A clean close: the text is emptied and synced. Later set_phase calls do nothing.
  void close() noexcept EXCLUDES(mu_);

 private:
  void write_locked(std::string_view phase) noexcept REQUIRES(mu_);
  Mutex mu_;
  std::unique_ptr<WritableFile> file_ GUARDED_BY(mu_);  // null: closed or disabled by an error
  std::string pid_line_;
};

// Moves (or copies, when keep_original) a damaged file into <store>/quarantine/ and writes a
// report next to it; returns the quarantined path.
std::string quarantine_file(Env& env, const std::string& store, const std::string& path, std::uint64_t offset,
                            const std::string& reason, bool keep_original);

struct VerifyIssue {
  std::string severity;  // "error" or "warning"
  std::string file;
  std::uint64_t offset = 0;
  std::string detail;
};
struct VerifyReport {
  std::uint64_t checkpoints = 0;
  std::uint64_t segments = 0;
  std::uint64_t records = 0;
  std::uint64_t last_lsn = 0;
  std::vector<VerifyIssue> issues;
  bool ok() const noexcept;
};
// Reads every checkpoint and segment without changing anything.
VerifyReport verify_store(const std::string& store, Env& env = Env::default_env());

// One WAL frame as inspect_wal reads it. For a ConceptCommit (type 7): the space ordinal, the
// concept id, whether it is new, its members and the episodes of its bindings, in record order.
struct WalRecordInfo {
  std::uint64_t lsn = 0;
  std::uint16_t type = 0;
  std::int64_t timestamp_ns = 0;
  std::string segment;
  std::uint32_t ordinal = 0;
  std::int64_t concept_id = 0;
  bool is_new = false;
  std::vector<std::int64_t> members;
  std::vector<std::int64_t> bindings;
};
struct WalInspection {
  std::uint64_t segments = 0;
  std::vector<WalRecordInfo> records;  // segments by first LSN, frames in file order
  std::vector<std::string> problems;   // damaged files or records (nothing is changed)
};
// Reads every WAL segment of a store, read-only (wal_inspect.cpp). Spaces' dimensions come from
// CreateSpace records in the newest readable checkpoint and in the log.
WalInspection inspect_wal(const std::string& store, Env& env = Env::default_env());

}  // namespace engram
