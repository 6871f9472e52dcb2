// The on-disk format (docs/format.md): the stored version-1 store keeps opening with exactly its
// contents, and readers follow the versioning rule for unknown record types and versions.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "engram/crc32c.hpp"
#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/migrate.hpp"
#include "engram/store.hpp"
#include "engram/wal.hpp"
#include "store_test_util.hpp"

namespace engram {
namespace {

namespace fs = std::filesystem;

using test::slurp;
using test::snapshot_files;
using test::spit;

template <class T>
void put(std::string& s, std::size_t at, T v) {
  std::memcpy(s.data() + at, &v, sizeof v);
}

// --- The stored version-1 store (tests/fixtures/store-v1, written by tests/fixtures/make_store_v1.py),
// converted to this build's format as it opens (migrate.hpp)

TEST(StoredFixture, Version1OpensWithItsExactContents) {
  const fs::path fixture = fs::path(ENGRAM_FIXTURES_DIR) / "store-v1";
  ASSERT_TRUE(fs::is_directory(fixture)) << fixture;
  EXPECT_TRUE(verify_store(fixture.string(), Env::posix()).ok());  // read-only, on the committed files
  test::ScratchDir dir("fixture");
  const std::string store = dir.path() + "/store";
  fs::copy(fixture, store, fs::copy_options::recursive);  // opening writes (a new segment)
  // The figures below are those of tests/fixtures/store-v1.expected.json: a dry run reads them.
  MigrationOptions dry;
  dry.path = store;
  dry.dry_run = true;
  const MigrationReport d = migrate_store(dry);
  EXPECT_EQ(d.from, 1u);
  EXPECT_EQ(d.lsn, 48u);
  EXPECT_EQ(d.spaces, 3u);
  EXPECT_TRUE(d.blockers.empty());
  EngineConfig cfg;
  cfg.space.dim = 8;
  Engine eng(cfg);
  StoreOptions so = test::store_options(store);
  so.migrate = true;
  eng.open_store(so);
  const RecoveryInfo& r = eng.recovery_info();
  EXPECT_EQ(r.migrated_from, 1u);
  EXPECT_EQ(r.checkpoint_lsn, 48u);  // the converted state, one checkpoint at the last LSN
  EXPECT_EQ(r.records_replayed, 0u);
  EXPECT_EQ(r.last_lsn, 48u);
  EXPECT_EQ(r.corruptions + r.torn_tails + r.records_skipped, 0u);
  EXPECT_EQ(eng.space_names(), (std::vector<std::string>{"late", "notes", "people"}));
  EXPECT_TRUE(eng.features().blended_recall.load());
  EXPECT_FALSE(eng.features().fan_effect.load());
  EXPECT_FALSE(eng.features().concept_formation.load());
  auto notes = eng.space("notes");
  const SpaceStats s = notes->stats();
  EXPECT_EQ(s.episodes, 12u);
  EXPECT_EQ(s.concepts, 3u);
  EXPECT_EQ(s.forgotten, 7u);
  EXPECT_EQ(eng.space("people")->dim(), 4u);
  EXPECT_EQ(eng.space("people")->size(), 3u);
  const MemoryView first = notes->get((std::int64_t{1} << 40) | 1);
  EXPECT_EQ(first.content, "note 0.0");
  EXPECT_EQ(first.metadata, (Metadata{{"cluster", "0"}, {"n", "0"}}));
  EXPECT_FALSE(notes->contains((std::int64_t{1} << 40) | 2));  // forgotten in the WAL tail
  const MemoryView tail = notes->get((std::int64_t{1} << 40) | 21);
  EXPECT_EQ(tail.content, "tail c");
  EXPECT_DOUBLE_EQ(tail.timestamp, 1'700'000'003.0);
  EXPECT_TRUE(notes->validate().ok());
  // And it takes new writes on top.
  test::remember_key(*notes, 1);
  eng.close();
}

// --- Versioning (docs/format.md "Versioning") -----------------------------------------------

class Versioning : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineConfig cfg;
    cfg.space.dim = 4;
    Engine eng(cfg);
    eng.open_store(test::store_options(store_));
    auto sp = eng.create_space("a");
    for (std::uint64_t k = 0; k < 5; ++k) test::remember_key(*sp, k);
    last_lsn_ = eng.wal_stats().last_lsn;
    eng.close();
  }
  fs::path last_segment() const {
    const auto segs = list_segments(Env::posix(), store_ + "/wal");
    return segs.back().path;
  }
  // Rewrites a segment header field and its CRC.
  void set_segment_header(const fs::path& seg, std::size_t at, std::uint32_t value) {
    std::string d = slurp(seg);
    put(d, at, value);
    put(d, 28, crc32c(d.data(), 28));
    spit(seg, d);
  }
  void append_frame(const fs::path& seg, std::uint16_t type, std::uint16_t flags) {
    std::string d = slurp(seg);
    encode_frame(d, static_cast<RecordType>(type), last_lsn_ + 1, wall_clock_ns(), "payload of a later version", flags);
    spit(seg, d);
  }
  void expect_refused_untouched(const std::string& why) {
    const auto before = snapshot_files(dir_.path());
    EngineConfig cfg;
    cfg.space.dim = 4;
    Engine eng(cfg);
    try {
      eng.open_store(test::store_options(store_));
      ADD_FAILURE() << "the store opened";
    } catch (const UnsupportedFormatError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("Nothing was changed"), std::string::npos) << e.what();
    }
    EXPECT_EQ(snapshot_files(dir_.path()), before);
  }

  test::ScratchDir dir_{"format"};
  std::string store_ = dir_.path() + "/store";
  std::uint64_t last_lsn_ = 0;
};

TEST_F(Versioning, UnknownIgnorableRecordOfANewerMinorIsSkipped) {
  set_segment_header(last_segment(), 24, kFormatMinor + 1);
  append_frame(last_segment(), 200, kRecordIgnorable);
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine eng(cfg);
  eng.open_store(test::store_options(store_));
  EXPECT_EQ(eng.recovery_info().records_skipped, 1u);
  EXPECT_EQ(eng.recovery_info().corruptions, 0u);
  EXPECT_EQ(eng.recovery_info().last_lsn, last_lsn_ + 1);
  EXPECT_EQ(eng.space("a")->size(), 5u);
  test::remember_key(*eng.space("a"), 99);  // the next LSN follows the skipped one
  eng.checkpoint();                         // and a checkpoint of this build drops it
  eng.close();
  EXPECT_TRUE(verify_store(store_, Env::posix()).ok());
}

TEST_F(Versioning, UnknownRecordOfANewerMinorIsRefusedClearly) {
  set_segment_header(last_segment(), 24, kFormatMinor + 1);
  append_frame(last_segment(), 200, 0);
  expect_refused_untouched("newer than this build's");
  const VerifyReport v = verify_store(store_, Env::posix());
  EXPECT_FALSE(v.ok());
}

TEST_F(Versioning, UnknownRecordOfThisMinorIsCorruption) {
  append_frame(last_segment(), 200, 0);  // no writer of this version writes type 200
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine eng(cfg);
  eng.open_store(test::store_options(store_));
  EXPECT_EQ(eng.recovery_info().corruptions, 1u);
  EXPECT_EQ(eng.space("a")->size(), 5u);  // the valid prefix
  EXPECT_TRUE(fs::is_directory(store_ + "/quarantine"));
}

TEST_F(Versioning, SegmentOfAnotherMajorIsRefusedUntouched) {
  set_segment_header(last_segment(), 4, kFormatVersion + 1);
  expect_refused_untouched("major version " + std::to_string(kFormatVersion + 1));
}

TEST_F(Versioning, ABitFlipInTheVersionFieldIsCorruptionNotAnotherVersion) {
  const fs::path seg = last_segment();
  std::string d = slurp(seg);
  d[4] ^= 0x01;  // version 2 -> 3, header CRC now wrong
  spit(seg, d);
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine eng(cfg);
  eng.open_store(test::store_options(store_));
  EXPECT_EQ(eng.recovery_info().corruptions, 1u);
}

TEST_F(Versioning, CheckpointOfAnotherMajorIsRefusedUntouched) {
  {
    EngineConfig cfg;
    cfg.space.dim = 4;
    Engine eng(cfg);
    eng.open_store(test::store_options(store_));
    eng.checkpoint();
    eng.close();
  }
  const auto ckpts = list_checkpoints(Env::posix(), store_);
  ASSERT_EQ(ckpts.size(), 1u);
  std::string d = slurp(ckpts[0].path);
  put<std::uint32_t>(d, 4, kFormatVersion + 1);
  put(d, 44, crc32c(d.data(), 44));
  spit(ckpts[0].path, d);
  expect_refused_untouched("checkpoint of format major version " + std::to_string(kFormatVersion + 1));
}

TEST_F(Versioning, CheckpointRecordsFollowTheSameRule) {
  {
    EngineConfig cfg;
    cfg.space.dim = 4;
    Engine eng(cfg);
    eng.open_store(test::store_options(store_));
    eng.checkpoint();
    eng.close();
  }
  const std::string path = list_checkpoints(Env::posix(), store_)[0].path;
  const auto rewrite = [&](std::uint16_t flags) {
    std::string d = slurp(path);
    std::string body = d.substr(kCheckpointHeaderBytes);
    std::uint64_t frames = 0;
    scan_frames(body, 0, 1, [&](const FrameHeader&, std::string_view) { ++frames; });
    encode_frame(body, static_cast<RecordType>(300), frames + 1, 0, "later", flags);
    std::string out = d.substr(0, kCheckpointHeaderBytes) + body;
    put<std::uint64_t>(out, 24, body.size());
    put(out, 32, crc32c(body));
    put<std::uint32_t>(out, 36, kFormatMinor + 1);
    put(out, 44, crc32c(out.data(), 44));
    spit(path, out);
  };
  const std::string original = slurp(path);
  rewrite(0);
  expect_refused_untouched("newer than this build's");
  spit(path, original);
  rewrite(kRecordIgnorable);
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine eng(cfg);
  eng.open_store(test::store_options(store_));
  EXPECT_EQ(eng.recovery_info().records_skipped, 1u);
  EXPECT_EQ(eng.space("a")->size(), 5u);
}

TEST_F(Versioning, FormatFileOfAnotherMajorIsRefused) {
  spit(store_ + "/FORMAT", "engram-store 3\n");
  expect_refused_untouched("this build reads 'engram-store 2' (and migrates 'engram-store 1') only");
  spit(store_ + "/FORMAT", "something else\n");
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine eng(cfg);
  try {
    eng.open_store(test::store_options(store_));
    ADD_FAILURE() << "opened";
  } catch (const UnsupportedFormatError& e) {
    ADD_FAILURE() << "a damaged FORMAT file is not a version: " << e.what();
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("will not guess"), std::string::npos) << e.what();
  }
}

TEST(FormatVersion, NewFilesCarryTheMinorVersion) {
  test::ScratchDir dir("minor");
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine eng(cfg);
  eng.open_store(test::store_options(dir.path() + "/s"));
  eng.create_space("a");
  eng.checkpoint();
  const std::string seg = slurp(list_segments(Env::posix(), dir.path() + "/s/wal").back().path);
  EXPECT_EQ(check_segment_header(seg, "seg").minor, kFormatMinor);
  const std::string ck = slurp(list_checkpoints(Env::posix(), dir.path() + "/s")[0].path);
  CheckpointHeader h;
  check_checkpoint(ck, "ckpt", h);
  EXPECT_EQ(h.minor, kFormatMinor);
  EXPECT_EQ(slurp(dir.path() + "/s/FORMAT"), "engram-store 2\n");
  eng.close();
}

}  // namespace
}  // namespace engram
