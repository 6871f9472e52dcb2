// Space: round trips, every error path, batch atomicity, forget semantics, id scheme.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/space.hpp"
#include "test_util.hpp"

namespace engram {
namespace {

using test::episode;
using test::keyed_vector;
using test::make_space;

constexpr std::size_t kDim = 8;

std::vector<float> vec(std::uint64_t key) { return keyed_vector(kDim, key); }

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

TEST(Space, RememberGetRoundTrip) {
  auto clock = std::make_shared<Clock>();
  clock->set(1000.5);
  auto sp = make_space(kDim, 3, "rt", clock);
  const auto v = vec(1);
  EpisodeInput e = episode(v, "caf\xc3\xa9 \xf0\x9f\x98\x80", 0.25);
  e.metadata = {{"source", "unit"}, {"lang", "fr"}, {"source", "dup keys kept in order"}};
  const std::int64_t id = sp->remember(std::move(e));
  EXPECT_EQ(id >> Space::kOrdinalShift, 3);
  EXPECT_EQ(id & Space::kLocalMask, 1);

  const MemoryView m = sp->get(id);
  EXPECT_EQ(m.id, id);
  EXPECT_EQ(m.kind, MemoryKind::Episode);
  EXPECT_EQ(m.embedding, v);  // exact bytes, not normalised
  EXPECT_EQ(m.content, "caf\xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_FLOAT_EQ(m.confidence, 0.25f);
  EXPECT_DOUBLE_EQ(m.timestamp, 1000.5);  // the engine clock's now
  ASSERT_EQ(m.metadata.size(), 3u);
  EXPECT_EQ(m.metadata[0], (std::pair<std::string, std::string>{"source", "unit"}));
  EXPECT_EQ(m.metadata[2].second, "dup keys kept in order");
  EXPECT_TRUE(sp->contains(id));
  EXPECT_EQ(sp->size(), 1u);

  const auto v2 = vec(2);
  EpisodeInput t = episode(v2);
  t.timestamp = -12.0;
  t.has_timestamp = true;
  EXPECT_DOUBLE_EQ(sp->get(sp->remember(std::move(t))).timestamp, -12.0);
}

TEST(Space, IdsAreSequentialWithinASpace) {
  auto sp = make_space(kDim, 9);
  for (std::int64_t i = 1; i <= 20; ++i) {
    const auto v = vec(static_cast<std::uint64_t>(i));
    EXPECT_EQ(sp->remember(episode(v)), (std::int64_t{9} << 40) | i);
  }
}

// Every rejected input leaves the space exactly as it was.
class SpaceErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    SpaceConfig c = test::small_config(kDim);
    c.max_content_bytes = 16;
    c.max_metadata_entries = 2;
    c.max_k = 50;
    sp = std::make_shared<Space>("errs", 1, c, std::make_shared<Clock>());
    good = vec(100);
    kept = sp->remember(episode(good, "kept"));
  }
  void TearDown() override {
    EXPECT_EQ(sp->size(), 1u) << "a rejected call changed the space";
    EXPECT_EQ(sp->get(kept).content, "kept");
    EXPECT_TRUE(sp->validate().ok());
  }
  std::shared_ptr<Space> sp;
  std::vector<float> good;
  std::int64_t kept = 0;
};

TEST_F(SpaceErrors, Dimension) {
  const std::vector<float> short_v(kDim - 1, 1.0f), long_v(kDim + 1, 1.0f);
  EXPECT_THROW(sp->remember(episode(short_v)), DimensionError);
  EXPECT_THROW(sp->remember(episode(long_v)), DimensionError);
  const std::vector<float> empty;
  EXPECT_THROW(sp->remember(episode(empty)), InvalidInputError);
  EpisodeInput missing;
  missing.embedding_size = kDim;
  EXPECT_THROW(sp->remember(missing), InvalidInputError);
}

TEST_F(SpaceErrors, NonFiniteAndZeroEmbeddings) {
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
    auto v = good;
    v[kDim - 1] = bad;
    EXPECT_THROW(sp->remember(episode(v)), InvalidInputError) << bad;
  }
  const std::vector<float> zero(kDim, 0.0f);
  EXPECT_THROW(sp->remember(episode(zero)), InvalidInputError);
}

TEST_F(SpaceErrors, ConfidenceOutsideUnitInterval) {
  for (const double bad : {-0.001, 1.001, -1.0, 5.0, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_THROW(sp->remember(episode(good, "", bad)), InvalidInputError) << bad;
  }
}

TEST_F(SpaceErrors, NonFiniteTimestamp) {
  EpisodeInput e = episode(good);
  e.has_timestamp = true;
  e.timestamp = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(sp->remember(e), InvalidInputError);
}

TEST_F(SpaceErrors, InvalidUtf8ContentAndMetadata) {
  EXPECT_THROW(sp->remember(episode(good, "bad \xff")), InvalidInputError);
  EXPECT_THROW(sp->remember(episode(good, "\xed\xa0\x80")), InvalidInputError);
  EpisodeInput key = episode(good);
  key.metadata = {{"k\xc0\xaf", "v"}};
  EXPECT_NE(message_of([&] { sp->remember(key); }).find("metadata key"), std::string::npos);
  EpisodeInput value = episode(good);
  value.metadata = {{"k", "\xe2\x82"}};
  EXPECT_NE(message_of([&] { sp->remember(value); }).find("metadata value"), std::string::npos);
}

TEST_F(SpaceErrors, OversizedContentAndMetadata) {
  const std::string msg = message_of([&] { sp->remember(episode(good, std::string(17, 'x'))); });
  EXPECT_NE(msg.find("17 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("16 bytes"), std::string::npos) << msg;
  EpisodeInput many = episode(good);
  many.metadata = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
  EXPECT_THROW(sp->remember(many), InvalidInputError);
  EpisodeInput big = episode(good);
  big.metadata = {{"key", std::string(14, 'v')}};
  EXPECT_THROW(sp->remember(big), InvalidInputError);
}

TEST_F(SpaceErrors, UnknownIds) {
  const std::int64_t local_zero = std::int64_t{1} << 40;
  for (const std::int64_t bad : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1}, local_zero, kept + 1, kept + 1000,
                                 (std::int64_t{1} << 40) | Space::kLocalMask, std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max()}) {
    EXPECT_THROW(sp->get(bad), MemoryNotFound) << bad;
    EXPECT_THROW(sp->forget(bad), MemoryNotFound) << bad;
    EXPECT_FALSE(sp->contains(bad)) << bad;
  }
  EXPECT_NE(message_of([&] { sp->get(kept + 1); }).find(std::to_string(kept + 1)), std::string::npos);
}

TEST_F(SpaceErrors, SearchArguments) {
  const std::vector<float> short_q(kDim - 1, 1.0f);
  EXPECT_THROW(sp->search(short_q, 5, std::nullopt), DimensionError);
  EXPECT_THROW(sp->exact_search(short_q, 5), DimensionError);
  auto nan_q = good;
  nan_q[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(sp->search(nan_q, 5, std::nullopt), InvalidInputError);
  const std::vector<float> zero(kDim, 0.0f);
  EXPECT_THROW(sp->search(zero, 5, std::nullopt), InvalidInputError);
  EXPECT_THROW(sp->search(good, 0, std::nullopt), InvalidInputError);
  EXPECT_THROW(sp->search(good, 51, std::nullopt), InvalidInputError);
  EXPECT_THROW(sp->exact_search(good, 0), InvalidInputError);
  EXPECT_THROW(sp->exact_search(good, 51), InvalidInputError);
  EXPECT_NE(message_of([&] { sp->search(good, 51, std::nullopt); }).find("between 1 and 50"), std::string::npos);
  EXPECT_THROW(sp->search(good, 5, 0), InvalidInputError);
  EXPECT_THROW(sp->search(good, 5, 100001), InvalidInputError);
  // The bounds themselves are accepted.
  EXPECT_EQ(sp->search(good, 1, std::nullopt).size(), 1u);
  EXPECT_EQ(sp->search(good, 50, 1).size(), 1u);
  EXPECT_EQ(sp->exact_search(good, 50).size(), 1u);
}

TEST(Space, ContentAtTheLimitIsAccepted) {
  SpaceConfig c = test::small_config(kDim);
  c.max_content_bytes = 16;
  Space sp("lim", 1, c, std::make_shared<Clock>());
  const auto v = vec(1);
  EXPECT_EQ(sp.get(sp.remember(episode(v, std::string(16, 'x')))).content.size(), 16u);
  EXPECT_NO_THROW(sp.remember(episode(v, "", 0.0)));
  EXPECT_NO_THROW(sp.remember(episode(v, "", 1.0)));
}

TEST(Space, CapacityLimit) {
  SpaceConfig c = test::small_config(kDim);
  c.max_memories = 5;
  Space sp("cap", 1, c, std::make_shared<Clock>());
  std::vector<std::vector<float>> vs;
  for (int i = 0; i < 8; ++i) vs.push_back(vec(static_cast<std::uint64_t>(i)));
  for (int i = 0; i < 3; ++i) sp.remember(episode(vs[i]));
  // A batch that would overflow stores nothing.
  std::vector<EpisodeInput> three = {episode(vs[3]), episode(vs[4]), episode(vs[5])};
  EXPECT_THROW(sp.remember_batch(three), CapacityError);
  EXPECT_EQ(sp.size(), 3u);
  // Exactly up to the limit is fine.
  std::vector<EpisodeInput> two = {episode(vs[3]), episode(vs[4])};
  EXPECT_EQ(sp.remember_batch(two).size(), 2u);
  const std::string msg = message_of([&] { sp.remember(episode(vs[5])); });
  EXPECT_NE(msg.find("limit of 5"), std::string::npos) << msg;
  EXPECT_THROW(sp.remember(episode(vs[5])), CapacityError);
  EXPECT_EQ(sp.size(), 5u);
  EXPECT_TRUE(sp.validate().ok());
}

TEST(Space, BatchIsAllOrNothing) {
  auto sp = make_space(kDim, 2);
  std::vector<std::vector<float>> vs;
  for (int i = 0; i < 6; ++i) vs.push_back(vec(static_cast<std::uint64_t>(i)));
  auto bad_dim = std::vector<float>(kDim + 2, 1.0f);

  std::vector<EpisodeInput> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(episode(vs[i], "item " + std::to_string(i)));
  batch[3].confidence = 7.0;
  const std::string msg = message_of([&] { sp->remember_batch(batch); });
  EXPECT_NE(msg.find("item 3"), std::string::npos) << msg;
  EXPECT_EQ(sp->size(), 0u);

  batch[3].confidence = 1.0;
  batch[4] = episode(bad_dim);
  EXPECT_THROW(sp->remember_batch(batch), DimensionError);  // the subclass survives the re-wrap
  batch[4] = episode(vs[4], "\xff");
  EXPECT_THROW(sp->remember_batch(batch), InvalidInputError);
  EXPECT_EQ(sp->size(), 0u);
  EXPECT_EQ(sp->stats().content_bytes, 0u);
  const auto probe = sp->exact_search(vs[0], 10);
  EXPECT_TRUE(probe.empty());

  // Failed batches consumed no ids: the next memory is local id 1.
  const std::int64_t first = sp->remember(episode(vs[5]));
  EXPECT_EQ(first & Space::kLocalMask, 1);
  EXPECT_TRUE(sp->validate().ok());
}

TEST(Space, BatchStoresEverythingWithContiguousIds) {
  auto sp = make_space(kDim, 4);
  constexpr int kN = 300;
  std::vector<std::vector<float>> vs;
  for (int i = 0; i < kN; ++i) vs.push_back(vec(static_cast<std::uint64_t>(i)));
  std::vector<EpisodeInput> batch;
  for (int i = 0; i < kN; ++i) batch.push_back(episode(vs[i], "m" + std::to_string(i)));
  EXPECT_TRUE(sp->remember_batch({}).empty());
  const auto ids = sp->remember_batch(std::move(batch));
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kN));
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(ids[i], (std::int64_t{4} << 40) | (i + 1));
    const MemoryView m = sp->get(ids[i]);
    EXPECT_EQ(m.content, "m" + std::to_string(i));
    EXPECT_EQ(m.embedding, vs[i]);
  }
  EXPECT_EQ(sp->size(), static_cast<std::size_t>(kN));
  // Every stored vector is found by its own embedding.
  for (int i = 0; i < kN; i += 10) {
    const auto hits = sp->search(vs[i], 1, std::nullopt);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].id, ids[i]);
    EXPECT_NEAR(hits[0].similarity, 1.0f, 1e-5);
  }
  const IntegrityReport r = sp->validate();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.records, static_cast<std::uint64_t>(kN));
}

TEST(Space, ForgetSemantics) {
  auto sp = make_space(kDim);
  std::vector<std::vector<float>> vs;
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 50; ++i) {
    vs.push_back(vec(static_cast<std::uint64_t>(i)));
    EpisodeInput e = episode(vs.back(), "content " + std::to_string(i));
    e.metadata = {{"k", "v"}};
    ids.push_back(sp->remember(std::move(e)));
  }
  const SpaceStats before = sp->stats();
  sp->forget(ids[7]);
  EXPECT_EQ(sp->size(), 49u);
  EXPECT_FALSE(sp->contains(ids[7]));
  EXPECT_THROW(sp->get(ids[7]), MemoryNotFound);
  EXPECT_THROW(sp->forget(ids[7]), MemoryNotFound);  // forgetting twice is an unknown id
  const SpaceStats after = sp->stats();
  EXPECT_EQ(after.episodes, 49u);
  EXPECT_EQ(after.forgotten, 1u);
  EXPECT_EQ(before.content_bytes - after.content_bytes, std::string("content 7").size());
  EXPECT_EQ(before.metadata_bytes - after.metadata_bytes, 2u);
  // Never returned, even for its own embedding and for k covering everything.
  for (const auto& h : sp->search(vs[7], 50, 200)) EXPECT_NE(h.id, ids[7]);
  for (const auto& h : sp->exact_search(vs[7], 50)) EXPECT_NE(h.id, ids[7]);
  EXPECT_EQ(sp->exact_search(vs[7], 50).size(), 49u);
  // Neighbours are untouched.
  EXPECT_EQ(sp->get(ids[6]).content, "content 6");
  EXPECT_EQ(sp->get(ids[8]).content, "content 8");
  // New memories never reuse a forgotten id.
  const auto v = vec(999);
  EXPECT_GT(sp->remember(episode(v)), ids.back());
  const IntegrityReport r = sp->validate();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.index.deleted, 1u);
}

TEST(Space, OtherSpacesIdsAreUnknown) {
  Engine engine(EngineConfig{test::small_config(kDim)});
  auto a = engine.create_space("a");
  auto b = engine.create_space("b");
  const auto v = vec(1);
  const std::int64_t ida = a->remember(episode(v, "in a"));
  const std::int64_t idb = b->remember(episode(v, "in b"));
  EXPECT_NE(ida, idb);
  EXPECT_EQ(ida & Space::kLocalMask, idb & Space::kLocalMask);  // same local sequence, different ordinal
  EXPECT_THROW(b->get(ida), MemoryNotFound);
  EXPECT_THROW(a->get(idb), MemoryNotFound);
  EXPECT_THROW(b->forget(ida), MemoryNotFound);
  EXPECT_FALSE(b->contains(ida));
  EXPECT_EQ(a->get(ida).content, "in a");
}

TEST(Space, IdsAreEngineUniqueAcrossDropAndRecreate) {
  Engine engine(EngineConfig{test::small_config(kDim)});
  std::set<std::int64_t> seen;
  std::vector<std::int64_t> old_ids;
  const auto v = vec(5);
  for (int round = 0; round < 5; ++round) {
    for (const char* name : {"x", "y"}) {
      auto sp = engine.create_space(name);
      for (int i = 0; i < 10; ++i) {
        const std::int64_t id = sp->remember(episode(v));
        EXPECT_TRUE(seen.insert(id).second) << "id " << id << " issued twice";
        // An id from a dropped namesake is unknown to the new space.
        for (const std::int64_t old : old_ids) EXPECT_FALSE(sp->contains(old));
      }
    }
    for (const std::int64_t id : seen) old_ids.push_back(id);
    engine.drop_space("x");
    engine.drop_space("y");
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(Space, DroppedSpaceRejectsEverything) {
  auto sp = make_space(kDim);
  const auto v = vec(1);
  const std::int64_t id = sp->remember(episode(v));
  sp->mark_dropped();
  EXPECT_TRUE(sp->dropped());
  EXPECT_THROW(sp->remember(episode(v)), SpaceNotFound);
  EXPECT_THROW(sp->remember_batch({}), SpaceNotFound);
  EXPECT_THROW(sp->get(id), SpaceNotFound);
  EXPECT_THROW(sp->forget(id), SpaceNotFound);
  EXPECT_THROW(sp->search(v, 1, std::nullopt), SpaceNotFound);
  EXPECT_THROW(sp->exact_search(v, 1), SpaceNotFound);
  EXPECT_THROW(sp->stats(), SpaceNotFound);
  EXPECT_THROW(sp->validate(), SpaceNotFound);
  EXPECT_FALSE(sp->contains(id));
}

TEST(Space, StatsTrackContentAndVectors) {
  auto sp = make_space(kDim);
  EXPECT_EQ(sp->stats().index_top_level, -1);
  std::uint64_t content = 0;
  for (int i = 0; i < 40; ++i) {
    const auto v = vec(static_cast<std::uint64_t>(i));
    const std::string text(static_cast<std::size_t>(i), 'c');
    content += text.size();
    sp->remember(episode(v, text));
  }
  const SpaceStats s = sp->stats();
  EXPECT_EQ(s.episodes, 40u);
  EXPECT_EQ(s.content_bytes, content);
  EXPECT_EQ(s.vector_bytes, 40u * kDim * sizeof(float));
  EXPECT_GE(s.index_top_level, 0);
  EXPECT_GE(s.total_bytes(), s.vector_bytes + s.content_bytes);
}

TEST(Space, InvalidConfigurationIsRejected) {
  auto clock = std::make_shared<Clock>();
  SpaceConfig zero_dim = test::small_config(kDim);
  zero_dim.dim = 0;
  EXPECT_THROW(Space("s", 1, zero_dim, clock), InvalidInputError);
  SpaceConfig bad_m = test::small_config(kDim);
  bad_m.hnsw.M = 1;
  EXPECT_THROW(Space("s", 1, bad_m, clock), InvalidInputError);
  SpaceConfig bad_ef = test::small_config(kDim);
  bad_ef.hnsw.ef_search = 0;
  EXPECT_THROW(Space("s", 1, bad_ef, clock), InvalidInputError);
  EXPECT_THROW(Space("bad name", 1, test::small_config(kDim), clock), InvalidInputError);
}

}  // namespace
}  // namespace engram
