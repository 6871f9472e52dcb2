// Hot backups by the server (backup.hpp): full then incremental into one directory, a consistent
// prefix while writes go on, names, one backup at a time, and a failed run that leaves the
// previous backup valid. Restore and verification read the same manifest from Python
// (tests/server/test_backup_route.py goes end to end over HTTP).
#include "backup.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "../store_test_util.hpp"
#include "engram/fault.hpp"
#include "engram/store.hpp"

using namespace engram;
using namespace engram::server;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

EngineConfig config() {
  EngineConfig c;
  c.space.dim = 16;
  return c;
}

struct Served {
  test::ScratchDir dir{"backup-src"};
  Engine engine{config()};
  Served() { engine.open_store(test::store_options(dir.path())); }
  ~Served() { engine.close(); }
};

}  // namespace

TEST(BackupName, AcceptsOnePathComponentOnly) {
  for (const char* ok : {"nightly", "2026-12-07T04.00", "a", "A_b-c.d"}) EXPECT_TRUE(valid_backup_name(ok)) << ok;
  for (const char* bad : {"", "..", ".hidden", "a/b", "../x", "-x", "a b", "caf\xc3\xa9"})
    EXPECT_FALSE(valid_backup_name(bad)) << bad;
  EXPECT_TRUE(valid_backup_name(std::string(128, 'x')));
  EXPECT_FALSE(valid_backup_name(std::string(129, 'x')));
}

TEST(BackupRunner, RunsOneBackupAtATime) {
  BackupRunner r;
  ASSERT_TRUE(r.try_begin());
  EXPECT_TRUE(r.running());
  EXPECT_FALSE(r.try_begin());
  BackupResult res;
  res.bytes_shipped = 10;
  res.seconds = 0.5;
  r.end(true, &res);
  EXPECT_FALSE(r.running());
  EXPECT_EQ(r.succeeded(), 1u);
  EXPECT_EQ(r.bytes_shipped(), 10u);
  EXPECT_GT(r.last_success_unix(), 1.7e9);
  ASSERT_TRUE(r.try_begin());
  r.end(false, nullptr);
  EXPECT_EQ(r.failed(), 1u);
  EXPECT_GT(r.last_failure_unix(), 1.7e9);
}

TEST(Backup, FullThenIncrementalShipsOnlyWhatIsNew) {
  Served s;
  auto sp = s.engine.create_space("a");
  for (std::uint64_t k = 0; k < 200; ++k) test::remember_key(*sp, k);  // several 4 KiB segments
  test::ScratchDir out("backup-dest");
  const std::string dest = out.path() + "/bk";
  const BackupResult full = back_up(s.engine, dest, false);
  EXPECT_FALSE(full.incremental);
  EXPECT_EQ(full.durable_lsn, s.engine.wal_stats().durable_lsn);
  EXPECT_GT(full.files, 2u);
  EXPECT_EQ(full.bytes_shipped, full.bytes_total);
  const std::string manifest = slurp(dest + "/manifest.json");
  EXPECT_NE(manifest.find("\"format\":1"), std::string::npos);
  EXPECT_NE(manifest.find("\"sha256\":\""), std::string::npos);
  EXPECT_TRUE(fs::exists(dest + "/FORMAT"));

  for (std::uint64_t k = 200; k < 210; ++k) test::remember_key(*sp, k);
  const BackupResult inc = back_up(s.engine, dest, false);
  EXPECT_TRUE(inc.incremental);
  EXPECT_GT(inc.durable_lsn, full.durable_lsn);
  EXPECT_LT(inc.bytes_shipped, full.bytes_shipped);  // the closed segments were not copied again
  EXPECT_GE(inc.files, full.files);

  const BackupResult again = back_up(s.engine, dest, true);  // full on request
  EXPECT_FALSE(again.incremental);
  EXPECT_EQ(again.bytes_shipped, again.bytes_total);
}

TEST(Backup, StartsFromTheOldestRetainedCheckpoint) {
  // (the WAL is kept from it on, so a restore can stop at any LSN after it)
  Served s;
  auto sp = s.engine.create_space("a");
  for (int round = 0; round < 3; ++round) {
    for (std::uint64_t k = 0; k < 20; ++k) test::remember_key(*sp, 100 * round + k);
    s.engine.checkpoint();
  }
  const auto ckpts = s.engine.checkpoints();
  ASSERT_FALSE(ckpts.empty());
  ASSERT_GT(ckpts.front().lsn, 0u);
  test::ScratchDir out("backup-ckpt");
  const BackupResult r = back_up(s.engine, out.path() + "/bk", false);
  EXPECT_EQ(r.checkpoint_lsn, ckpts.front().lsn);
  EXPECT_TRUE(fs::exists(out.path() + "/bk/" + checkpoint_name(ckpts.front().lsn)));
}

TEST(Backup, WhileWritingHoldsEveryWriteAcknowledgedBeforeIt) {
  Served s;
  auto sp = s.engine.create_space("a");
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> acked{0};
  std::thread writer([&] {
    for (std::uint64_t k = 0; k < 100000 && !stop.load(); ++k) {  // bounded
      test::remember_key(*sp, k);
      acked.store(k + 1);
    }
  });
  while (acked.load() < 100) std::this_thread::yield();
  test::ScratchDir out("backup-live");
  const std::uint64_t before = s.engine.wal_stats().durable_lsn;
  const BackupResult r = back_up(s.engine, out.path() + "/bk", false);
  stop = true;
  writer.join();
  EXPECT_GE(r.durable_lsn, before);
  // the manifest's durable LSN is within what was copied: recovery of a copy reaches it
  Engine restored(config());
  StoreOptions o = test::store_options(out.path() + "/bk");
  restored.open_store(o);
  EXPECT_GE(restored.recovery_info().last_lsn, r.durable_lsn);
  restored.close();
}

TEST(Backup, OfAnInMemoryEngineIsRefused) {
  Engine e(config());
  test::ScratchDir out("backup-mem");
  EXPECT_THROW(back_up(e, out.path() + "/bk", false), StorageError);
}

#ifdef ENGRAM_FAULT_INJECTION
TEST(Backup, AFailedRunLeavesThePreviousManifest) {
  Served s;
  auto sp = s.engine.create_space("a");
  for (std::uint64_t k = 0; k < 100; ++k) test::remember_key(*sp, k);
  test::ScratchDir out("backup-fail");
  const std::string dest = out.path() + "/bk";
  back_up(s.engine, dest, false);
  const std::string before = slurp(dest + "/manifest.json");
  for (std::uint64_t k = 100; k < 150; ++k) test::remember_key(*sp, k);
  faults::set_plan("ioerror=write@*backup-fail-*/bk/*:EIO:after=3");  // fails a later copy
  EXPECT_THROW(back_up(s.engine, dest, false), StorageError);
  faults::clear_plan();
  EXPECT_EQ(slurp(dest + "/manifest.json"), before);
  for (const auto& f : fs::recursive_directory_iterator(dest))  // the staged copies were removed
    EXPECT_NE(f.path().extension(), ".part") << f.path();
  EXPECT_TRUE(back_up(s.engine, dest, false).incremental);  // and the next run goes on from it
}
#endif
