// Write-ahead log: append-only segment files of CRC32C-framed records.
//
// The on-disk format (segment header, frame layout, record types and their payloads, the
// versioning rule) is specified in docs/format.md; this header and wal.cpp implement its
// sections "WAL segments" and "Frames", and cite it rather than repeat it. In short: segments
// <store>/wal/wal-<first LSN, 20 digits>.seg of a 32-byte header and frames back to back; a
// frame is a 32-byte header (with its own CRC, so a corrupted length is told from a torn tail),
// the payload and a CRC32C trailer; LSNs increase by exactly 1 across records and segments.
//
// Durability modes: Fsync (every write does its own write+fdatasync before it returns), Group
// (a write returns once durable, and writers waiting at the same time share one
// write+fdatasync: whoever takes the I/O lock first waits up to group_window_s, 2 ms, for
// writers that appended but have not asked to sync yet, then flushes everything appended so
// far, and the writers queued behind it find their LSN already durable), None (writes return at once; a
// background thread writes and syncs every flush_interval_s: a crash loses at most that
// window).
//
// Failure: an I/O error (ENOSPC, EIO) on write or sync truncates the segment back to its last
// durable offset, keeps the failed batch for a retry, and fails every waiter of that batch
// with StorageError naming the cause. Later writes retry the batch first (check_writable) and
// fail fast while the disk still refuses, so the log never holds a hole; once the disk accepts
// again everything appended is written in LSN order.
//
// Locking: buf_mu_ guards the append buffer and LSN counter (held for a memcpy); io_mu_
// serialises file I/O (segment roll, write, sync, retry state) and is taken before buf_mu_,
// never under it. Callers append while holding the locks that order their mutation (so LSN
// order is the order mutations took effect) and wait for durability after releasing them.
// gate() is the engine-wide mutation gate: every logged mutation holds it shared from its append
// until it is applied in memory; a checkpoint holds it exclusively to capture a state that
// matches exactly the records up to last_lsn(). Where these sit among the engine's other locks:
// engine.hpp, "Lock order".
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engram/env.hpp"
#include "engram/thread_annotations.hpp"

namespace engram {

// docs/format.md "Versioning": the major version (FORMAT file, the version field of segment and
// checkpoint headers) changes with the layout; the minor version (in each segment and checkpoint
// header) counts added record types. This build writes and reads major 2.0. Stores of major 1
// (1.0, 1.1) are converted by the migrator (migrate.hpp), which reads and writes them too.
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::uint32_t kFormatMinor = 0;
// The oldest major version the migrator converts from (and rolls back to).
inline constexpr std::uint32_t kOldestFormatVersion = 1;
// The newest minor version of a major this build knows: 1.1, 2.0.
constexpr std::uint32_t format_minor_of(std::uint32_t major) noexcept { return major == 1 ? 1 : kFormatMinor; }
// Frame flag: a reader that does not know the record's type may skip it (docs/format.md).
inline constexpr std::uint16_t kRecordIgnorable = 1;
inline constexpr std::uint32_t kSegmentMagic = 0x53574745u;  // "EGWS"
inline constexpr std::uint32_t kRecordMagic = 0x52574745u;   // "EGWR"
inline constexpr std::size_t kSegmentHeaderBytes = 32;
inline constexpr std::size_t kFrameHeaderBytes = 32;
inline constexpr std::size_t kFrameOverhead = kFrameHeaderBytes + 4;
inline constexpr std::uint32_t kMaxRecordBytes = 1u << 30;

enum class RecordType : std::uint16_t {
  CreateSpace = 1,
  DropSpace = 2,
  Remember = 3,  // one or more episodes with their ids (remember and remember_batch)
  Forget = 4,
  Link = 5,
  Unlink = 6,
  ConceptCommit = 7,  // a concept and all its bindings: one atomic record
  ConceptDissolve = 8,
  Features = 9,
  RememberKeyed = 10,  // 1.1: a Remember payload followed by the idempotency keys it records
  // Checkpoint-only records.
  SpaceState = 20,
  ConceptRestore = 21,
  EngineState = 22,
  IdempotencyKeys = 23,  // 1.1: a space's idempotency keys, oldest first
};
const char* record_type_name(RecordType t) noexcept;
bool is_known_record_type(std::uint16_t t) noexcept;

enum class Durability { Fsync, Group, None };
const char* durability_name(Durability d) noexcept;

struct FrameHeader {
  RecordType type{};  // may hold a value outside the enum: check is_known_record_type
  std::uint16_t flags = 0;
  std::uint64_t lsn = 0;
  std::int64_t timestamp_ns = 0;
  std::uint32_t length = 0;
};

// Appends one frame to out.
void encode_frame(std::string& out, RecordType type, std::uint64_t lsn, std::int64_t ts_ns, std::string_view payload,
                  std::uint16_t flags = 0);
std::int64_t wall_clock_ns() noexcept;

// Result of reading a run of frames (a segment body or a checkpoint body).
struct ScanResult {
  enum class Status { Ok, TornTail, Corrupt };
  Status status = Status::Ok;
  std::size_t valid_end = 0;  // byte offset just past the last valid frame
  std::uint64_t records = 0;
  std::uint64_t last_lsn = 0;  // 0: no valid frame
  std::size_t error_offset = 0;
  std::string error;  // what was wrong, for Corrupt and TornTail
};

// Reads frames from data[start..]; each valid frame goes to f (which may throw to stop).
// expect_lsn: the LSN the first frame must carry (0: any), then +1 per frame. A frame cut off
// by the end of data, a run of zeros to the end, or a final frame whose CRC fails with nothing
// after it is a torn tail; anything else invalid is corruption.
ScanResult scan_frames(std::string_view data, std::size_t start, std::uint64_t expect_lsn,
                       const std::function<void(const FrameHeader&, std::string_view)>& f);

struct SegmentFile {
  std::uint64_t first_lsn = 0;
  std::string path;
};
// Segment files of a WAL directory, by first LSN (from the file name).
std::vector<SegmentFile> list_segments(Env& env, const std::string& wal_dir);
std::string segment_name(std::uint64_t first_lsn);
struct SegmentHeader {
  std::uint64_t first_lsn = 0;
  std::uint32_t minor = 0;  // the minor format version that wrote the segment
};
// Checks a segment header: UnsupportedFormatError for a major version other than `major`, CorruptionError
// naming anything else that is wrong.
SegmentHeader check_segment_header(std::string_view data, const std::string& path,
                                   std::uint32_t major = kFormatVersion);
// A frame whose type this build does not know (docs/format.md "Versioning"): returns false when
// it may be skipped (flag ignorable); throws UnsupportedFormatError when the file comes from a
// newer minor version, CorruptionError when it does not (its writer could not have written it).
// `major`: the file's major version (the migrator reads version 1 files too).
bool check_unknown_record(const FrameHeader& h, std::uint32_t file_minor, const std::string& path,
                          std::uint32_t major = kFormatVersion);

struct WalOptions {
  Durability mode = Durability::Group;
  std::uint64_t segment_bytes = 64ull << 20;
  double flush_interval_s = 0.05;  // mode None
  double group_window_s = 0.002;   // mode Group: longest wait for writers about to sync
  // The disk guard: writes are refused (StorageError "disk full") while the WAL's file system
  // is at least this full, before the disk itself refuses (ENOSPC); 1 leaves it to the disk.
  // The file system is read at most every 10 ms (statvfs) and the WAL's own writes since are
  // added to the reading, so a write costs a few atomic loads.
  double disk_full_fraction = 0.95;
};

struct WalStats {
  std::uint64_t appends = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t syncs = 0;
  std::uint64_t storage_errors = 0;
  std::uint64_t disk_full_refusals = 0;  // writes the disk guard refused
  double disk_used = -1.0;               // the last fill seen by the disk guard (-1: not checked)
  std::uint64_t segments_created = 0;
  std::uint64_t last_lsn = 0;
  std::uint64_t durable_lsn = 0;
  std::uint64_t bytes_since_checkpoint = 0;
  bool failed = false;
  std::string last_error;
};

class Wal {
 public:
  // Starts a new segment whose first record gets next_lsn. All file I/O goes through env.
  Wal(Env& env, std::string dir, WalOptions options, std::uint64_t next_lsn);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  const WalOptions& options() const noexcept { return opt_; }
  SharedMutex& gate() noexcept RETURN_CAPABILITY(gate_) { return gate_; }

  // Buffers one record and returns its LSN. Never does I/O; throws ClosedError after close().
  std::uint64_t append(RecordType type, std::string_view payload);
  // Returns once lsn is durable (Fsync, Group) or at once (None); StorageError on I/O failure.
  void wait_durable(std::uint64_t lsn);
  // Throws StorageError when an earlier write failed and retrying it still fails, or when the
  // disk guard finds the file system at least disk_full_fraction full.
  void check_writable();
  // Writes and syncs everything appended so far, whatever the mode.
  void sync();
  std::uint64_t last_lsn() const EXCLUDES(buf_mu_);
  std::uint64_t durable_lsn() const noexcept { return durable_lsn_.load(std::memory_order_acquire); }
  // Closed segments and the current one with its durable size, for backups.
  struct SegmentExtent {
    std::string path;
    std::uint64_t first_lsn;
    std::uint64_t bytes;
  };
  std::vector<SegmentExtent> durable_segments();
  // Deletes segments whose every record has LSN < lsn (never the current segment).
  void remove_segments_before(std::uint64_t lsn);
  void reset_checkpoint_bytes() noexcept { bytes_since_checkpoint_.store(0, std::memory_order_relaxed); }
  WalStats stats() const;
  // Flushes, syncs and closes; later appends throw ClosedError.
  void close();

 private:
  bool flush_locked(bool force_sync) REQUIRES(io_mu_);  // false on I/O error (recorded)
  void open_segment_locked(std::uint64_t first_lsn) REQUIRES(io_mu_);
  void background_loop(std::stop_token st);
  [[noreturn]] void throw_failure(std::uint64_t lsn) REQUIRES(io_mu_);
  void check_disk();

  // the disk guard's last reading: steady time (s) of the check and the file system's fill
  std::atomic<double> disk_checked_at_{-1e18};
  std::atomic<double> disk_used_{-1.0};
  std::atomic<double> disk_total_{0.0};
  std::atomic<std::uint64_t> disk_bytes_at_{0};  // bytes_written_ at that reading
  std::atomic<std::uint64_t> disk_refusals_{0};

  Env& env_;
  std::string dir_;
  WalOptions opt_;
  SharedMutex gate_{LockClass::WalGate};

  mutable Mutex buf_mu_ ACQUIRED_AFTER(io_mu_){LockClass::WalBuffer};
  std::string buffer_ GUARDED_BY(buf_mu_);
  std::uint64_t next_lsn_ GUARDED_BY(buf_mu_);
  std::uint64_t buffer_first_lsn_ GUARDED_BY(buf_mu_) = 0;  // LSN of the first frame in buffer_ (0: empty)
  bool closed_ GUARDED_BY(buf_mu_) = false;

  mutable Mutex io_mu_{LockClass::WalIo};
  std::unique_ptr<WritableFile> file_ GUARDED_BY(io_mu_);  // the current segment
  std::uint64_t segment_first_lsn_ GUARDED_BY(io_mu_) = 0;
  std::uint64_t segment_bytes_ GUARDED_BY(io_mu_) = 0;  // durable size of the current segment
  std::vector<SegmentFile> closed_segments_ GUARDED_BY(io_mu_);
  std::string retry_ GUARDED_BY(io_mu_);  // a batch whose write failed, written again first
  std::uint64_t retry_first_lsn_ GUARDED_BY(io_mu_) = 0;
  std::uint64_t retry_last_lsn_ GUARDED_BY(io_mu_) = 0;
  std::string last_error_ GUARDED_BY(io_mu_);

  std::atomic<bool> failed_{false};
  std::atomic<std::uint64_t> durable_lsn_{0};
  std::atomic<std::int64_t> arriving_{0};  // Group: appended, owner not yet in wait_durable

  std::atomic<std::uint64_t> appends_{0}, bytes_written_{0}, syncs_{0}, storage_errors_{0}, segments_created_{0};
  std::atomic<std::uint64_t> bytes_since_checkpoint_{0};
  Mutex bg_mu_;  // for bg_cv_ only (the background thread's sleep)
  std::condition_variable_any bg_cv_;
  std::jthread background_;
};

}  // namespace engram
