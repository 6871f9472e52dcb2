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

namespace engram {

inline constexpr std::uint32_t kCheckpointMagic = 0x4B434745u;  // "EGCK"
inline constexpr std::size_t kCheckpointHeaderBytes = 48;

struct CheckpointFile {
  std::uint64_t lsn = 0;
  std::string path;
};
std::string checkpoint_name(std::uint64_t lsn);
std::vector<CheckpointFile> list_checkpoints(Env& env, const std::string& store);  // ascending LSN
// Writes atomically (temp file, sync, rename, directory sync); StorageError on failure.
void write_checkpoint_file(Env& env, const std::string& store, std::uint64_t lsn, std::string_view body);
struct CheckpointHeader {
  std::uint64_t lsn = 0;
  std::uint32_t minor = 0;  // the minor format version that wrote it
};
// Verifies header and body checksums; returns the body. CorruptionError naming the problem,
// UnsupportedFormatError for a sound header of another major version.
std::string_view check_checkpoint(std::string_view data, const std::string& path, CheckpointHeader& header);

// Creates the store directories and FORMAT, or checks FORMAT of an existing store
// (UnsupportedFormatError for another major version).
void prepare_store(Env& env, const std::string& store);
// Takes the store's LOCK, held until the returned object is destroyed. StorageError when held.
std::unique_ptr<FileLock> lock_store(Env& env, const std::string& store);

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

}  // namespace engram
