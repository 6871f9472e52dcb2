// The file-system seam (env.hpp) on POSIX, and what each build flavour carries (fault.hpp).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>

#include "engram/crash.hpp"
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
