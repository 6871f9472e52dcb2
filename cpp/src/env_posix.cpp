// The POSIX file system behind Env::posix() (env.hpp), and Env::default_env() of a release build.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engram/env.hpp"

namespace engram {
namespace {

[[noreturn]] void fail(int err, const std::string& what, const std::string& path) {
  throw IoError(err, "cannot " + what + " " + path + ": " + std::strerror(err));
}

class PosixFile final : public WritableFile {
 public:
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& path() const noexcept override { return path_; }

  void write_at(std::uint64_t offset, std::string_view data) override {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t w = ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (w < 0) {
        if (errno == EINTR) continue;
        fail(errno, "write", path_);
      }
      done += static_cast<std::size_t>(w);
    }
  }
  void sync() override {
    if (::fdatasync(fd_) != 0) fail(errno, "sync", path_);
  }
  void truncate(std::uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail(errno, "truncate", path_);
  }
  void close() override {
    if (fd_ < 0) return;
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0 && errno != EINTR) fail(errno, "close", path_);
  }

 private:
  std::string path_;
  int fd_;
};

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override { ::close(fd_); }  // releases the flock

 private:
  int fd_;
};

class PosixEnv final : public Env {
 public:
  std::unique_ptr<WritableFile> create_file(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(errno, "create", path);
    return std::make_unique<PosixFile>(path, fd);
  }

  std::string read_file(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(errno, "open", path);
    std::string out;
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        fail(err, "read", path);
      }
      if (n == 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
  }

  std::string read_range(const std::string& path, std::uint64_t offset, std::size_t n) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(errno, "open", path);
    std::string out(n, '\0');
    std::size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        fail(err, "read", path);
      }
      if (r == 0) break;
      done += static_cast<std::size_t>(r);
    }
    ::close(fd);
    out.resize(done);
    return out;
  }

  bool exists(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }

  bool is_directory(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  std::uint64_t file_size(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) fail(errno, "stat", path);
    return static_cast<std::uint64_t>(st.st_size);
  }

  std::vector<std::string> list_dir(const std::string& dir) override {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return out;
      fail(errno, "list directory", dir);
    }
    while (const dirent* e = ::readdir(d)) {
      const std::string_view n = e->d_name;
      if (n != "." && n != "..") out.emplace_back(n);
    }
    ::closedir(d);
    return out;
  }

  bool create_dir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) == 0) return true;
    if (errno == EEXIST) return false;
    fail(errno, "create directory", dir);
  }

  void sync_dir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail(errno, "open directory", dir);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) fail(err, "sync directory", dir);
  }

  void rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) fail(errno, "rename " + from + " to", to);
  }

  void remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) fail(errno, "remove", path);
  }

  void truncate_file(const std::string& path, std::uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) fail(errno, "truncate", path);
  }

  void sync_file(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(errno, "open", path);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) fail(err, "sync", path);
  }

  std::unique_ptr<FileLock> lock_file(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) fail(errno, "open", path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      fail(err, "lock", path);
    }
    return std::make_unique<PosixLock>(fd);
  }
};

}  // namespace

Env::DiskSpace Env::disk_space(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) {
    const int err = errno;
    throw IoError(err, "statvfs " + path + ": " + std::strerror(err));
  }
  return DiskSpace{static_cast<std::uint64_t>(st.f_blocks) * st.f_frsize,
                   static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize};
}

Env& Env::posix() {
  static PosixEnv env;
  return env;
}

#ifndef ENGRAM_FAULT_INJECTION
Env& Env::default_env() { return posix(); }  // the test build's is in faults/fault_env.cpp
#endif

void Env::write_whole_file(const std::string& path, std::string_view data, bool sync) {
  std::unique_ptr<WritableFile> f = create_file(path);
  try {
    f->write_at(0, data);
    if (sync) f->sync();
    f->close();
  } catch (const IoError&) {
    f.reset();
    try {
      remove_file(path);
    } catch (const IoError&) {  // the write's error is the one to report
    }
    throw;
  }
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace engram
