// The test build's fault injection: plans (fault.hpp, docs/faults.md), I/O errors and power
// loss through FaultEnv (fault_env.hpp), and what the engine does under them.
#ifdef ENGRAM_FAULT_INJECTION

#include <gtest/gtest.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <set>
#include <thread>

#include "engram/errors.hpp"
#include "engram/fault.hpp"
#include "engram/fault_env.hpp"
#include "store_test_util.hpp"

namespace engram {
namespace {

namespace fs = std::filesystem;

// Leaves no process plan behind, whatever the test does.
struct PlanGuard {
  PlanGuard() { faults::clear_plan(); }
  ~PlanGuard() { faults::clear_plan(); }
};

std::uint64_t fired(const std::string& rule_prefix) {
  for (const auto& r : faults::stats()) {
    if (r.rule.rfind(rule_prefix, 0) == 0) return r.fired;
  }
  return ~0ull;
}

TEST(FaultPlan, ParsesEveryClauseKind) {
  PlanGuard g;
  faults::set_plan(
      " seed=7; crash=wal.after_fsync:3 ;ioerror=fdatasync:EIO:p=0.01;delay=search:200us+10us/s;leak=remember:1KiB;"
      "ioerror=write@*/wal/*:ENOSPC:partial:times=2;crash=consolidation.*:after=5:p=0.5");
  EXPECT_EQ(faults::stats().size(), 6u);
  EXPECT_EQ(faults::plan_text().rfind("seed=7;crash=wal.after_fsync:3;", 0), 0u) << faults::plan_text();
  faults::set_plan("");
  EXPECT_TRUE(faults::stats().empty());
}

TEST(FaultPlan, RejectsMalformedClausesWithTheReason) {
  PlanGuard g;
  const std::pair<const char*, const char*> bad[] = {
      {"crash=wal.afterfsync", "no site is named"},  // a typo must not disarm a test silently
      {"crash=wal.after_fsync:0", "counts from 1"},
      {"delay=search:200", "needs a unit"},
      {"delay=search:1ms+1ms/day", "per s, min or h"},
      {"leak=remember:0", "1 byte to 1 GiB"},
      {"ioerror=fsink:EIO", "unknown file operation"},
      {"ioerror=sync:EBADNESS", "unknown error"},
      {"ioerror=sync:EIO:p=2", "at most 1"},
      {"ioerror=sync:EIO:often", "unknown option"},
      {"explode=now", "unknown kind"},
      {"crash", "expected kind="},
  };
  for (const auto& [plan, why] : bad) {
    try {
      faults::set_plan(plan);
      ADD_FAILURE() << plan << " was accepted";
    } catch (const InvalidInputError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << plan << ": " << e.what();
    }
  }
  EXPECT_TRUE(faults::stats().empty());  // a rejected plan leaves the previous (none) in place
}

TEST(FaultPlan, TriggersCountCallsAndDrawFromTheSeed) {
  PlanGuard g;
  const auto firings = [](const std::string& plan, int calls) {
    faults::set_plan(plan);
    std::vector<int> at;
    for (int i = 1; i <= calls; ++i) {
      if (faults::io_fault(faults::IoOp::Sync, "/x").err != 0) at.push_back(i);
    }
    return at;
  };
  EXPECT_EQ(firings("ioerror=sync:EIO:nth=3", 10), std::vector<int>{3});
  EXPECT_EQ(firings("ioerror=sync:EIO:after=8", 10), (std::vector<int>{8, 9, 10}));
  EXPECT_EQ(firings("ioerror=sync:EIO:times=2", 10), (std::vector<int>{1, 2}));
  EXPECT_TRUE(firings("ioerror=write:EIO", 10).empty());      // another operation
  EXPECT_TRUE(firings("ioerror=sync@/y/*:EIO", 10).empty());  // another path
  const auto a = firings("seed=1;ioerror=sync:EIO:p=0.3", 2000);
  EXPECT_EQ(firings("seed=1;ioerror=sync:EIO:p=0.3", 2000), a);  // same seed, same calls
  EXPECT_NE(firings("seed=2;ioerror=sync:EIO:p=0.3", 2000), a);
  EXPECT_NEAR(static_cast<double>(a.size()) / 2000.0, 0.3, 0.05);
}

// Lower bounds only: a delay waits at least its length (it spins to its deadline), while an
// upper bound would fail whenever this shared machine preempts the test.
TEST(FaultPlan, DelayIsAddedAndGrows) {
  PlanGuard g;
  const auto timed = [] {
    const auto t0 = std::chrono::steady_clock::now();
    ENGRAM_FAULT_SITE("search");
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  faults::set_plan("delay=search:3ms");
  EXPECT_GE(timed(), 0.003);
  // 1 ms, growing by 20 ms per second of the plan's age: at least 5 ms after 0.2 s.
  faults::set_plan("delay=search:1ms+20ms/s");
  EXPECT_GE(timed(), 0.001);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_GE(timed(), 0.005);
  faults::set_plan("delay=search:5ms:nth=2");  // only the second call waits
  timed();
  EXPECT_GE(timed(), 0.005);
  timed();
  EXPECT_EQ(fired("delay=search"), 1u);
}

TEST(FaultPlan, LeakKeepsMemoryPerCall) {
  PlanGuard g;
  const std::uint64_t before = faults::leaked_bytes();
  faults::set_plan("leak=remember:64KiB");
  for (int i = 0; i < 10; ++i) ENGRAM_FAULT_SITE("remember");
  ENGRAM_FAULT_SITE("search");  // another site leaks nothing
  EXPECT_EQ(faults::leaked_bytes() - before, 10u * 64u * 1024u);
  EXPECT_EQ(fired("leak=remember"), 10u);
}

// Crash points are reached where the engine says: a rule that never fires still counts hits.
TEST(FaultPlan, CrashPointsAreReachedByTheWal) {
  PlanGuard g;
  faults::set_plan("crash=wal.before_fsync:1000000;crash=wal.after_fsync:1000000;crash=wal.torn_write:1000000");
  test::ScratchDir dir("crashpts");
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine eng(cfg);
  eng.open_store(test::store_options(dir.path() + "/s", nullptr, Durability::Fsync));
  auto sp = eng.create_space("a");
  for (std::uint64_t k = 0; k < 5; ++k) test::remember_key(*sp, k);
  for (const auto& r : faults::stats()) EXPECT_GE(r.hits, 6u) << r.rule;  // create_space + 5 writes
  eng.close();
}

// Runs this test binary again, alone, as a child killed at a crash point named in ENGRAM_FAULTS.
TEST(FaultPlan, CrashPointKillsAChildProcessAndTheStoreRecovers) {
  test::ScratchDir dir("crash");
  const std::string store = dir.path() + "/s";
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("ENGRAM_FAULTS=crash=wal.after_fsync:4");
  env_strings.push_back("ENGRAM_CRASH_TEST_STORE=" + store);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = fs::read_symlink("/proc/self/exe").string(), filter = "--gtest_filter=FaultPlanChild.*",
              disabled = "--gtest_also_run_disabled_tests";
  char* argv[] = {exe.data(), filter.data(), disabled.data(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data()), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited with status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine eng(cfg);
  eng.open_store(test::store_options(store));
  // The 4th sync is the third write's (after create_space's): it reached the disk, the crash
  // came before the write was acknowledged. Everything up to it is there, nothing after it.
  auto sp = eng.space("a");
  EXPECT_EQ(sp->size(), 3u);
  EXPECT_EQ(sp->get((std::int64_t{1} << 40) | 3).content, "2");
  EXPECT_EQ(eng.recovery_info().corruptions, 0u);
}

TEST(FaultPlanChild, DISABLED_WritesUntilKilled) {
  const char* store = std::getenv("ENGRAM_CRASH_TEST_STORE");
  ASSERT_NE(store, nullptr);
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine eng(cfg);
  eng.open_store(test::store_options(store, nullptr, Durability::Fsync));
  auto sp = eng.create_space("a");
  for (std::uint64_t k = 0; k < 100; ++k) test::remember_key(*sp, k);
  FAIL() << "the crash point did not kill this process";
}

// --- I/O errors through the engine ------------------------------------------------------------

TEST(FaultEnvErrors, WalWriteErrorsFailWritesThenRecover) {
  test::ScratchDir dir("ioerr");
  auto env = std::make_shared<FaultEnv>(Env::posix(), false);
  EngineConfig cfg;
  cfg.space.dim = 8;
  std::string before;
  std::vector<std::int64_t> acked;
  {
    Engine eng(cfg);
    eng.open_store(test::store_options(dir.path() + "/s", env, Durability::Fsync));
    auto sp = eng.create_space("a");
    for (std::uint64_t k = 0; k < 10; ++k) acked.push_back(test::remember_key(*sp, k));
    env->set_plan("ioerror=write@*/wal/*:ENOSPC:partial");
    try {
      test::remember_key(*sp, 100);
      FAIL() << "a write on a full disk succeeded";
    } catch (const StorageError& e) {
      EXPECT_NE(std::string(e.what()).find("disk full (ENOSPC)"), std::string::npos) << e.what();
    }
    EXPECT_THROW(sp->forget(acked[0]), StorageError);  // fails fast while the disk refuses
    EXPECT_EQ(sp->get(acked[1]).content, "1");         // reads keep working
    env->set_plan("");
    acked.push_back(test::remember_key(*sp, 101));
    EXPECT_FALSE(eng.wal_stats().failed);
    before = eng.content_snapshot();
    eng.close();
  }
  Engine eng(cfg);
  eng.open_store(test::store_options(dir.path() + "/s", env));
  EXPECT_EQ(eng.content_snapshot(), before);  // what memory showed is on disk, nothing half-written
  EXPECT_EQ(eng.recovery_info().corruptions, 0u);
  for (std::int64_t id : acked) EXPECT_TRUE(eng.space("a")->contains(id));
}

// Random EIO on syncs and writes: some writes fail, none that was acknowledged is lost, nothing
// is corrupt, and the state on disk is the state that was in memory.
TEST(FaultEnvErrors, RandomIoErrorsLoseNoAcknowledgedWrite) {
  for (const Durability mode : {Durability::Fsync, Durability::Group}) {
    test::ScratchDir dir("randio");
    auto env = std::make_shared<FaultEnv>(Env::posix(), false);
    EngineConfig cfg;
    cfg.space.dim = 8;
    std::vector<std::int64_t> acked;
    std::size_t failures = 0;
    std::string before;
    {
      Engine eng(cfg);
      eng.open_store(test::store_options(dir.path() + "/s", env, mode));
      auto sp = eng.create_space("a");
      env->set_plan("seed=11;ioerror=sync@*/wal/*:EIO:p=0.2;ioerror=write@*/wal/*:EIO:p=0.1:partial");
      for (std::uint64_t k = 0; k < 300; ++k) {
        try {
          acked.push_back(test::remember_key(*sp, k));
        } catch (const StorageError&) {
          ++failures;
        }
        if (k % 50 == 49) {
          try {
            eng.checkpoint();
          } catch (const StorageError&) {
          }
        }
      }
      env->set_plan("");
      eng.sync_wal();
      before = eng.content_snapshot();
      eng.close();
    }
    EXPECT_GT(failures, 10u);
    EXPECT_GT(acked.size(), 100u);
    Engine eng(cfg);
    eng.open_store(test::store_options(dir.path() + "/s", env));
    EXPECT_EQ(eng.recovery_info().corruptions, 0u);
    EXPECT_EQ(eng.content_snapshot(), before);
    auto sp = eng.space("a");
    for (std::int64_t id : acked) ASSERT_TRUE(sp->contains(id)) << id;
    EXPECT_TRUE(sp->validate().ok());
  }
}

TEST(FaultEnvErrors, CheckpointFailuresLeaveTheStoreWhole) {
  test::ScratchDir dir("ckpterr");
  auto env = std::make_shared<FaultEnv>(Env::posix(), false);
  EngineConfig cfg;
  cfg.space.dim = 8;
  std::string before;
  {
    Engine eng(cfg);
    eng.open_store(test::store_options(dir.path() + "/s", env));
    auto sp = eng.create_space("a");
    for (std::uint64_t k = 0; k < 20; ++k) test::remember_key(*sp, k);
    std::uint64_t key = 100;
    for (const char* plan : {"ioerror=write@*.ckpt.tmp:ENOSPC:partial", "ioerror=sync@*.ckpt.tmp:EIO",
                             "ioerror=rename@*.ckpt:EIO", "ioerror=syncdir:EIO"}) {
      env->set_plan(plan);
      EXPECT_THROW(eng.checkpoint(), StorageError) << plan;
      env->set_plan("");
      test::remember_key(*sp, key++);  // the engine stays writable
    }
    for (const std::string& n : env->list_dir(dir.path() + "/s")) {
      EXPECT_EQ(n.find(".tmp"), std::string::npos) << "a failed checkpoint left " << n;
    }
    before = eng.content_snapshot();
    eng.close();
  }
  Engine eng(cfg);
  eng.open_store(test::store_options(dir.path() + "/s", env));
  EXPECT_EQ(eng.content_snapshot(), before);
  EXPECT_EQ(eng.recovery_info().corruptions, 0u);
}

// A read error during recovery is an I/O error, not corruption: the open fails and nothing is
// quarantined or cut; once the disk reads again, everything is there.
TEST(FaultEnvErrors, ReadErrorsDuringRecoveryRefuseWithoutTouchingTheStore) {
  test::ScratchDir dir("readerr");
  auto env = std::make_shared<FaultEnv>(Env::posix(), false);
  EngineConfig cfg;
  cfg.space.dim = 8;
  std::string before;
  {
    Engine eng(cfg);
    eng.open_store(test::store_options(dir.path() + "/s", env));
    auto sp = eng.create_space("a");
    for (std::uint64_t k = 0; k < 20; ++k) test::remember_key(*sp, k);
    eng.checkpoint();
    for (std::uint64_t k = 20; k < 40; ++k) test::remember_key(*sp, k);
    before = eng.content_snapshot();
    eng.close();
  }
  for (const char* plan : {"ioerror=read@*/wal/*:EIO", "ioerror=read@*.ckpt:EIO", "ioerror=listdir:EIO"}) {
    env->set_plan(plan);
    Engine eng(cfg);
    try {
      eng.open_store(test::store_options(dir.path() + "/s", env));
      ADD_FAILURE() << plan << ": the store opened";
    } catch (const CorruptionError& e) {
      ADD_FAILURE() << plan << ": an I/O error was taken for corruption: " << e.what();
    } catch (const StorageError& e) {
      EXPECT_NE(std::string(e.what()).find("injected"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir.path() + "/s/quarantine")) << plan;
  }
  env->set_plan("");
  Engine eng(cfg);
  eng.open_store(test::store_options(dir.path() + "/s", env));
  EXPECT_EQ(eng.content_snapshot(), before);
}

// --- Power loss semantics of FaultEnv ---------------------------------------------------------

class PowerLossEnv : public ::testing::Test {
 protected:
  test::ScratchDir dir_{"plenv"};
  FaultEnv env_{Env::posix(), true};
  std::string p(const char* name) const { return dir_.path() + "/" + name; }
};

TEST_F(PowerLossEnv, DropsDataWrittenAfterTheLastSync) {
  auto f = env_.create_file(p("f"));
  env_.sync_dir(dir_.path());
  f->write_at(0, "synced");
  f->sync();
  f->write_at(6, " and not");
  env_.power_loss();
  EXPECT_THROW(env_.read_file(p("f")), IoError);  // the machine is off
  env_.revive();
  EXPECT_EQ(env_.read_file(p("f")), "synced");
  EXPECT_EQ(env_.stats().bytes_dropped, 8u);
}

TEST_F(PowerLossEnv, RestoresSyncedBytesThatWereOverwrittenOrCut) {
  auto f = env_.create_file(p("f"));
  env_.sync_dir(dir_.path());
  f->write_at(0, "0123456789");
  f->sync();
  f->write_at(2, "xx");
  f->truncate(4);
  f->write_at(4, "yyyyyyyy");
  env_.truncate_file(p("f"), 3);
  env_.power_loss();
  env_.revive();
  EXPECT_EQ(env_.read_file(p("f")), "0123456789");
}

TEST_F(PowerLossEnv, UndoesDirectoryChangesNotFollowedByADirectorySync) {
  env_.write_whole_file(p("old"), "old", true);
  env_.write_whole_file(p("gone"), "gone", true);
  env_.sync_dir(dir_.path());
  env_.write_whole_file(p("new"), "new", true);  // synced data, unsynced entry
  env_.write_whole_file(p("tmp"), "replacement", true);
  env_.rename(p("tmp"), p("old"));
  env_.remove_file(p("gone"));
  env_.create_dir(p("sub"));
  env_.write_whole_file(p("sub/inner"), "x", true);
  env_.power_loss();
  env_.revive();
  EXPECT_FALSE(env_.exists(p("new")));
  EXPECT_EQ(env_.read_file(p("old")), "old");
  EXPECT_FALSE(env_.exists(p("tmp")));  // its creation was never made durable either
  EXPECT_EQ(env_.read_file(p("gone")), "gone");
  EXPECT_FALSE(env_.exists(p("sub")));
}

TEST_F(PowerLossEnv, KeepsWhatWasMadeDurable) {
  env_.write_whole_file(p("tmp"), "checkpoint", true);
  env_.rename(p("tmp"), p("final"));
  env_.sync_dir(dir_.path());
  env_.remove_file(p("final"));
  env_.write_whole_file(p("final"), "v2", true);
  env_.sync_dir(dir_.path());
  env_.power_loss();
  env_.revive();
  EXPECT_EQ(env_.read_file(p("final")), "v2");
  EXPECT_FALSE(env_.exists(p("tmp")));
  EXPECT_EQ(env_.stats().pending_entries, 0u);
}

TEST_F(PowerLossEnv, KeepRandomPrefixKeepsPartOfTheUnsyncedTail) {
  std::set<std::uint64_t> sizes;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto f = env_.create_file(p("f"));
    env_.sync_dir(dir_.path());
    f->write_at(0, "base");
    f->sync();
    f->write_at(4, std::string(100, 'u'));
    f.reset();
    env_.power_loss(FaultEnv::LossMode::KeepRandomPrefix, seed);
    env_.revive();
    const std::string got = env_.read_file(p("f"));
    ASSERT_GE(got.size(), 4u);
    EXPECT_EQ(got.substr(0, 4), "base");
    sizes.insert(got.size());
  }
  EXPECT_GT(sizes.size(), 5u);  // the kept prefix varies with the seed
}

}  // namespace
}  // namespace engram

#endif  // ENGRAM_FAULT_INJECTION
