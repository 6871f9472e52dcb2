// WAL framing, scanning, CRC32C, and a durable engine's reopen (wal.hpp, store.hpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "engram/crc32c.hpp"
#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/store.hpp"
#include "engram/wal.hpp"
#include "test_util.hpp"

namespace engram {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const char* tag) {
  std::string t = (fs::temp_directory_path() / (std::string("engram-") + tag + "-XXXXXX")).string();
  if (::mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return t;
}

TEST(Crc32c, KnownVectors) {
  // RFC 3720 B.4 and the common check value.
  EXPECT_EQ(crc32c(std::string_view("123456789")), 0xE3069283u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  const std::string ones(32, '\xff');
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  // Incremental equals one-shot.
  EXPECT_EQ(crc32c(std::string_view("56789"), crc32c(std::string_view("1234"))), crc32c(std::string_view("123456789")));
}

std::string three_frames() {
  std::string out;
  encode_frame(out, RecordType::Forget, 1, 10, "alpha");
  encode_frame(out, RecordType::Forget, 2, 11, "beta");
  encode_frame(out, RecordType::Forget, 3, 12, "gamma");
  return out;
}

TEST(WalFrames, RoundTrip) {
  const std::string data = three_frames();
  std::vector<std::string> payloads;
  const ScanResult r = scan_frames(data, 0, 1, [&](const FrameHeader& h, std::string_view p) {
    EXPECT_EQ(h.type, RecordType::Forget);
    payloads.emplace_back(p);
  });
  EXPECT_EQ(r.status, ScanResult::Status::Ok);
  EXPECT_EQ(r.records, 3u);
  EXPECT_EQ(r.last_lsn, 3u);
  EXPECT_EQ(payloads, (std::vector<std::string>{"alpha", "beta", "gamma"}));
}

TEST(WalFrames, TornTailVersusCorruption) {
  const std::string data = three_frames();
  const auto noop = [](const FrameHeader&, std::string_view) {};
  // Cut inside the last frame: torn tail, two records valid.
  ScanResult r = scan_frames(data.substr(0, data.size() - 3), 0, 1, noop);
  EXPECT_EQ(r.status, ScanResult::Status::TornTail);
  EXPECT_EQ(r.records, 2u);
  // Zero-filled tail after valid frames: torn.
  r = scan_frames(data + std::string(100, '\0'), 0, 1, noop);
  EXPECT_EQ(r.status, ScanResult::Status::TornTail);
  EXPECT_EQ(r.records, 3u);
  // A bit flip in the first payload with frames after it: corruption at offset 0.
  std::string flipped = data;
  flipped[kFrameHeaderBytes + 1] ^= 0x04;
  r = scan_frames(flipped, 0, 1, noop);
  EXPECT_EQ(r.status, ScanResult::Status::Corrupt);
  EXPECT_EQ(r.records, 0u);
  EXPECT_EQ(r.error_offset, 0u);
  // A flipped length field fails the header CRC, not the bounds check.
  std::string bad_len = data;
  bad_len[24] ^= 0x40;
  r = scan_frames(bad_len, 0, 1, noop);
  EXPECT_EQ(r.status, ScanResult::Status::Corrupt);
  // An LSN gap is corruption.
  r = scan_frames(data, 0, 5, noop);
  EXPECT_EQ(r.status, ScanResult::Status::Corrupt);
}

TEST(DurableEngine, ReopenKeepsEverything) {
  const std::string dir = temp_dir("wal");
  EngineConfig cfg;
  cfg.space.dim = 16;
  std::vector<std::int64_t> ids;
  std::string before;
  {
    Engine eng(cfg);
    StoreOptions o;
    o.path = dir;
    o.checkpoint_interval_s = 0;
    o.checkpoint_wal_bytes = 0;
    o.segment_bytes = 4096;  // several segments
    eng.open_store(o);
    auto sp = eng.create_space("a");
    for (std::uint64_t k = 0; k < 50; ++k) {
      const auto v = test::keyed_vector(16, k);
      EpisodeInput in;
      in.embedding = v.data();
      in.embedding_size = v.size();
      in.content = "item " + std::to_string(k);
      ids.push_back(sp->remember(std::move(in)));
    }
    sp->forget(ids[7]);
    sp->link(ids[0], ids[1]);
    eng.checkpoint();
    sp->forget(ids[8]);
    before = eng.content_snapshot();
    eng.close();
  }
  Engine eng(cfg);
  StoreOptions o;
  o.path = dir;
  eng.open_store(o);
  EXPECT_EQ(eng.recovery_info().records_replayed, 1u);
  EXPECT_EQ(eng.content_snapshot(), before);
  auto sp = eng.space("a");
  EXPECT_FALSE(sp->contains(ids[7]));
  EXPECT_EQ(sp->get(ids[9]).content, "item 9");
  EXPECT_TRUE(sp->validate().ok());
  eng.close();
  fs::remove_all(dir);
}

TEST(DurableEngine, ListsItsCheckpoints) {
  const std::string dir = temp_dir("ckpt");
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine mem(cfg);
  EXPECT_THROW(mem.checkpoints(), StorageError);  // in memory: no store
  Engine eng(cfg);
  StoreOptions o;
  o.path = dir;
  o.checkpoint_interval_s = 0;
  o.checkpoint_wal_bytes = 0;
  eng.open_store(o);
  EXPECT_TRUE(eng.checkpoints().empty());
  auto sp = eng.create_space("a");
  const std::vector<float> v = {1, 0, 0, 0};
  EpisodeInput in;
  in.embedding = v.data();
  in.embedding_size = v.size();
  sp->remember(in);
  const std::uint64_t first = eng.checkpoint();
  sp->remember(in);
  const std::uint64_t second = eng.checkpoint();
  const std::vector<CheckpointFile> ckpts = eng.checkpoints();
  ASSERT_EQ(ckpts.size(), 2u);
  EXPECT_EQ(ckpts[0].lsn, first);
  EXPECT_EQ(ckpts[1].lsn, second);
  EXPECT_LT(first, second);
  EXPECT_EQ(ckpts[1].path, dir + "/" + checkpoint_name(second));
  EXPECT_TRUE(fs::exists(ckpts[0].path));
  eng.close();
  fs::remove_all(dir);
}

TEST(DurableEngine, SecondOpenOfALockedStoreFails) {
  const std::string dir = temp_dir("lock");
  EngineConfig cfg;
  cfg.space.dim = 4;
  Engine a(cfg), b(cfg);
  StoreOptions o;
  o.path = dir;
  a.open_store(o);
  EXPECT_THROW(b.open_store(o), StorageError);
  a.close();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace engram
