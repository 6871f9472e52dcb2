// The file-system seam (env.hpp) on POSIX, and what each build flavour carries (fault.hpp).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "engram/crash.hpp"
#include "engram/engine.hpp"
#include "engram/env.hpp"
#include "engram/errors.hpp"
#include "engram/fault.hpp"
#include "store_test_util.hpp"

namespace engram {
namespace {

TEST(PosixEnv, WritesAtOffsetsReadsRenamesAndLists) {
  test::ScratchDir dir("env");
  Env& env = Env::posix();
  const std::string a = dir.path() + "/a", b = dir.path() + "/b";
  {
    auto f = env.create_file(a);
    f->write_at(0, "hello world");
    f->write_at(6, "WORLD!");
    f->sync();
    f->truncate(8);
    f->close();
    f->close();  // idempotent
  }
  EXPECT_EQ(env.read_file(a), "hello WO");
  EXPECT_EQ(env.read_range(a, 6, 100), "WO");
  EXPECT_EQ(env.file_size(a), 8u);
  env.rename(a, b);
  EXPECT_FALSE(env.exists(a));
  EXPECT_EQ(env.list_dir(dir.path()), std::vector<std::string>{"b"});
  env.truncate_file(b, 5);
  env.sync_file(b);
  EXPECT_EQ(env.read_file(b), "hello");
  EXPECT_TRUE(env.create_dir(dir.path() + "/sub"));
  EXPECT_FALSE(env.create_dir(dir.path() + "/sub"));
  EXPECT_TRUE(env.is_directory(dir.path() + "/sub"));
  env.sync_dir(dir.path());
  env.remove_file(b);
  EXPECT_TRUE(env.list_dir(dir.path() + "/missing").empty());
}

// Env::posix() with a file system whose fill the test sets (the disk guard's input).
class FillEnv : public Env {
 public:
  std::atomic<double> used{0.10};
  std::unique_ptr<WritableFile> create_file(const std::string& p) override { return b_.create_file(p); }
  std::string read_file(const std::string& p) override { return b_.read_file(p); }
  std::string read_range(const std::string& p, std::uint64_t o, std::size_t n) override {
    return b_.read_range(p, o, n);
  }
  bool exists(const std::string& p) override { return b_.exists(p); }
  bool is_directory(const std::string& p) override { return b_.is_directory(p); }
  std::uint64_t file_size(const std::string& p) override { return b_.file_size(p); }
  std::vector<std::string> list_dir(const std::string& d) override { return b_.list_dir(d); }
  bool create_dir(const std::string& d) override { return b_.create_dir(d); }
  void sync_dir(const std::string& d) override { b_.sync_dir(d); }
  void rename(const std::string& f, const std::string& t) override { b_.rename(f, t); }
  void remove_file(const std::string& p) override { b_.remove_file(p); }
  void truncate_file(const std::string& p, std::uint64_t n) override { b_.truncate_file(p, n); }
  void sync_file(const std::string& p) override { b_.sync_file(p); }
  std::unique_ptr<FileLock> lock_file(const std::string& p) override { return b_.lock_file(p); }
  DiskSpace disk_space(const std::string&) override {
    return DiskSpace{1000000, static_cast<std::uint64_t>(1000000 * (1.0 - used.load()))};
  }

 private:
  Env& b_ = Env::posix();
};

TEST(DiskGuard, RefusesWritesFromTheLimitKeepsReadsAndResumes) {
  test::ScratchDir dir("diskguard");
  auto env = std::make_shared<FillEnv>();
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine eng(cfg);
  eng.open_store(test::store_options(dir.path() + "/s", env));
  auto sp = eng.create_space("a");
  const auto kept = test::remember_key(*sp, 1);
  env->used = 0.97;
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // past the guard's 10 ms between readings
  try {
    test::remember_key(*sp, 2);
    FAIL() << "a write at 97% was accepted";
  } catch (const StorageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("disk full"), std::string::npos) << what;
    EXPECT_NE(what.find("97.0% used"), std::string::npos) << what;
    EXPECT_NE(what.find("95%"), std::string::npos) << what;
  }
  EXPECT_EQ(sp->size(), 1u);             // nothing half-stored
  EXPECT_NO_THROW((void)sp->get(kept));  // reads go on
  const std::string prom = eng.prometheus();
  EXPECT_NE(prom.find("engram_wal_disk_full_refusals_total 1"), std::string::npos) << prom;
  const auto at = prom.find("\nengram_wal_disk_used_ratio ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_NEAR(std::stod(prom.substr(at + 28)), 0.97, 1e-9);
  env->used = 0.90;
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_NO_THROW(test::remember_key(*sp, 3));
  eng.close();
  StoreOptions bad = test::store_options(dir.path() + "/t");
  bad.disk_full_fraction = 0.2;
  EXPECT_THROW(validate(bad), InvalidInputError);
}

TEST(PosixEnv, ReportsDiskSpace) {
  test::ScratchDir dir("env");
  const Env::DiskSpace d = Env::posix().disk_space(dir.path());
  EXPECT_GT(d.total, 0u);
  EXPECT_LE(d.available, d.total);
  EXPECT_THROW(Env::posix().disk_space(dir.path() + "/missing/dir"), IoError);
}

TEST(PosixEnv, ErrorsCarryErrnoAndPath) {
  test::ScratchDir dir("env");
  Env& env = Env::posix();
  const std::string missing = dir.path() + "/nope";
  try {
    env.read_file(missing);
    FAIL() << "reading a missing file succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), ENOENT);
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  EXPECT_THROW(env.rename(missing, dir.path() + "/x"), StorageError);
  EXPECT_THROW(env.create_file(dir.path() + "/no/such/dir/file"), IoError);
}

TEST(PosixEnv, FileLockIsExclusiveUntilReleased) {
  test::ScratchDir dir("env");
  Env& env = Env::posix();
  auto held = env.lock_file(dir.path() + "/LOCK");
  try {
    env.lock_file(dir.path() + "/LOCK");
    FAIL() << "a held lock was taken twice";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), EWOULDBLOCK);
  }
  held.reset();
  EXPECT_NE(env.lock_file(dir.path() + "/LOCK"), nullptr);
}

TEST(PosixEnv, WriteWholeFileRemovesThePartialFileOnFailure) {
  test::ScratchDir dir("env");
  Env& env = Env::posix();
  env.write_whole_file(dir.path() + "/f", "data", true);
  EXPECT_EQ(env.read_file(dir.path() + "/f"), "data");
  EXPECT_THROW(env.write_whole_file(dir.path() + "/missing-dir/f", "data", true), IoError);
}

#ifndef ENGRAM_FAULT_INJECTION

// A release build carries no fault injection: crash points are empty, no variable is read, and
// the default Env is the real file system.
TEST(BuildFlavour, ReleaseIgnoresFaultVariables) {
  static_assert(!build_info().fault_injection);
  EXPECT_STREQ(build_info().flavour, "release");
  EXPECT_EQ(&Env::default_env(), &Env::posix());
  ::setenv("ENGRAM_CRASH_AT", "wal.after_fsync", 1);
  ::setenv("ENGRAM_FAULTS", "crash=wal.before_fsync;ioerror=*:EIO", 1);
  EXPECT_FALSE(crash_armed("wal.after_fsync"));
  crash_point("wal.after_fsync");  // would SIGKILL this process in the test build
  test::ScratchDir dir("release");
  EngineConfig cfg;
  cfg.space.dim = 4;
  {
    Engine eng(cfg);
    eng.open_store(test::store_options(dir.path() + "/s", nullptr, Durability::Fsync));
    auto sp = eng.create_space("a");
    for (std::uint64_t k = 0; k < 5; ++k) test::remember_key(*sp, k);  // would fail with EIO or die
    eng.close();
  }
  ::unsetenv("ENGRAM_CRASH_AT");
  ::unsetenv("ENGRAM_FAULTS");
}

#else

TEST(BuildFlavour, TestBuildSaysSo) {
  static_assert(build_info().fault_injection);
  EXPECT_STREQ(build_info().flavour, "test");
  EXPECT_NE(&Env::default_env(), &Env::posix());  // the process plan's FaultEnv
}

#endif

}  // namespace
}  // namespace engram
