// What recovery reports about the previous process (RunMarker, store.hpp) and the offline WAL
// reader (inspect_wal): an unclean shutdown with the phase it hit, nothing after a clean close,
// concept records carrying their bindings.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engram/consolidation.hpp"
#include "engram/engine.hpp"
#include "engram/store.hpp"
#include "store_test_util.hpp"

namespace engram {
namespace {

using test::ScratchDir;
using test::store_options;

constexpr std::size_t kDim = 16;

EngineConfig config() {
  EngineConfig c;
  c.space.dim = kDim;
  return c;
}

void fill(Space& sp) {
  for (const auto& p : test::clustered(kDim, 3, 12, 0.1f, 7)) sp.remember(test::episode(p));
}

// A copy of a store that is open right now: what a kill -9 at this moment leaves (the page cache
// survives the process; nothing here simulates power loss).
std::string crash_copy(const std::string& from, const std::string& to) {
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
  return to;
}

TEST(RecoveryReport, CleanCloseIsNotACrash) {
  ScratchDir dir("clean");
  {
    Engine eng(config());
    eng.open_store(store_options(dir.path()));
    fill(*eng.create_space("a"));
    EXPECT_FALSE(eng.recovery_info().unclean_shutdown);  // a new store
    eng.close();
  }
  EXPECT_EQ(std::filesystem::file_size(dir.path() + "/LOCK"), 0u);
  Engine again(config());
  again.open_store(store_options(dir.path()));
  EXPECT_FALSE(again.recovery_info().unclean_shutdown);
  EXPECT_EQ(again.prometheus().find("engram_crash_detected_total{"), std::string::npos);
}

TEST(RecoveryReport, KilledProcessIsReportedWithItsPhase) {
  ScratchDir dir("killed");
  ScratchDir copies("killed-copies");
  Engine eng(config());
  eng.open_store(store_options(dir.path()));
  auto sp = eng.create_space("a");
  fill(*sp);
  const std::string serving = crash_copy(dir.path(), copies.path() + "/serving");
  sp->mark_phase("consolidation.mid_clustering");
  const std::string clustering = crash_copy(dir.path(), copies.path() + "/clustering");
  {
    Engine e(config());
    e.open_store(store_options(serving));
    EXPECT_TRUE(e.recovery_info().unclean_shutdown);
    EXPECT_EQ(e.recovery_info().crash_phase, "serving");
    EXPECT_EQ(e.recovery_info().previous_pid, static_cast<std::int64_t>(::getpid()));
    EXPECT_EQ(e.space("a")->size(), 36u);
  }
  Engine e(config());
  e.open_store(store_options(clustering));
  const RecoveryInfo& r = e.recovery_info();
  EXPECT_TRUE(r.unclean_shutdown);
  EXPECT_EQ(r.crash_phase, "consolidation.mid_clustering");
  EXPECT_EQ(r.orphaned_concepts, 0u);
  EXPECT_EQ(r.partial_bindings, 0u);
  const std::string prom = e.prometheus();
  EXPECT_NE(prom.find("engram_crash_detected_total{crash_point=\"consolidation.mid_clustering\"} 1"),
            std::string::npos);
  EXPECT_NE(prom.find("engram_orphaned_concepts_detected_total 0"), std::string::npos);
  EXPECT_NE(prom.find("engram_partial_bindings_detected_total 0"), std::string::npos);
}

TEST(RecoveryReport, ConsolidationLeavesItsPhaseThenServing) {
  ScratchDir dir("phase");
  ScratchDir copies("phase-copies");
  Engine eng(config());
  eng.open_store(store_options(dir.path()));
  auto sp = eng.create_space("a");
  fill(*sp);
  ConsolidationParams p;
  p.max_formations_per_hour = 0;
  EXPECT_GT(consolidate(*sp, p).concepts_formed, 0u);
  Engine e(config());
  e.open_store(store_options(crash_copy(dir.path(), copies.path() + "/after")));
  EXPECT_EQ(e.recovery_info().crash_phase, "serving");  // the run finished: back to serving
  EXPECT_EQ(e.space("a")->check_concepts().orphaned_concepts, 0u);
}

TEST(RecoveryReport, GarbageInLockIsUncleanWithASafePhase) {
  ScratchDir dir("garbage");
  {
    Engine eng(config());
    eng.open_store(store_options(dir.path()));
    eng.close();
  }
  std::ofstream(dir.path() + "/LOCK") << "pid=12x\nphase=con\"sol{}idation.X\n\x01\x02";
  Engine e(config());
  e.open_store(store_options(dir.path()));
  EXPECT_TRUE(e.recovery_info().unclean_shutdown);
  EXPECT_EQ(e.recovery_info().crash_phase, "consolidation.");  // only name characters kept
  EXPECT_EQ(e.recovery_info().previous_pid, 12);
}

TEST(InspectWal, ConceptRecordsCarryTheirBindingsInLsnOrder) {
  ScratchDir dir("inspect");
  {
    Engine eng(config());
    eng.open_store(store_options(dir.path()));
    auto sp = eng.create_space("a");
    fill(*sp);
    ConsolidationParams p;
    p.max_formations_per_hour = 0;
    ASSERT_EQ(consolidate(*sp, p).concepts_formed, 3u);
    eng.close();
  }
  const WalInspection w = inspect_wal(dir.path());
  EXPECT_TRUE(w.problems.empty()) << w.problems.front();
  EXPECT_GT(w.segments, 1u);  // 4 KiB segments
  std::size_t concepts = 0;
  for (std::size_t i = 0; i < w.records.size(); ++i) {
    if (i > 0) {
      EXPECT_EQ(w.records[i].lsn, w.records[i - 1].lsn + 1);
    }
    const WalRecordInfo& r = w.records[i];
    if (r.type != static_cast<std::uint16_t>(RecordType::ConceptCommit)) continue;
    ++concepts;
    EXPECT_TRUE(r.is_new);
    EXPECT_EQ(r.members.size(), 12u);
    EXPECT_EQ(r.bindings, r.members);
  }
  EXPECT_EQ(concepts, 3u);
}

}  // namespace
}  // namespace engram
