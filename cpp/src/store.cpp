// The store's files (store.hpp); layout and checkpoint format per docs/format.md, "Store layout"
// and "Checkpoints". All file I/O goes through the Env.
#include "engram/store.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>

#include "engram/crash.hpp"
#include "engram/crc32c.hpp"
#include "engram/errors.hpp"
#include "engram/validation.hpp"
#include "engram/wal.hpp"

namespace engram {
namespace {

template <class T>
T load(const char* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

const std::string kFormatPrefix = "engram-store ";

std::string format_line(std::uint32_t major) { return kFormatPrefix + std::to_string(major) + "\n"; }

// The FORMAT file's text, checked (docs/format.md "Store layout"): returns the major version when
// this build reads or migrates it (kOldestFormatVersion .. kFormatVersion).
std::uint32_t check_format_file(const std::string& store, const std::string& have) {
  for (std::uint32_t v = kOldestFormatVersion; v <= kFormatVersion; ++v) {
    if (have == format_line(v)) return v;
  }
  std::string shown = preview(have, 64);
  while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r')) shown.pop_back();
  const std::string msg = "store " + store + " has format '" + shown + "'; this build reads 'engram-store " +
                          std::to_string(kFormatVersion) + "' (and migrates 'engram-store " +
                          std::to_string(kOldestFormatVersion) + "') only and will not guess";
  const std::string_view rest = std::string_view(have).substr(std::min(have.size(), kFormatPrefix.size()));
  const bool other_major = have.rfind(kFormatPrefix, 0) == 0 && rest.size() >= 2 && rest.size() <= 11 &&
                           rest.back() == '\n' &&
                           std::all_of(rest.begin(), rest.end() - 1, [](char c) { return c >= '0' && c <= '9'; });
  if (other_major) {
    throw UnsupportedFormatError(msg + ". Nothing was changed: open it with the version that wrote it, convert " +
                                 "it with that version's migrator, or restore a backup made in this format " +
                                 "(docs/format.md, Versioning)");
  }
  throw StorageError(msg + ": open it with the version that wrote it, or restore a backup made in this format");
}

}  // namespace

std::string checkpoint_name(std::uint64_t lsn) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "checkpoint-%020" PRIu64 ".ckpt", lsn);
  return buf;
}

std::vector<CheckpointFile> list_checkpoints(Env& env, const std::string& store) {
  std::vector<CheckpointFile> out;
  for (const std::string& n : env.list_dir(store)) {
    if (n.size() != 36 || n.rfind("checkpoint-", 0) != 0 || n.substr(31) != ".ckpt") continue;
    if (!std::all_of(n.begin() + 11, n.begin() + 31, [](char c) { return c >= '0' && c <= '9'; })) continue;
    out.push_back({std::stoull(n.substr(11, 20)), store + "/" + n});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.lsn < b.lsn; });
  return out;
}

// docs/format.md "Checkpoints".
std::string encode_checkpoint_file(std::uint64_t lsn, std::string_view body, std::uint32_t major) {
  std::string file(kCheckpointHeaderBytes, '\0');
  char* h = file.data();
  const std::uint32_t magic = kCheckpointMagic, version = major, minor = format_minor_of(major);
  const std::uint32_t body_crc = crc32c(body);
  const std::int64_t now = wall_clock_ns();
  const std::uint64_t len = body.size();
  std::memcpy(h, &magic, 4);
  std::memcpy(h + 4, &version, 4);
  std::memcpy(h + 8, &lsn, 8);
  std::memcpy(h + 16, &now, 8);
  std::memcpy(h + 24, &len, 8);
  std::memcpy(h + 32, &body_crc, 4);
  std::memcpy(h + 36, &minor, 4);
  const std::uint32_t hcrc = crc32c(h, 44);
  std::memcpy(h + 44, &hcrc, 4);
  file.append(body);
  return file;
}

void write_checkpoint_file(Env& env, const std::string& store, std::uint64_t lsn, std::string_view body,
                           std::uint32_t major) {
  const std::string file = encode_checkpoint_file(lsn, body, major);
  const std::string final_path = store + "/" + checkpoint_name(lsn);
  const std::string tmp = final_path + ".tmp";
  env.write_whole_file(tmp, file, true);
  crash_point("checkpoint.before_rename");
  try {
    env.rename(tmp, final_path);
  } catch (const IoError&) {
    try {
      env.remove_file(tmp);
    } catch (const IoError&) {  // the rename's error is the one to report
    }
    throw;
  }
  env.sync_dir(store);
  crash_point("checkpoint.after_rename");
}

// Magic, header CRC, then the major version: as for segments (check_segment_header).
std::string_view check_checkpoint(std::string_view data, const std::string& path, CheckpointHeader& header,
                                  std::uint32_t major) {
  if (data.size() < kCheckpointHeaderBytes) {
    throw CorruptionError(path + ": checkpoint header incomplete (" + std::to_string(data.size()) + " bytes)");
  }
  const char* h = data.data();
  if (load<std::uint32_t>(h) != kCheckpointMagic) throw CorruptionError(path + ": not a checkpoint (bad magic)");
  if (load<std::uint32_t>(h + 44) != crc32c(h, 44)) {
    throw CorruptionError(path + ": checkpoint header checksum mismatch");
  }
  const auto version = load<std::uint32_t>(h + 4);
  if (version != major) {
    throw UnsupportedFormatError(path + ": checkpoint of format major version " + std::to_string(version) +
                                 "; expected major version " + std::to_string(major) +
                                 ". Nothing was changed: open the store with a build of its version, or " +
                                 "convert it with the migrator (engram migrate; docs/format.md, Versioning)");
  }
  header.lsn = load<std::uint64_t>(h + 8);
  header.minor = load<std::uint32_t>(h + 36);
  const auto len = load<std::uint64_t>(h + 24);
  if (data.size() - kCheckpointHeaderBytes != len) {
    throw CorruptionError(path + ": checkpoint body is " + std::to_string(data.size() - kCheckpointHeaderBytes) +
                          " bytes; its header says " + std::to_string(len));
  }
  const std::string_view body = data.substr(kCheckpointHeaderBytes);
  if (crc32c(body) != load<std::uint32_t>(h + 32)) throw CorruptionError(path + ": checkpoint body checksum mismatch");
  return body;
}

std::uint32_t prepare_store(Env& env, const std::string& store) {
  // A new store directory's own entry must be durable too: sync its parent.
  if (env.create_dir(store)) env.sync_dir(parent_dir(store));
  const bool new_wal = env.create_dir(store + "/wal");
  const std::string fmt = store + "/FORMAT";
  if (env.exists(fmt)) {
    const std::uint32_t major = check_format_file(store, env.read_file(fmt));
    if (new_wal) env.sync_dir(store);
    return major;
  }
  // A new store, or a directory that is not one: refuse to adopt someone else's files.
  if (!list_segments(env, store + "/wal").empty() || !list_checkpoints(env, store).empty()) {
    throw StorageError("store " + store + " has WAL or checkpoint files but no FORMAT file; refusing to guess its " +
                       "format version");
  }
  env.write_whole_file(fmt, format_line(kFormatVersion), true);
  env.sync_dir(store);
  return kFormatVersion;
}

std::uint32_t read_format_version(Env& env, const std::string& store) {
  const std::string fmt = store + "/FORMAT";
  if (!env.exists(fmt)) throw StorageError("store " + store + " has no FORMAT file: it is not an engram store");
  return check_format_file(store, env.read_file(fmt));
}

void write_format_file(Env& env, const std::string& store, std::uint32_t major) {
  const std::string tmp = store + "/FORMAT.tmp";
  env.write_whole_file(tmp, format_line(major), true);
  env.rename(tmp, store + "/FORMAT");
  env.sync_dir(store);
}

std::unique_ptr<FileLock> lock_store(Env& env, const std::string& store) {
  try {
    return env.lock_file(store + "/LOCK");
  } catch (const IoError& e) {
    if (e.code() != EWOULDBLOCK) throw;
    throw StorageError("store " + store + " is already open in another engine or process (" + e.what() +
                       "); close that one first");
  }
}

PreviousRun read_previous_run(Env& env, const std::string& store) {
  PreviousRun r;
  const std::string path = store + "/LOCK";
  std::string text;
  try {
    if (!env.exists(path)) return r;
    text = env.read_file(path);
  } catch (const IoError&) {  // unreadable: treated as clean; the WAL replay still runs
    return r;
  }
  if (text.find_first_not_of(std::string_view("\0 \n", 3)) == std::string::npos) return r;
  r.unclean = true;
  // Lines "key=value" padded with spaces (RunMarker); anything else is ignored.
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + at, end - at);
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    if (line.rfind("pid=", 0) == 0) {
      try {
        r.pid = std::stoll(std::string(line.substr(4)));
      } catch (const std::exception&) {  // a damaged pid line: the pid stays unknown (0)
      }
    } else if (line.rfind("phase=", 0) == 0) {
      // Kept to the characters a phase name uses: it becomes a metric label and a log field.
      for (const char c : line.substr(6, 64)) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-') r.phase.push_back(c);
      }
    }
    at = end + 1;
  }
  return r;
}

namespace {
constexpr std::size_t kMarkerBytes = 128;  // fixed: each rewrite covers the previous text
}

RunMarker::RunMarker(Env& env, std::string path) : pid_line_("pid=" + std::to_string(::getpid()) + "\n") {
  MutexLock lock(mu_);
  try {
    file_ = env.create_file(path);  // same inode: the flock taken on it stays
  } catch (const IoError&) {        // no marker: a later crash is then not reported as such
    return;
  }
  write_locked("serving");
}

void RunMarker::write_locked(std::string_view phase) noexcept {
  if (!file_) return;
  std::string text = pid_line_ + "phase=" + std::string(phase.substr(0, 64)) + "\n";
  text.resize(kMarkerBytes - 1, ' ');
  text.push_back('\n');
  try {
    file_->write_at(0, text);
  } catch (const IoError&) {
    file_.reset();
  }
}

void RunMarker::set_phase(std::string_view phase) noexcept {
  MutexLock lock(mu_);
  write_locked(phase);
}

void RunMarker::close() noexcept {
  MutexLock lock(mu_);
  if (!file_) return;
  try {
    file_->truncate(0);
    file_->sync();
    file_->close();
  } catch (const IoError&) {  // the next open then reports an unclean shutdown: the safe side
  }
  file_.reset();
}

std::string quarantine_file(Env& env, const std::string& store, const std::string& path, std::uint64_t offset,
                            const std::string& reason, bool keep_original) {
  const std::string qdir = store + "/quarantine";
  env.create_dir(qdir);
  std::string target = qdir + "/" + base_name(path);
  for (int i = 1; env.exists(target) && i < 1000; ++i) target = qdir + "/" + base_name(path) + "." + std::to_string(i);
  if (keep_original) {
    env.write_whole_file(target, env.read_file(path), true);
  } else {
    try {
      env.rename(path, target);
    } catch (const IoError& e) {
      throw StorageError("cannot move " + path + " to quarantine: " + e.what());
    }
  }
  const std::string report =
      "file: " + path + "\noffset: " + std::to_string(offset) + "\nreason: " + reason +
      "\nquarantined_at_ns: " + std::to_string(wall_clock_ns()) +
      "\naction: " + (keep_original ? "copied; the original was cut to its valid prefix" : "moved aside") + "\n";
  env.write_whole_file(target + ".report.txt", report, true);
  env.sync_dir(qdir);
  env.sync_dir(store);
  return target;
}

bool VerifyReport::ok() const noexcept {
  return std::none_of(issues.begin(), issues.end(), [](const VerifyIssue& i) { return i.severity == "error"; });
}

VerifyReport verify_store(const std::string& store, Env& env) {
  VerifyReport r;
  const auto error = [&](const std::string& file, std::uint64_t off, const std::string& d) {
    r.issues.push_back({"error", file, off, d});
  };
  // Records of types this build does not know: skippable, or an error (docs/format.md, Versioning).
  std::uint32_t major = kFormatVersion;  // the store's, from FORMAT (a version-1 store awaiting migration too)
  const auto check_types = [&](const std::string& file, std::uint32_t minor) {
    return [&error, &file, minor, &major](const FrameHeader& h, std::string_view) {
      try {
        check_unknown_record(h, minor, file, major);
      } catch (const StorageError& e) {
        error(file, 0, e.what());
      }
    };
  };
  if (!env.is_directory(store)) {
    error(store, 0, "not a directory");
    return r;
  }
  try {
    major = check_format_file(store, env.read_file(store + "/FORMAT"));
  } catch (const StorageError& e) {
    error(store + "/FORMAT", 0, e.what());
  }
  std::uint64_t ckpt_lsn = 0;
  for (const CheckpointFile& c : list_checkpoints(env, store)) {
    ++r.checkpoints;
    try {
      const std::string data = env.read_file(c.path);
      CheckpointHeader hdr;
      const std::string_view body = check_checkpoint(data, c.path, hdr, major);
      const std::uint64_t lsn = hdr.lsn;
      if (lsn != c.lsn) error(c.path, 8, "header LSN " + std::to_string(lsn) + " does not match the file name");
      const ScanResult s = scan_frames(body, 0, 1, check_types(c.path, hdr.minor));
      if (s.status != ScanResult::Status::Ok) {
        error(c.path, kCheckpointHeaderBytes + s.error_offset, "checkpoint body: " + s.error);
      } else {
        ckpt_lsn = std::max(ckpt_lsn, lsn);
      }
    } catch (const EngramError& e) {
      error(c.path, 0, e.what());
    }
  }
  const auto segs = list_segments(env, store + "/wal");
  std::uint64_t expect = 0;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const SegmentFile& s = segs[i];
    ++r.segments;
    try {
      const std::string data = env.read_file(s.path);
      const SegmentHeader hdr = check_segment_header(data, s.path, major);
      const std::uint64_t first = hdr.first_lsn;
      if (first != s.first_lsn) error(s.path, 8, "header first LSN does not match the file name");
      if (expect != 0 && first != expect) {
        error(s.path, 0,
              "LSN gap: the previous segment ends at " + std::to_string(expect - 1) + ", this one starts at " +
                  std::to_string(first));
      }
      if (expect == 0 && ckpt_lsn != 0 && first > ckpt_lsn + 1) {
        error(s.path, 0,
              "LSNs " + std::to_string(ckpt_lsn + 1) + ".." + std::to_string(first - 1) +
                  " are in neither a checkpoint nor a segment");
      }
      const ScanResult sc = scan_frames(data, kSegmentHeaderBytes, first, check_types(s.path, hdr.minor));
      r.records += sc.records;
      if (sc.records > 0) r.last_lsn = std::max(r.last_lsn, sc.last_lsn);
      expect = sc.records > 0 ? sc.last_lsn + 1 : first;
      if (sc.status == ScanResult::Status::Corrupt) {
        error(s.path, sc.error_offset, sc.error);
      } else if (sc.status == ScanResult::Status::TornTail) {
        const bool last = i + 1 == segs.size();
        r.issues.push_back({last ? "warning" : "error", s.path, sc.error_offset,
                            std::string(last ? "torn tail (recovery truncates it): "
                                             : "segment ends in a torn record but is not the last: ") +
                                sc.error});
      }
    } catch (const EngramError& e) {
      const bool last = i + 1 == segs.size();
      // A crash while creating the newest segment can leave its header incomplete.
      r.issues.push_back({last && std::string(e.what()).find("incomplete") != std::string::npos ? "warning" : "error",
                          s.path, 0, e.what()});
    }
  }
  r.last_lsn = std::max(r.last_lsn, ckpt_lsn);
  return r;
}

}  // namespace engram
