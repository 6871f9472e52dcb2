// The write-ahead log (wal.hpp); formats per docs/format.md "WAL segments" and "Frames".
#include "engram/wal.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "engram/codec.hpp"
#include "engram/crash.hpp"
#include "engram/crc32c.hpp"
#include "engram/errors.hpp"
#include "engram/stage_trace.hpp"

namespace engram {

const char* record_type_name(RecordType t) noexcept {
  switch (t) {
    case RecordType::CreateSpace: return "create_space";
    case RecordType::DropSpace: return "drop_space";
    case RecordType::Remember: return "remember";
    case RecordType::Forget: return "forget";
    case RecordType::Link: return "link";
    case RecordType::Unlink: return "unlink";
    case RecordType::ConceptCommit: return "concept_commit";
    case RecordType::ConceptDissolve: return "concept_dissolve";
    case RecordType::Features: return "features";
    case RecordType::RememberKeyed: return "remember_keyed";
    case RecordType::SpaceState: return "space_state";
    case RecordType::ConceptRestore: return "concept_restore";
    case RecordType::EngineState: return "engine_state";
    case RecordType::IdempotencyKeys: return "idempotency_keys";
  }
  return "unknown";
}

bool is_known_record_type(std::uint16_t t) noexcept {
  return (t >= static_cast<std::uint16_t>(RecordType::CreateSpace) &&
          t <= static_cast<std::uint16_t>(RecordType::RememberKeyed)) ||
         (t >= static_cast<std::uint16_t>(RecordType::SpaceState) &&
          t <= static_cast<std::uint16_t>(RecordType::IdempotencyKeys));
}

const char* durability_name(Durability d) noexcept {
  switch (d) {
    case Durability::Fsync: return "fsync";
    case Durability::Group: return "group";
    case Durability::None: return "none";
  }
  return "?";
}

std::int64_t wall_clock_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// docs/format.md "Frames".
void encode_frame(std::string& out, RecordType type, std::uint64_t lsn, std::int64_t ts_ns, std::string_view payload,
                  std::uint16_t flags) {
  if (payload.size() > kMaxRecordBytes) {
    throw InvalidInputError("a log record of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                            std::to_string(kMaxRecordBytes) + " bytes; store smaller batches");
  }
  const std::size_t at = out.size();
  out.resize(at + kFrameHeaderBytes);
  char* h = out.data() + at;
  const std::uint32_t magic = kRecordMagic;
  const auto t = static_cast<std::uint16_t>(type);
  const auto len = static_cast<std::uint32_t>(payload.size());
  std::memcpy(h, &magic, 4);
  std::memcpy(h + 4, &t, 2);
  std::memcpy(h + 6, &flags, 2);
  std::memcpy(h + 8, &lsn, 8);
  std::memcpy(h + 16, &ts_ns, 8);
  std::memcpy(h + 24, &len, 4);
  const std::uint32_t hcrc = crc32c(h, 28);
  std::memcpy(h + 28, &hcrc, 4);
  const std::uint32_t crc = crc32c(payload, crc32c(h, kFrameHeaderBytes));
  out.append(payload.data(), payload.size());
  out.append(reinterpret_cast<const char*>(&crc), 4);
}

namespace {

bool all_zero(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 0; });
}

template <class T>
T load(const char* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

ScanResult scan_frames(std::string_view data, std::size_t start, std::uint64_t expect_lsn,
                       const std::function<void(const FrameHeader&, std::string_view)>& f) {
  ScanResult r;
  r.valid_end = start;
  std::size_t off = start;
  const auto fail = [&](ScanResult::Status st, std::string why) {
    r.status = st;
    r.error_offset = off;
    r.error = std::move(why);
    return r;
  };
  while (off < data.size()) {
    const std::string_view rest = data.substr(off);
    if (rest.size() < kFrameHeaderBytes) {
      return fail(ScanResult::Status::TornTail,
                  "incomplete record header (" + std::to_string(rest.size()) + " bytes) at the end");
    }
    const char* h = rest.data();
    const bool header_ok = load<std::uint32_t>(h) == kRecordMagic && load<std::uint32_t>(h + 28) == crc32c(h, 28);
    if (!header_ok) {
      if (all_zero(rest)) return fail(ScanResult::Status::TornTail, "zero-filled tail");
      return fail(ScanResult::Status::Corrupt, load<std::uint32_t>(h) == kRecordMagic
                                                   ? "record header checksum mismatch"
                                                   : "bad record magic (expected a record header)");
    }
    FrameHeader fh;
    fh.type = static_cast<RecordType>(load<std::uint16_t>(h + 4));
    fh.flags = load<std::uint16_t>(h + 6);
    fh.lsn = load<std::uint64_t>(h + 8);
    fh.timestamp_ns = load<std::int64_t>(h + 16);
    fh.length = load<std::uint32_t>(h + 24);
    if (fh.length > kMaxRecordBytes) return fail(ScanResult::Status::Corrupt, "record length out of range");
    const std::size_t frame = kFrameOverhead + fh.length;
    if (rest.size() < frame) {
      return fail(ScanResult::Status::TornTail, "record of " + std::to_string(frame) + " bytes cut off after " +
                                                    std::to_string(rest.size()) + " bytes");
    }
    const std::string_view payload = rest.substr(kFrameHeaderBytes, fh.length);
    const std::uint32_t crc = crc32c(payload, crc32c(h, kFrameHeaderBytes));
    if (crc != load<std::uint32_t>(h + kFrameHeaderBytes + fh.length)) {
      if (rest.size() == frame) return fail(ScanResult::Status::TornTail, "last record checksum mismatch");
      return fail(ScanResult::Status::Corrupt, "record checksum mismatch (LSN " + std::to_string(fh.lsn) + ")");
    }
    if (expect_lsn != 0 && fh.lsn != expect_lsn) {
      return fail(ScanResult::Status::Corrupt,
                  "LSN gap: expected " + std::to_string(expect_lsn) + ", found " + std::to_string(fh.lsn));
    }
    f(fh, payload);
    off += frame;
    expect_lsn = fh.lsn + 1;
    r.valid_end = off;
    r.last_lsn = fh.lsn;
    ++r.records;
  }
  return r;
}

std::string segment_name(std::uint64_t first_lsn) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "wal-%020" PRIu64 ".seg", first_lsn);
  return buf;
}

std::vector<SegmentFile> list_segments(Env& env, const std::string& wal_dir) {
  std::vector<SegmentFile> out;
  for (const std::string& n : env.list_dir(wal_dir)) {
    if (n.size() != 28 || n.rfind("wal-", 0) != 0 || n.substr(24) != ".seg") continue;
    if (!std::all_of(n.begin() + 4, n.begin() + 24, [](char c) { return c >= '0' && c <= '9'; })) continue;
    out.push_back({std::stoull(n.substr(4, 20)), wal_dir + "/" + n});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first_lsn < b.first_lsn; });
  return out;
}

// docs/format.md "WAL segments": magic, then the header CRC, then the major version, so a bit
// flip anywhere in the header is corruption while a sound header of another major is refused.
SegmentHeader check_segment_header(std::string_view data, const std::string& path, std::uint32_t major) {
  if (data.size() < kSegmentHeaderBytes) {
    throw CorruptionError(path + ": segment header incomplete (" + std::to_string(data.size()) + " bytes)");
  }
  const char* h = data.data();
  if (load<std::uint32_t>(h) != kSegmentMagic) throw CorruptionError(path + ": not a WAL segment (bad magic)");
  if (load<std::uint32_t>(h + 28) != crc32c(h, 28)) throw CorruptionError(path + ": segment header checksum mismatch");
  const auto version = load<std::uint32_t>(h + 4);
  if (version != major) {
    throw UnsupportedFormatError(path + ": WAL segment of format major version " + std::to_string(version) +
                                 "; expected major version " + std::to_string(major) +
                                 ". Nothing was changed: open the store with a build of its version, or " +
                                 "convert it with the migrator (engram migrate; docs/format.md, Versioning)");
  }
  return {load<std::uint64_t>(h + 8), load<std::uint32_t>(h + 24)};
}

bool check_unknown_record(const FrameHeader& h, std::uint32_t file_minor, const std::string& path,
                          std::uint32_t major) {
  if (is_known_record_type(static_cast<std::uint16_t>(h.type))) return true;
  if ((h.flags & kRecordIgnorable) != 0) return false;
  const std::string what = path + ": record type " + std::to_string(static_cast<std::uint16_t>(h.type)) + " (LSN " +
                           std::to_string(h.lsn) + ")";
  const std::uint32_t known_minor = format_minor_of(major);
  if (file_minor > known_minor) {
    throw UnsupportedFormatError(what + " comes from format " + std::to_string(major) + "." +
                                 std::to_string(file_minor) + ", newer than this build's " + std::to_string(major) +
                                 "." + std::to_string(known_minor) +
                                 ", and may not be skipped. Nothing was changed: open the store with a newer build");
  }
  throw CorruptionError(what + " is unknown, and its file claims format " + std::to_string(major) + "." +
                        std::to_string(file_minor) + ", which has no such type");
}

// --- Wal --------------------------------------------------------------------------------------

Wal::Wal(Env& env, std::string dir, WalOptions options, std::uint64_t next_lsn)
    : env_(env), dir_(std::move(dir)), opt_(options), next_lsn_(next_lsn) {
  // The background flusher sleeps flush_interval_s and group commit waits up to group_window_s:
  // NaN, zero or negative would spin a core, infinity would never sync.
  if (!std::isfinite(opt_.flush_interval_s) || opt_.flush_interval_s < 0.001 || opt_.flush_interval_s > 3600.0) {
    throw InvalidInputError("flush_interval_s must be between 0.001 and 3600 seconds; got " +
                            std::to_string(opt_.flush_interval_s));
  }
  if (!std::isfinite(opt_.group_window_s) || opt_.group_window_s < 0.0 || opt_.group_window_s > 1.0) {
    throw InvalidInputError("group_window_s must be between 0 and 1 second; got " +
                            std::to_string(opt_.group_window_s));
  }
  if (opt_.segment_bytes < 4096) {
    throw InvalidInputError("segment_bytes must be at least 4096; got " + std::to_string(opt_.segment_bytes));
  }
  if (next_lsn_ == 0) next_lsn_ = 1;
  for (const SegmentFile& s : list_segments(env_, dir_)) {
    if (s.first_lsn < next_lsn_) closed_segments_.push_back(s);  // a later name is the new segment
  }
  {
    MutexLock io(io_mu_);
    open_segment_locked(next_lsn_);
  }
  durable_lsn_.store(next_lsn_ - 1, std::memory_order_release);
  if (opt_.mode == Durability::None) {
    background_ = std::jthread([this](std::stop_token st) { background_loop(std::move(st)); });
  }
}

Wal::~Wal() {
  try {
    close();
  } catch (...) {  // destructors must not throw; close() already recorded the error
  }
}

// docs/format.md "WAL segments": the header is written and synced, and the directory synced,
// before any record goes in, so a segment name on disk always has a whole header behind it
// unless the crash came during creation (recovery removes such a last segment).
void Wal::open_segment_locked(std::uint64_t first_lsn) {
  const std::string path = dir_ + "/" + segment_name(first_lsn);
  char h[kSegmentHeaderBytes] = {};
  const std::uint32_t magic = kSegmentMagic, version = kFormatVersion, minor = kFormatMinor;
  const std::int64_t now = wall_clock_ns();
  std::memcpy(h, &magic, 4);
  std::memcpy(h + 4, &version, 4);
  std::memcpy(h + 8, &first_lsn, 8);
  std::memcpy(h + 16, &now, 8);
  std::memcpy(h + 24, &minor, 4);
  const std::uint32_t crc = crc32c(h, 28);
  std::memcpy(h + 28, &crc, 4);
  std::unique_ptr<WritableFile> file;
  try {
    file = env_.create_file(path);
    file->write_at(0, std::string_view(h, sizeof h));
    file->sync();
    env_.sync_dir(dir_);
  } catch (const IoError& e) {
    file.reset();
    try {
      env_.remove_file(path);
    } catch (const IoError&) {  // the creation's error is the one to report
    }
    throw IoError(e.code(), "cannot create WAL segment " + path + ": " + e.what());
  }
  if (file_) {
    try {
      file_->close();
    } catch (const IoError&) {  // every byte in it was synced before this roll
    }
    closed_segments_.push_back({segment_first_lsn_, file_->path()});
  }
  file_ = std::move(file);
  segment_first_lsn_ = first_lsn;
  segment_bytes_ = kSegmentHeaderBytes;
  segments_created_.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t Wal::append(RecordType type, std::string_view payload) {
  MutexLock lock(buf_mu_);
  if (closed_) throw ClosedError("the engine is closed; its write-ahead log accepts no more records");
  const std::uint64_t lsn = next_lsn_;
  encode_frame(buffer_, type, lsn, wall_clock_ns(), payload);
  if (buffer_first_lsn_ == 0) buffer_first_lsn_ = lsn;
  ++next_lsn_;
  appends_.fetch_add(1, std::memory_order_relaxed);
  if (opt_.mode == Durability::Group) arriving_.fetch_add(1, std::memory_order_relaxed);
  return lsn;
}

std::uint64_t Wal::last_lsn() const {
  MutexLock lock(buf_mu_);
  return next_lsn_ - 1;
}

bool Wal::flush_locked(bool force_sync) {
  std::string batch;
  std::uint64_t first = 0, last = 0;
  {
    MutexLock lock(buf_mu_);
    if (!buffer_.empty()) {
      batch.swap(buffer_);
      first = buffer_first_lsn_;
      last = next_lsn_ - 1;
      buffer_first_lsn_ = 0;
    }
  }
  if (!retry_.empty()) {  // an earlier failed batch goes first: LSNs stay in order
    retry_.append(batch);
    batch.swap(retry_);
    retry_.clear();
    first = retry_first_lsn_;
    if (last == 0) last = retry_last_lsn_;
  }
  if (batch.empty()) {
    if (force_sync && file_) {
      try {
        file_->sync();
        syncs_.fetch_add(1, std::memory_order_relaxed);
      } catch (const IoError&) {  // nothing unsynced to lose; the next write reports a failing disk
      }
    }
    return !failed_.load(std::memory_order_acquire);
  }
  try {
    if (segment_bytes_ >= opt_.segment_bytes) open_segment_locked(first);
    if (crash_armed("wal.torn_write")) {  // this batch's crash point kills: write half of it first
      try {
        file_->write_at(segment_bytes_, std::string_view(batch).substr(0, std::max<std::size_t>(1, batch.size() / 2)));
      } catch (const IoError&) {  // crashing anyway
      }
    }
    crash_point("wal.torn_write");
    file_->write_at(segment_bytes_, batch);
    crash_point("wal.before_fsync");
    file_->sync();
    crash_point("wal.after_fsync");
  } catch (const std::exception& e) {
    // Cut the segment back to its durable size so the retry rewrites the batch in place.
    try {
      if (file_) file_->truncate(segment_bytes_);
    } catch (const IoError&) {  // the retry writes over the same bytes anyway
    }
    retry_ = std::move(batch);
    retry_first_lsn_ = first;
    retry_last_lsn_ = last;
    last_error_ = e.what();
    if (const auto* io = dynamic_cast<const IoError*>(&e)) {
      last_error_ = std::string(io->code() == ENOSPC ? "disk full (ENOSPC)" : "I/O error") +
                    " writing the write-ahead log in " + dir_ + ": " + e.what();
    }
    failed_.store(true, std::memory_order_release);
    storage_errors_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  segment_bytes_ += batch.size();
  bytes_written_.fetch_add(batch.size(), std::memory_order_relaxed);
  bytes_since_checkpoint_.fetch_add(batch.size(), std::memory_order_relaxed);
  syncs_.fetch_add(1, std::memory_order_relaxed);
  failed_.store(false, std::memory_order_release);
  durable_lsn_.store(last, std::memory_order_release);
  return true;
}

void Wal::throw_failure(std::uint64_t lsn) {
  throw StorageError("write not durable (LSN " + std::to_string(lsn) + "): " + last_error_ +
                     "; the engine stays readable, and writes succeed again once the disk accepts them");
}

void Wal::wait_durable(std::uint64_t lsn) {
  if (opt_.mode == Durability::None) return;
  const trace::StageScope stage("wal.sync");  // a traced request's span shows the wait (stage_trace.hpp)
  if (opt_.mode == Durability::Group) arriving_.fetch_sub(1, std::memory_order_relaxed);
  MutexLock io(io_mu_);
  if (opt_.mode == Durability::Group) {
    // A writer queued behind another's flush usually finds its record already durable.
    if (durable_lsn() >= lsn) return;
    // Writers that appended but are still applying (e.g. indexing) will want a sync in a
    // moment: wait for them, at most group_window_s, so one fdatasync covers them all.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(opt_.group_window_s);
    while (arriving_.load(std::memory_order_relaxed) > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
  if (!flush_locked(true) || durable_lsn() < lsn) throw_failure(lsn);
}

void Wal::check_disk() {
  const double limit = opt_.disk_full_fraction;
  if (!(limit < 1.0)) return;
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  double last = disk_checked_at_.load(std::memory_order_relaxed);
  // one writer per 10 ms reads the file system (a statvfs, about a microsecond); the others use
  // its reading
  if (now - last >= 0.01 && disk_checked_at_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    try {
      const std::uint64_t written = bytes_written_.load(std::memory_order_relaxed);
      const Env::DiskSpace d = env_.disk_space(dir_);
      if (d.total > 0) {
        disk_bytes_at_.store(written, std::memory_order_relaxed);
        disk_total_.store(static_cast<double>(d.total), std::memory_order_relaxed);
        disk_used_.store(1.0 - static_cast<double>(d.available) / static_cast<double>(d.total),
                         std::memory_order_relaxed);
      }
    } catch (const IoError&) {  // no reading: the disk itself still refuses when full
    }
  }
  // the reading plus what this WAL wrote since: fast writers cannot run past the line between
  // two readings (other processes filling the disk can; the disk's own ENOSPC remains)
  const double total = disk_total_.load(std::memory_order_relaxed);
  const std::uint64_t written = bytes_written_.load(std::memory_order_relaxed);
  const double since = static_cast<double>(written - std::min(written, disk_bytes_at_.load(std::memory_order_relaxed)));
  const double used = disk_used_.load(std::memory_order_relaxed) + (total > 0 ? since / total : 0.0);
  if (used < limit) return;
  disk_refusals_.fetch_add(1, std::memory_order_relaxed);
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.1f%%", 100.0 * used);
  char lim[32];
  std::snprintf(lim, sizeof lim, "%g%%", 100.0 * limit);
  throw StorageError(std::string("disk full: the file system of the write-ahead log (") + dir_ + ") is " + pct +
                     " used, at or above its limit of " + lim +
                     " (disk_full_fraction); the engine stays readable, and writes succeed again once usage is "
                     "below it");
}

void Wal::check_writable() {
  check_disk();
  if (!failed_.load(std::memory_order_acquire)) return;
  MutexLock io(io_mu_);
  if (!failed_.load(std::memory_order_acquire)) return;
  if (!flush_locked(true)) {
    throw StorageError("the write-ahead log cannot write: " + last_error_ +
                       "; the engine stays readable, and writes succeed again once the disk accepts them");
  }
}

void Wal::sync() {
  MutexLock io(io_mu_);
  if (!flush_locked(true)) throw_failure(last_lsn());
}

std::vector<Wal::SegmentExtent> Wal::durable_segments() {
  MutexLock io(io_mu_);
  std::vector<SegmentExtent> out;
  for (const SegmentFile& s : closed_segments_) {
    try {
      out.push_back({s.path, s.first_lsn, env_.file_size(s.path)});
    } catch (const IoError&) {  // removed by a checkpoint meanwhile
    }
  }
  out.push_back({dir_ + "/" + segment_name(segment_first_lsn_), segment_first_lsn_, segment_bytes_});
  return out;
}

void Wal::remove_segments_before(std::uint64_t lsn) {
  MutexLock io(io_mu_);
  // Segment i holds LSNs [first_i, first_{i+1}); the current segment is never removed.
  std::vector<SegmentFile> keep;
  for (std::size_t i = 0; i < closed_segments_.size(); ++i) {
    const std::uint64_t next_first =
        i + 1 < closed_segments_.size() ? closed_segments_[i + 1].first_lsn : segment_first_lsn_;
    if (next_first <= lsn) {
      try {
        env_.remove_file(closed_segments_[i].path);
      } catch (const IoError&) {  // a stray old segment is skipped by recovery, not replayed
      }
    } else {
      keep.push_back(closed_segments_[i]);
    }
  }
  closed_segments_.swap(keep);
}

WalStats Wal::stats() const {
  WalStats s;
  s.appends = appends_.load(std::memory_order_relaxed);
  s.bytes_written = bytes_written_.load(std::memory_order_relaxed);
  s.syncs = syncs_.load(std::memory_order_relaxed);
  s.storage_errors = storage_errors_.load(std::memory_order_relaxed);
  s.disk_full_refusals = disk_refusals_.load(std::memory_order_relaxed);
  s.disk_used = disk_used_.load(std::memory_order_relaxed);
  s.segments_created = segments_created_.load(std::memory_order_relaxed);
  s.last_lsn = last_lsn();
  s.durable_lsn = durable_lsn();
  s.bytes_since_checkpoint = bytes_since_checkpoint_.load(std::memory_order_relaxed);
  s.failed = failed_.load(std::memory_order_acquire);
  {
    MutexLock io(io_mu_);
    s.last_error = last_error_;
  }
  return s;
}

void Wal::background_loop(std::stop_token st) {
  const auto interval = std::chrono::duration<double>(opt_.flush_interval_s);
  while (!st.stop_requested()) {
    {
      MutexLock lock(bg_mu_);
      bg_cv_.wait_for(bg_mu_, st, interval, [] { return false; });
    }
    MutexLock io(io_mu_);
    flush_locked(false);  // errors are recorded; the next write's check_writable reports them
  }
}

void Wal::close() {
  {
    MutexLock lock(buf_mu_);
    if (closed_) return;
    closed_ = true;
  }
  if (background_.joinable()) {
    background_.request_stop();
    background_.join();
  }
  MutexLock io(io_mu_);
  const bool ok = flush_locked(true);
  if (file_) {
    try {
      file_->close();
    } catch (const IoError&) {  // flush_locked synced (or reported) everything before this
    }
    file_.reset();
  }
  if (!ok) throw StorageError("closing the write-ahead log lost unwritten records: " + last_error_);
}

}  // namespace engram
