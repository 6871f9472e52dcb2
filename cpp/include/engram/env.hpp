// The file-system seam: every file operation of the durable store (WAL, checkpoints, recovery,
// quarantine, verification, the backup listing) goes through an Env, as in LevelDB.
//
// Env::posix() is the real file system. Env::default_env() is what a store uses unless its
// StoreOptions name another: POSIX in a release build; in the test build (ENGRAM_FAULT_INJECTION,
// fault.hpp) a FaultEnv over POSIX that applies the process's fault plan (I/O errors by
// operation and path). Tests build their own FaultEnv to simulate power loss (fault_env.hpp).
//
// Every operation throws IoError (a StorageError carrying errno and naming the path) on failure.
// The WAL calls the seam once per batch (write_at, sync), never per record, so the virtual call
// is invisible next to the write and the fdatasync it wraps.
//
// Thread safety: Env methods may be called from any thread; a WritableFile is used by one thread
// at a time (the WAL holds its I/O mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engram/errors.hpp"

namespace engram {

// A failed file operation. code() is the errno (ENOSPC, EIO, ...).
class IoError : public StorageError {
 public:
  IoError(int code, const std::string& what) : StorageError(what), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// A file open for writing at explicit offsets. Not thread-safe: one user at a time.
class WritableFile {
 public:
  virtual ~WritableFile() = default;  // closes; errors on this implicit close are ignored
  virtual const std::string& path() const noexcept = 0;
  // Writes all of data at offset (short writes are continued).
  virtual void write_at(std::uint64_t offset, std::string_view data) = 0;
  // fdatasync: the data and the size needed to read it back are durable when this returns.
  virtual void sync() = 0;
  virtual void truncate(std::uint64_t size) = 0;
  virtual void close() = 0;  // idempotent
};

// An exclusive lock on a file, held until destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  static Env& posix();
  static Env& default_env();

  // Creates (or truncates) path for writing.
  virtual std::unique_ptr<WritableFile> create_file(const std::string& path) = 0;
  // The whole file.
  virtual std::string read_file(const std::string& path) = 0;
  // Up to n bytes from offset (pread); shorter at the end of the file.
  virtual std::string read_range(const std::string& path, std::uint64_t offset, std::size_t n) = 0;
  virtual bool exists(const std::string& path) = 0;
  virtual bool is_directory(const std::string& path) = 0;
  virtual std::uint64_t file_size(const std::string& path) = 0;
  // Entry names of dir, without "." and ".."; empty when dir does not exist.
  virtual std::vector<std::string> list_dir(const std::string& dir) = 0;
  // Creates dir; returns false when it already existed.
  virtual bool create_dir(const std::string& dir) = 0;
  // fsync of a directory: entries created, renamed or removed in it are durable after it.
  virtual void sync_dir(const std::string& dir) = 0;
  virtual void rename(const std::string& from, const std::string& to) = 0;
  virtual void remove_file(const std::string& path) = 0;
  virtual void truncate_file(const std::string& path, std::uint64_t size) = 0;
  // fsync of a file by name (after truncate_file, which is otherwise not durable).
  virtual void sync_file(const std::string& path) = 0;
  // flock(LOCK_EX | LOCK_NB) on path (created if missing); IoError(EWOULDBLOCK) when held.
  virtual std::unique_ptr<FileLock> lock_file(const std::string& path) = 0;
  // The size of the file system holding path and what is left of it for this process
  // (statvfs: f_blocks and f_bavail), for the WAL's disk guard. IoError on failure.
  struct DiskSpace {
    std::uint64_t total = 0;
    std::uint64_t available = 0;
  };
  virtual DiskSpace disk_space(const std::string& path);

  // Conveniences over the operations above.
  // Creates path with data, syncs it and closes it; removes the partial file on failure.
  void write_whole_file(const std::string& path, std::string_view data, bool sync);
};

std::string parent_dir(const std::string& path);
std::string base_name(const std::string& path);

}  // namespace engram
