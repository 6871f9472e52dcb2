#include "engram/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
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

void mkdir_p(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    throw StorageError("cannot create directory " + dir + ": " + std::strerror(errno));
  }
}

void write_whole(const std::string& path, std::string_view data, bool sync) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw StorageError("cannot create " + path + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      throw StorageError("cannot write " + path + ": " + std::strerror(err) +
                         (err == ENOSPC ? " (disk full: free space and retry)" : ""));
    }
    done += static_cast<std::size_t>(w);
  }
  if (sync && ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    throw StorageError("cannot sync " + path + ": " + std::strerror(err));
  }
  ::close(fd);
}

std::string basename_of(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace

std::string checkpoint_name(std::uint64_t lsn) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "checkpoint-%020" PRIu64 ".ckpt", lsn);
  return buf;
}

std::vector<CheckpointFile> list_checkpoints(const std::string& store) {
  std::vector<CheckpointFile> out;
  DIR* d = ::opendir(store.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() != 36 || n.rfind("checkpoint-", 0) != 0 || n.substr(31) != ".ckpt") continue;
    if (!std::all_of(n.begin() + 11, n.begin() + 31, [](char c) { return c >= '0' && c <= '9'; })) continue;
    out.push_back({std::stoull(n.substr(11, 20)), store + "/" + n});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.lsn < b.lsn; });
  return out;
}

void write_checkpoint_file(const std::string& store, std::uint64_t lsn, std::string_view body) {
  std::string file(kCheckpointHeaderBytes, '\0');
  char* h = file.data();
  const std::uint32_t magic = kCheckpointMagic, version = kFormatVersion, body_crc = crc32c(body);
  const std::int64_t now = wall_clock_ns();
  const std::uint64_t len = body.size();
  std::memcpy(h, &magic, 4);
  std::memcpy(h + 4, &version, 4);
  std::memcpy(h + 8, &lsn, 8);
  std::memcpy(h + 16, &now, 8);
  std::memcpy(h + 24, &len, 8);
  std::memcpy(h + 32, &body_crc, 4);
  const std::uint32_t hcrc = crc32c(h, 44);
  std::memcpy(h + 44, &hcrc, 4);
  file.append(body);
  const std::string final_path = store + "/" + checkpoint_name(lsn);
  const std::string tmp = final_path + ".tmp";
  write_whole(tmp, file, true);
  crash_point("checkpoint.before_rename");
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw StorageError("cannot rename " + tmp + " to " + final_path + ": " + std::strerror(err));
  }
  fsync_dir(store);
  crash_point("checkpoint.after_rename");
}

std::string_view check_checkpoint(std::string_view data, const std::string& path, std::uint64_t& lsn) {
  if (data.size() < kCheckpointHeaderBytes) {
    throw CorruptionError(path + ": checkpoint header incomplete (" + std::to_string(data.size()) + " bytes)");
  }
  const char* h = data.data();
  if (load<std::uint32_t>(h) != kCheckpointMagic) throw CorruptionError(path + ": not a checkpoint (bad magic)");
  if (load<std::uint32_t>(h + 44) != crc32c(h, 44))
    throw CorruptionError(path + ": checkpoint header checksum mismatch");
  const auto version = load<std::uint32_t>(h + 4);
  if (version != kFormatVersion) {
    throw CorruptionError(path + ": checkpoint format version " + std::to_string(version) +
                          " is not supported; this build reads version " + std::to_string(kFormatVersion));
  }
  lsn = load<std::uint64_t>(h + 8);
  const auto len = load<std::uint64_t>(h + 24);
  if (data.size() - kCheckpointHeaderBytes != len) {
    throw CorruptionError(path + ": checkpoint body is " + std::to_string(data.size() - kCheckpointHeaderBytes) +
                          " bytes; its header says " + std::to_string(len));
  }
  const std::string_view body = data.substr(kCheckpointHeaderBytes);
  if (crc32c(body) != load<std::uint32_t>(h + 32)) throw CorruptionError(path + ": checkpoint body checksum mismatch");
  return body;
}

void prepare_store(const std::string& store) {
  mkdir_p(store);
  mkdir_p(store + "/wal");
  const std::string fmt = store + "/FORMAT";
  const std::string expected = "engram-store " + std::to_string(kFormatVersion) + "\n";
  struct stat st {};
  if (::stat(fmt.c_str(), &st) == 0) {
    const std::string have = read_file(fmt);
    if (have != expected) {
      std::string shown = preview(have, 64);
      while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r')) shown.pop_back();
      throw StorageError("store " + store + " has format '" + shown + "'; this build reads 'engram-store " +
                         std::to_string(kFormatVersion) + "' only and will not guess: open it with the version " +
                         "that wrote it, or restore a backup made in this format");
    }
    return;
  }
  // A new store, or a directory that is not one: refuse to adopt someone else's files.
  if (!list_segments(store + "/wal").empty() || !list_checkpoints(store).empty()) {
    throw StorageError("store " + store + " has WAL or checkpoint files but no FORMAT file; refusing to guess its " +
                       "format version");
  }
  write_whole(fmt, expected, true);
  fsync_dir(store);
}

int lock_store(const std::string& store) {
  const std::string path = store + "/LOCK";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw StorageError("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    throw StorageError("store " + store + " is already open in another engine or process (" + std::strerror(err) +
                       "); close that one first");
  }
  return fd;
}

std::string quarantine_file(const std::string& store, const std::string& path, std::uint64_t offset,
                            const std::string& reason, bool keep_original) {
  const std::string qdir = store + "/quarantine";
  mkdir_p(qdir);
  std::string target = qdir + "/" + basename_of(path);
  for (int i = 1; ::access(target.c_str(), F_OK) == 0 && i < 1000; ++i) {
    target = qdir + "/" + basename_of(path) + "." + std::to_string(i);
  }
  if (keep_original) {
    write_whole(target, read_file(path), true);
  } else if (::rename(path.c_str(), target.c_str()) != 0) {
    throw StorageError("cannot move " + path + " to quarantine: " + std::strerror(errno));
  }
  const std::string report =
      "file: " + path + "\noffset: " + std::to_string(offset) + "\nreason: " + reason +
      "\nquarantined_at_ns: " + std::to_string(wall_clock_ns()) +
      "\naction: " + (keep_original ? "copied; the original was cut to its valid prefix" : "moved aside") + "\n";
  write_whole(target + ".report.txt", report, true);
  fsync_dir(qdir);
  fsync_dir(store);
  return target;
}

bool VerifyReport::ok() const noexcept {
  return std::none_of(issues.begin(), issues.end(), [](const VerifyIssue& i) { return i.severity == "error"; });
}

VerifyReport verify_store(const std::string& store) {
  VerifyReport r;
  const auto error = [&](const std::string& file, std::uint64_t off, const std::string& d) {
    r.issues.push_back({"error", file, off, d});
  };
  struct stat st {};
  if (::stat(store.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    error(store, 0, "not a directory");
    return r;
  }
  try {
    const std::string have = read_file(store + "/FORMAT");
    if (have != "engram-store " + std::to_string(kFormatVersion) + "\n") {
      error(store + "/FORMAT", 0, "unsupported store format");
    }
  } catch (const StorageError& e) {
    error(store + "/FORMAT", 0, e.what());
  }
  std::uint64_t ckpt_lsn = 0;
  for (const CheckpointFile& c : list_checkpoints(store)) {
    ++r.checkpoints;
    try {
      const std::string data = read_file(c.path);
      std::uint64_t lsn = 0;
      const std::string_view body = check_checkpoint(data, c.path, lsn);
      if (lsn != c.lsn) error(c.path, 8, "header LSN " + std::to_string(lsn) + " does not match the file name");
      const ScanResult s = scan_frames(body, 0, 1, [](const FrameHeader&, std::string_view) {});
      if (s.status != ScanResult::Status::Ok) {
        error(c.path, kCheckpointHeaderBytes + s.error_offset, "checkpoint body: " + s.error);
      } else {
        ckpt_lsn = std::max(ckpt_lsn, lsn);
      }
    } catch (const EngramError& e) {
      error(c.path, 0, e.what());
    }
  }
  const auto segs = list_segments(store + "/wal");
  std::uint64_t expect = 0;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const SegmentFile& s = segs[i];
    ++r.segments;
    try {
      const std::string data = read_file(s.path);
      const std::uint64_t first = check_segment_header(data, s.path);
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
      const ScanResult sc = scan_frames(data, kSegmentHeaderBytes, first, [](const FrameHeader&, std::string_view) {});
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
