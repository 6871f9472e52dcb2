// The on-disk store of a durable engine: directory layout, checkpoint files, quarantine and
// offline verification. Recovery itself is Engine::open_store (engine_durable.cpp).
//
// Layout of <store>/ (format version kFormatVersion, see wal.hpp for the WAL):
//   FORMAT                     "engram-store <version>\n"; an unknown version is refused.
//   LOCK                       flock()ed exclusively by the process that has the store open.
//   checkpoint-<LSN 20>.ckpt   full state as of LSN (the two newest are kept).
//   wal/wal-<LSN 20>.seg       WAL segments; those wholly below the older kept checkpoint go.
//   quarantine/                damaged files moved or copied aside, each with a .report.txt.
// Checkpoint file: header (48 bytes): magic "EGCK" u32, format version u32, LSN u64, created
// (ns) i64, body length u64, body CRC32C u32, reserved u32 (0), reserved u32 (0), header CRC32C
// (over the previous 44 bytes) u32; then the body, WAL-framed records (each with its own CRC)
// numbered from 1. Written to <name>.tmp, fsynced, renamed over, and the directory fsynced,
// so a crash leaves either the old or the new checkpoint, never a partial one under its name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace engram {

inline constexpr std::uint32_t kCheckpointMagic = 0x4B434745u;  // "EGCK"
inline constexpr std::size_t kCheckpointHeaderBytes = 48;

struct CheckpointFile {
  std::uint64_t lsn = 0;
  std::string path;
};
std::string checkpoint_name(std::uint64_t lsn);
std::vector<CheckpointFile> list_checkpoints(const std::string& store);  // ascending LSN
// Writes atomically (temp file, fsync, rename, directory fsync); StorageError on failure.
void write_checkpoint_file(const std::string& store, std::uint64_t lsn, std::string_view body);
// Verifies header and body checksums; returns the body. CorruptionError naming the problem.
std::string_view check_checkpoint(std::string_view data, const std::string& path, std::uint64_t& lsn);

// Creates the store directories and FORMAT, or checks FORMAT of an existing store.
void prepare_store(const std::string& store);
// Takes the store's LOCK; returns the descriptor (closed to release). StorageError when held.
int lock_store(const std::string& store);

// Moves (or copies, when keep_original) a damaged file into <store>/quarantine/ and writes a
// report next to it; returns the quarantined path.
std::string quarantine_file(const std::string& store, const std::string& path, std::uint64_t offset,
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
VerifyReport verify_store(const std::string& store);

}  // namespace engram
