// Idempotency keys in the engine (idempotency.hpp, space.hpp): replay, conflict, per-space
// bounds, concurrency, durability across restarts and checkpoints, and a retry after a failed
// durability wait (fault injection build).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/store.hpp"
#include "store_test_util.hpp"
#ifdef ENGRAM_FAULT_INJECTION
#include "engram/fault_env.hpp"
#endif

namespace engram {
namespace {

constexpr std::size_t kDim = 8;

EngineConfig config(std::size_t capacity = kDefaultIdempotencyCapacity) {
  EngineConfig c;
  c.space = test::small_config(kDim);
  c.idempotency_capacity = capacity;
  return c;
}

EpisodeInput ep(const std::vector<float>& v, std::string content = "") { return test::episode(v, std::move(content)); }

IdempotencyKey key(std::string k, std::string fp = "fp") { return {std::move(k), std::move(fp)}; }

TEST(IdempotencyTable, EvictsOldestBeyondCapacityInInsertionOrder) {
  IdempotencyTable t(3);
  for (int i = 0; i < 5; ++i) t.insert("k" + std::to_string(i), {"f", i + 1, 1, 0});
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.find("k0"), nullptr);
  EXPECT_EQ(t.find("k1"), nullptr);
  ASSERT_NE(t.find("k4"), nullptr);
  EXPECT_EQ(t.find("k4")->first_id, 5);
  EXPECT_EQ(t.evictions(), 2u);
  t.insert("k2", {"g", 9, 1, 0});  // replaced: now the newest
  t.insert("k5", {"f", 6, 1, 0});
  std::vector<std::string> order;
  t.for_each([&](const std::string& k, const IdempotencyTable::Entry&) { order.push_back(k); });
  EXPECT_EQ(order, (std::vector<std::string>{"k4", "k2", "k5"}));
  t.set_capacity(1);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_NE(t.find("k5"), nullptr);
}

TEST(Idempotency, SameKeyReplaysAndDifferentPayloadConflicts) {
  Engine eng(config());
  auto sp = eng.create_space("a");
  const auto v = test::keyed_vector(kDim, 1), w = test::keyed_vector(kDim, 2);
  const Remembered first = sp->remember(ep(v, "one"), key("k1", "fp-a"));
  EXPECT_FALSE(first.replayed);
  const Remembered again = sp->remember(ep(v, "one"), key("k1", "fp-a"));
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(sp->size(), 1u);
  try {
    sp->remember(ep(w, "two"), key("k1", "fp-b"));
    FAIL() << "a reused key with another fingerprint was accepted";
  } catch (const IdempotencyConflict& e) {
    EXPECT_NE(std::string(e.what()).find("k1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("different payload"), std::string::npos) << e.what();
  }
  EXPECT_EQ(sp->size(), 1u);
  // Unkeyed writes are untouched; another key stores.
  sp->remember(ep(v));
  EXPECT_FALSE(sp->remember(ep(w), key("k2")).replayed);
  EXPECT_EQ(sp->size(), 3u);
  EXPECT_EQ(sp->idempotency_keys(), 2u);
  // Bad keys are input errors.
  EXPECT_THROW(sp->remember(ep(v), key("")), InvalidInputError);
  EXPECT_THROW(sp->remember(ep(v), key(std::string(kMaxIdempotencyKeyBytes + 1, 'x'))), InvalidInputError);
  EXPECT_THROW(sp->remember(ep(v), key("k9", std::string(kMaxFingerprintBytes + 1, 'f'))), InvalidInputError);
  EXPECT_THROW(sp->remember(ep(v), key("\xff")), InvalidInputError);
  EXPECT_EQ(sp->size(), 3u);
}

TEST(Idempotency, BatchKeyAndPerItemKeys) {
  Engine eng(config());
  auto sp = eng.create_space("a");
  std::vector<std::vector<float>> vs;
  for (int i = 0; i < 6; ++i) vs.push_back(test::keyed_vector(kDim, 10 + i));
  const auto batch = [&](int from, int n) {
    std::vector<EpisodeInput> b;
    for (int i = from; i < from + n; ++i) b.push_back(ep(vs[i]));
    return b;
  };
  const RememberedBatch b1 = sp->remember_batch(batch(0, 3), key("b"));
  ASSERT_EQ(b1.ids.size(), 3u);
  EXPECT_FALSE(b1.replayed);
  const RememberedBatch b2 = sp->remember_batch(batch(0, 3), key("b"));
  EXPECT_TRUE(b2.replayed);
  EXPECT_EQ(b2.ids, b1.ids);
  EXPECT_THROW(sp->remember_batch(batch(0, 2), key("b")), IdempotencyConflict);  // another item count
  EXPECT_EQ(sp->size(), 3u);
  // Per item: a replay of "b"'s key is a conflict (it covered 3 items); "x" new, then repeated.
  std::vector<std::optional<IdempotencyKey>> keys = {key("x"), std::nullopt, key("x"), key("y")};
  const auto r = sp->remember_each(batch(2, 4), keys);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_FALSE(r[0].replayed);
  EXPECT_FALSE(r[1].replayed);
  EXPECT_TRUE(r[2].replayed);
  EXPECT_EQ(r[2].id, r[0].id);
  EXPECT_FALSE(r[3].replayed);
  EXPECT_EQ(sp->size(), 6u);  // x, the unkeyed one, y
  EXPECT_EQ(r[3].id, r[1].id + 1);
  const auto again = sp->remember_each(batch(2, 4), keys);
  EXPECT_TRUE(again[0].replayed && again[2].replayed && again[3].replayed);
  EXPECT_FALSE(again[1].replayed);  // the unkeyed item is stored again
  EXPECT_EQ(again[3].id, r[3].id);
  EXPECT_EQ(sp->size(), 7u);
  // A conflict anywhere stores nothing of the call.
  std::vector<std::optional<IdempotencyKey>> bad = {key("z"), key("y", "other")};
  try {
    sp->remember_each(batch(0, 2), bad);
    FAIL() << "conflict accepted";
  } catch (const IdempotencyConflict& e) {
    EXPECT_NE(std::string(e.what()).find("item 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(sp->size(), 7u);
  EXPECT_THROW(sp->remember_each(batch(0, 2), {key("q")}), InvalidInputError);  // one key per episode
}

TEST(Idempotency, KeysAreScopedAndBoundedPerSpace) {
  Engine eng(config(50));
  auto a = eng.create_space("a"), b = eng.create_space("b");
  const auto v = test::keyed_vector(kDim, 3);
  const std::int64_t mine = a->remember(ep(v), key("shared")).id;
  // Same key in another space: its own write.
  const Remembered other = b->remember(ep(v), key("shared"));
  EXPECT_FALSE(other.replayed);
  EXPECT_NE(other.id, mine);
  // Another tenant's flood of new keys never evicts this space's keys.
  for (int i = 0; i < 500; ++i) b->remember(ep(v), key("flood-" + std::to_string(i)));
  EXPECT_EQ(b->idempotency_keys(), 50u);
  const Remembered retry = a->remember(ep(v), key("shared"));
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(retry.id, mine);
  // Within the flooded space the oldest went first.
  EXPECT_FALSE(b->remember(ep(v), key("flood-0")).replayed);
  EXPECT_TRUE(b->remember(ep(v), key("flood-499")).replayed);
}

TEST(Idempotency, ConcurrentCallsWithOneNewKeyStoreOnce) {
  Engine eng(config());
  auto sp = eng.create_space("a");
  const auto v = test::keyed_vector(kDim, 4);
  for (int round = 0; round < 20; ++round) {
    const std::string k = "race-" + std::to_string(round);
    std::vector<std::int64_t> ids(8);
    std::atomic<int> fresh{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t) {
      ts.emplace_back([&, t] {
        const Remembered r = sp->remember(ep(v), key(k));
        ids[t] = r.id;
        if (!r.replayed) fresh.fetch_add(1);
      });
    }
    for (auto& t : ts) t.join();
    EXPECT_EQ(fresh.load(), 1);
    EXPECT_EQ(std::set<std::int64_t>(ids.begin(), ids.end()).size(), 1u);
  }
  EXPECT_EQ(sp->size(), 20u);
}

TEST(Idempotency, KeysSurviveRestartCheckpointAndGoWithTheSpace) {
  test::ScratchDir dir("idem");
  const std::string path = dir.path() + "/s";
  const auto v = test::keyed_vector(kDim, 5);
  std::int64_t id1 = 0, id2 = 0;
  std::vector<std::int64_t> batch_ids;
  {
    Engine eng(config());
    eng.open_store(test::store_options(path));
    auto sp = eng.create_space("a");
    id1 = sp->remember(ep(v, "one"), key("k1")).id;
    batch_ids = sp->remember_batch({ep(v), ep(v)}, key("kb")).ids;
    eng.close();
  }
  {
    Engine eng(config());
    eng.open_store(test::store_options(path));  // keys from the WAL
    auto sp = eng.space("a");
    const Remembered r = sp->remember(ep(v, "one"), key("k1"));
    EXPECT_TRUE(r.replayed);
    EXPECT_EQ(r.id, id1);
    EXPECT_EQ(sp->remember_batch({ep(v), ep(v)}, key("kb")).ids, batch_ids);
    EXPECT_THROW(sp->remember(ep(v), key("k1", "other")), IdempotencyConflict);
    id2 = sp->remember(ep(v), key("k2")).id;
    eng.checkpoint();  // keys in the checkpoint; segments before it may go
    eng.checkpoint();
    eng.close();
  }
  {
    Engine eng(config());
    eng.open_store(test::store_options(path));
    auto sp = eng.space("a");
    EXPECT_EQ(sp->remember(ep(v), key("k1", "fp")).id, id1);
    EXPECT_TRUE(sp->remember(ep(v), key("k2")).replayed);
    EXPECT_EQ(sp->remember(ep(v), key("k2")).id, id2);
    EXPECT_EQ(sp->size(), 4u);
    eng.drop_space("a");
    auto again = eng.create_space("a");
    EXPECT_FALSE(again->remember(ep(v), key("k1")).replayed);  // the dropped space's keys are gone
    eng.close();
  }
  Engine eng(config());
  eng.open_store(test::store_options(path));
  EXPECT_TRUE(eng.space("a")->remember(ep(v), key("k1")).replayed);
  EXPECT_EQ(eng.space("a")->size(), 1u);
  // The files this build wrote carry its minor version.
  const auto segs = list_segments(Env::posix(), path + "/wal");
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ(check_segment_header(Env::posix().read_file(segs.back().path), segs.back().path).minor, kFormatMinor);
}

TEST(Idempotency, RecoveryWithSmallerCapacityKeepsTheNewestKeys) {
  test::ScratchDir dir("idem-cap");
  const std::string path = dir.path() + "/s";
  const auto v = test::keyed_vector(kDim, 6);
  {
    Engine eng(config(100));
    eng.open_store(test::store_options(path));
    auto sp = eng.create_space("a");
    for (int i = 0; i < 30; ++i) sp->remember(ep(v), key("k" + std::to_string(i)));
    eng.close();
  }
  Engine eng(config(10));
  eng.open_store(test::store_options(path));
  auto sp = eng.space("a");
  EXPECT_EQ(sp->idempotency_keys(), 10u);
  EXPECT_TRUE(sp->remember(ep(v), key("k29")).replayed);
  EXPECT_TRUE(sp->remember(ep(v), key("k20")).replayed);
  EXPECT_FALSE(sp->remember(ep(v), key("k19")).replayed);
}

#ifdef ENGRAM_FAULT_INJECTION
// Defect 1 of issue 13: a write answered with a retryable error had in fact been stored, and its
// retry stored it again. With a key, the retry replays the stored id once the disk accepts.
TEST(Idempotency, RetryAfterFullDiskReplaysInsteadOfStoringTwice) {
  test::ScratchDir dir("idem-enospc");
  auto env = std::make_shared<FaultEnv>(Env::posix(), false);
  const std::string path = dir.path() + "/s";
  const auto v = test::keyed_vector(kDim, 7);
  std::string before;
  std::int64_t id = 0;
  for (const Durability mode : {Durability::Fsync, Durability::Group}) {
    SCOPED_TRACE(durability_name(mode));
    test::ScratchDir d2("idem-enospc-mode");
    Engine eng(config());
    eng.open_store(test::store_options(d2.path() + "/s", env, mode));
    auto sp = eng.create_space("a");
    sp->remember(ep(v), key("warm"));
    env->set_plan("ioerror=write@*/wal/*:ENOSPC:partial");
    EXPECT_THROW(sp->remember(ep(v, "x"), key("k")), StorageError);
    EXPECT_THROW(sp->remember(ep(v, "x"), key("k")), StorageError);  // still full: still not acknowledged
    env->set_plan("");
    const Remembered r = sp->remember(ep(v, "x"), key("k"));
    EXPECT_TRUE(r.replayed);
    EXPECT_EQ(sp->size(), 2u);
    EXPECT_EQ(sp->get(r.id).content, "x");
    before = eng.content_snapshot();
    id = r.id;
    eng.close();
    Engine re(config());
    re.open_store(test::store_options(d2.path() + "/s", env, mode));
    EXPECT_EQ(re.content_snapshot(), before);
    EXPECT_EQ(re.space("a")->size(), 2u);
    EXPECT_EQ(re.space("a")->remember(ep(v, "x"), key("k")).id, id);
    re.close();
  }
}
#endif

}  // namespace
}  // namespace engram
