// The store migrator (migrate.hpp; docs/format.md, "Migration"): format 2 to 1 and back keeps every
// memory, edge, concept binding and key; a dry run and every refusal change nothing; a rollback
// is refused while the store holds a rollout stage; damage is not converted. Crash points of the
// switch: tests/durability/test_migrate.py (subprocesses killed at each point).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "engram/consolidation.hpp"
#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/migrate.hpp"
#include "engram/store.hpp"
#include "store_test_util.hpp"
#include "test_util.hpp"

namespace engram {
namespace {

namespace fs = std::filesystem;

using test::slurp;
using test::snapshot_files;

std::uint32_t header_major(const std::string& path) {
  const std::string d = slurp(path);
  std::uint32_t v = 0;
  std::memcpy(&v, d.data() + 4, 4);
  return v;
}

// Every major version in the store's files (checkpoints and segments) and FORMAT.
std::vector<std::uint32_t> majors(const std::string& store) {
  std::vector<std::uint32_t> out;
  for (const CheckpointFile& c : list_checkpoints(Env::posix(), store)) out.push_back(header_major(c.path));
  for (const SegmentFile& s : list_segments(Env::posix(), store + "/wal")) out.push_back(header_major(s.path));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// What the state holds, order-independent: each space's records in id order (content_snapshot's
// episode chunks), and every edge sorted (adjacency order may differ after a replay).
struct Content {
  std::vector<std::string> names;
  std::map<std::string, std::vector<std::int64_t>> ids;
  std::map<std::string, std::vector<std::tuple<std::int64_t, std::int64_t, int, float, float, float>>> edges;
  std::map<std::string, std::vector<std::vector<std::int64_t>>> concepts;
  std::map<std::string, std::uint64_t> forgotten;
  FeatureValues features;
  bool operator==(const Content& o) const {
    return names == o.names && ids == o.ids && edges == o.edges && concepts == o.concepts && forgotten == o.forgotten &&
           features.blended_recall == o.features.blended_recall && features.fan_effect == o.features.fan_effect &&
           features.concept_formation == o.features.concept_formation;
  }
};

Content content_of(Engine& eng) {
  Content c;
  c.names = eng.space_names();
  c.features = eng.features().values();
  for (const auto& sp : eng.spaces()) {
    const std::string& n = sp->name();
    for (std::int64_t local = 1; local <= 64; ++local) {
      const std::int64_t id = (static_cast<std::int64_t>(sp->ordinal()) << 40) | local;
      if (sp->contains(id)) c.ids[n].push_back(id);
    }
    for (const EdgeRecord& e : sp->graph().edges()) {
      c.edges[n].emplace_back(e.src, e.dst, static_cast<int>(e.kind), e.weight, e.strength, e.contribution);
    }
    std::sort(c.edges[n].begin(), c.edges[n].end());
    for (const ConceptView& v : sp->concept_store().all()) c.concepts[n].push_back(v.members);
    c.forgotten[n] = sp->stats().forgotten;
  }
  return c;
}

class Migrate : public ::testing::Test {
 protected:
  // A format-2 store with episodes, forgotten ids, associations, concepts with their bindings, a
  // binding made by hand whose weight differs from its strength, idempotency keys, feature flags,
  // and records both in a checkpoint and in the WAL after it.
  void SetUp() override {
    Engine eng(config());
    eng.open_store(test::store_options(store_));
    auto sp = eng.create_space("notes");
    const auto pts = test::clustered(8, 3, 6, 0.05f, 11);
    std::vector<std::int64_t> ids;
    for (const auto& p : pts) ids.push_back(sp->remember(test::episode(p, "n")));
    sp->forget(ids[1]);
    sp->link(ids[0], ids[2], EdgeKind::Association, 0.5f);
    ConsolidationParams cp;
    cp.max_concepts_per_run = 100;
    cp.max_formations_per_hour = 0;
    ASSERT_GT(consolidate(*sp, cp).concepts_formed, 0u);
    eng.checkpoint();
    const std::int64_t concept_id = sp->concept_store().all().front().id;
    const std::int64_t late = sp->remember(test::episode(test::keyed_vector(8, 99), "late"));
    sp->link(late, concept_id, EdgeKind::Binding, 0.25f, 0.75f, 0.5f);
    auto other = eng.create_space("other", test::small_config(4));
    test::remember_key(*other, 7);
    eng.set_features(false, std::nullopt, std::nullopt);
    before_ = content_of(eng);
    eng.close();
  }
  static EngineConfig config() {
    EngineConfig cfg;
    cfg.space = test::small_config(8);
    return cfg;
  }
  MigrationReport run(std::uint32_t to, bool dry_run = false) {
    MigrationOptions o;
    o.path = store_;
    o.to = to;
    o.dry_run = dry_run;
    o.progress = [this](const MigrationProgress& p) { phases_.push_back(p.phase); };
    return migrate_store(o);
  }
  Content reopen() {
    Engine eng(config());
    eng.open_store(test::store_options(store_));
    Content c = content_of(eng);
    eng.close();
    return c;
  }

  test::ScratchDir dir_{"migrate"};
  std::string store_ = dir_.path() + "/store";
  Content before_;
  std::vector<std::string> phases_;
};

TEST_F(Migrate, RollbackAndUpgradeKeepEverything) {
  const MigrationReport down = run(1);
  EXPECT_TRUE(down.changed);
  EXPECT_EQ(down.from, 2u);
  EXPECT_EQ(down.to, 1u);
  EXPECT_EQ(slurp(store_ + "/FORMAT"), "engram-store 1\n");
  EXPECT_EQ(majors(store_), std::vector<std::uint32_t>{1});
  EXPECT_FALSE(fs::exists(store_ + "/MIGRATION"));
  EXPECT_NE(std::find(phases_.begin(), phases_.end(), "switch"), phases_.end());
  {  // a format-2 build refuses the rolled-back store, unchanged
    const auto files = snapshot_files(store_);
    Engine eng(config());
    EXPECT_THROW(eng.open_store(test::store_options(store_)), UnsupportedFormatError);
    EXPECT_EQ(snapshot_files(store_), files);
  }
  const MigrationReport up = run(2);
  EXPECT_TRUE(up.changed);
  EXPECT_EQ(up.lsn, down.lsn);  // the LSN sequence continues through both conversions
  EXPECT_EQ(majors(store_), std::vector<std::uint32_t>{2});
  EXPECT_EQ(reopen(), before_);
}

TEST_F(Migrate, OpenWithMigrateConvertsAndTheLogContinues) {
  run(1);
  Engine eng(config());
  StoreOptions so = test::store_options(store_);
  so.migrate = true;
  eng.open_store(so);
  EXPECT_EQ(eng.recovery_info().migrated_from, 1u);
  EXPECT_EQ(content_of(eng), before_);
  const std::uint64_t lsn = eng.recovery_info().last_lsn;
  test::remember_key(*eng.space("other"), 8);
  EXPECT_EQ(eng.wal_stats().last_lsn, lsn + 1);
  eng.close();
  EXPECT_EQ(reopen().ids["other"].size(), 2u);
}

TEST_F(Migrate, DryRunChangesNothingAndReports) {
  const auto files = snapshot_files(store_);
  const MigrationReport r = run(1, true);
  EXPECT_FALSE(r.changed);
  EXPECT_TRUE(r.dry_run);
  EXPECT_EQ(r.spaces, 2u);
  EXPECT_EQ(r.episodes, before_.ids["notes"].size() - r.concepts + before_.ids["other"].size());
  EXPECT_GT(r.checkpoint_bytes, kCheckpointHeaderBytes);
  EXPECT_TRUE(r.blockers.empty());
  EXPECT_EQ(snapshot_files(store_), files);
  EXPECT_EQ(phases_.front(), "read");
}

TEST_F(Migrate, AlreadyInTheTargetFormatIsLeftAlone) {
  const auto files = snapshot_files(store_);
  const MigrationReport r = run(2);
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(r.from, 2u);
  EXPECT_EQ(snapshot_files(store_), files);
}

TEST_F(Migrate, RollbackIsRefusedWhileARolloutStageIsStored) {
  {
    Engine eng(config());
    eng.open_store(test::store_options(store_));
    eng.set_features(
        std::nullopt, std::nullopt, std::nullopt,
        {{Feature::FanEffect, RolloutStage{10.0, false}}, {Feature::BlendedRecall, RolloutStage{0, true}}});
    eng.close();
  }
  {  // durable: the stages come back with the store
    Engine eng(config());
    eng.open_store(test::store_options(store_));
    EXPECT_DOUBLE_EQ(eng.features().rollout_stage(Feature::FanEffect)->percent, 10.0);
    EXPECT_TRUE(eng.features().rollout_stage(Feature::BlendedRecall)->shadow);
    EXPECT_FALSE(eng.features().rollout_stage(Feature::ConceptFormation));
    eng.close();
  }
  const auto files = snapshot_files(store_);
  const MigrationReport dry = run(1, true);
  ASSERT_EQ(dry.blockers.size(), 2u);
  EXPECT_NE(dry.blockers[0].find("rollout stage"), std::string::npos) << dry.blockers[0];
  try {
    run(1);
    ADD_FAILURE() << "rolled back with a rollout stage";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("fan_effect has a rollout stage (10.00%)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(snapshot_files(store_), files);
  {  // ended: nothing format 1 cannot hold, so the rollback runs
    Engine eng(config());
    eng.open_store(test::store_options(store_));
    eng.set_features(std::nullopt, std::nullopt, std::nullopt,
                     {{Feature::FanEffect, std::nullopt}, {Feature::BlendedRecall, std::nullopt}});
    eng.close();
  }
  EXPECT_TRUE(run(1).changed);
}

TEST_F(Migrate, DamageIsNotConverted) {
  run(1);
  // A flipped byte inside the last segment's first record (not its tail): corruption.
  const auto segs = list_segments(Env::posix(), store_ + "/wal");
  std::string last;
  for (const SegmentFile& s : segs) {
    if (fs::file_size(s.path) > kSegmentHeaderBytes + 64) last = s.path;
  }
  if (last.empty()) {  // the rollback left only a checkpoint: damage that instead
    last = list_checkpoints(Env::posix(), store_).back().path;
  }
  std::string d = slurp(last);
  d[d.size() / 2] ^= 0x40;
  test::spit(last, d);
  const auto files = snapshot_files(store_);
  try {
    run(2);
    ADD_FAILURE() << "converted a damaged store";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("has damage"), std::string::npos) << e.what();
  }
  EXPECT_EQ(snapshot_files(store_), files);
  EXPECT_FALSE(fs::exists(store_ + "/quarantine"));
}

// The stored format-1 store (tests/fixtures/store-v1) has records after its checkpoint; a torn
// record after them (a crash mid-write, never acknowledged) is cut while reading, in memory only.
TEST(MigrateFixture, ATornTailIsCutInMemoryOnly) {
  test::ScratchDir dir("migrate-torn");
  const std::string store = dir.path() + "/store";
  fs::copy(fs::path(ENGRAM_FIXTURES_DIR) / "store-v1", store, fs::copy_options::recursive);
  const auto segs = list_segments(Env::posix(), store + "/wal");
  ASSERT_FALSE(segs.empty());
  {
    std::ofstream out(segs.back().path, std::ios::binary | std::ios::app);
    out.write("EGWR\x03\x00", 6);  // half a frame header
  }
  const auto files = snapshot_files(store);
  MigrationOptions o;
  o.path = store;
  o.dry_run = true;
  const MigrationReport dry = migrate_store(o);
  EXPECT_EQ(dry.torn_tails, 1u);
  EXPECT_EQ(dry.lsn, 48u);
  EXPECT_EQ(snapshot_files(store), files);
  o.dry_run = false;
  const MigrationReport r = migrate_store(o);
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.torn_tails, 1u);
  EngineConfig cfg;
  cfg.space.dim = 8;
  Engine eng(cfg);
  eng.open_store(test::store_options(store));
  EXPECT_EQ(eng.recovery_info().torn_tails, 0u);
  EXPECT_EQ(eng.space("notes")->stats().episodes, 12u);
  eng.close();
}

// A point-in-time bound given with migrate (a restore of a format-1 backup) bounds what is
// converted: the records after it are not carried over.
TEST(MigrateFixture, APointInTimeBoundAppliesToTheConversion) {
  test::ScratchDir dir("migrate-pitr");
  const std::string store = dir.path() + "/store";
  fs::copy(fs::path(ENGRAM_FIXTURES_DIR) / "store-v1", store, fs::copy_options::recursive);
  EngineConfig cfg;
  cfg.space.dim = 8;
  Engine eng(cfg);
  StoreOptions so = test::store_options(store);
  so.migrate = true;
  so.until_lsn = 40;  // the fixture's log runs to 48
  eng.open_store(so);
  EXPECT_EQ(eng.recovery_info().migrated_from, 1u);
  EXPECT_EQ(eng.recovery_info().last_lsn, 40u);
  eng.close();
  Engine again(cfg);
  again.open_store(test::store_options(store));
  EXPECT_EQ(again.recovery_info().last_lsn, 40u);
  again.close();
}

TEST_F(Migrate, AnotherProcessHoldingTheStoreIsRefused) {
  Engine eng(config());
  eng.open_store(test::store_options(store_));
  EXPECT_THROW(run(1), StorageError);
  eng.close();
}

TEST(MigrateArgs, BadTargetAndMissingStore) {
  MigrationOptions o;
  o.path = "/nonexistent/engram-store";
  EXPECT_THROW(migrate_store(o), StorageError);
  test::ScratchDir dir("migrate-args");
  {
    EngineConfig cfg;
    cfg.space.dim = 4;
    Engine eng(cfg);
    eng.open_store(test::store_options(dir.path() + "/s"));
    eng.close();
  }
  o.path = dir.path() + "/s";
  o.to = 3;
  EXPECT_THROW(migrate_store(o), InvalidInputError);
  o.to = 0;
  EXPECT_THROW(migrate_store(o), InvalidInputError);
}

TEST(FeaturesRecord, InvalidStagesAreCorruption) {
  const auto decode = [](std::string payload) {
    FeatureFlags f;
    Decoder in(payload);
    decode_features(f, in, 2);
    return f.rollout_word(Feature::BlendedRecall);
  };
  const std::string flags("\x01\x01\x01", 3);
  const std::string none(4, '\0');
  EXPECT_EQ(decode(flags + none + none + none), 0u);
  // active, shadow 0, 1000 basis points
  EXPECT_EQ(decode(flags + std::string("\x01\x00\xe8\x03", 4) + none + none), FeatureFlags::kRolloutActive | 1000u);
  EXPECT_THROW(decode(flags + std::string("\x01\x00\x11\x27", 4) + none + none), CorruptionError);  // 10001
  EXPECT_THROW(decode(flags + std::string("\x00\x01\x00\x00", 4) + none + none), CorruptionError);  // inactive
  EXPECT_THROW(decode(flags + std::string("\x01\x01\x01\x00", 4) + none + none), CorruptionError);  // shadow at 1bp
  EXPECT_THROW(decode(flags + none + none + std::string("\x01\x01\x00\x00", 4)), CorruptionError);  // formation
  EXPECT_THROW(decode(flags + none + none + none + "x"), CorruptionError);                          // trailing
  EXPECT_THROW(decode(flags + none + none), CorruptionError);                                       // short
}

TEST(FeaturesRecord, StagesAreValidatedBeforeAnythingChanges) {
  Engine eng(EngineConfig{});
  EXPECT_THROW(eng.set_features(false, std::nullopt, std::nullopt, {{Feature::FanEffect, RolloutStage{101, false}}}),
               InvalidInputError);
  EXPECT_TRUE(eng.features().blended_recall.load());  // the flag in the same call did not change
  EXPECT_THROW(
      eng.set_features(std::nullopt, std::nullopt, std::nullopt, {{Feature::ConceptFormation, RolloutStage{0, true}}}),
      InvalidInputError);
  EXPECT_THROW(
      eng.set_features(std::nullopt, std::nullopt, std::nullopt, {{Feature::FanEffect, RolloutStage{5, true}}}),
      InvalidInputError);
}

}  // namespace
}  // namespace engram
