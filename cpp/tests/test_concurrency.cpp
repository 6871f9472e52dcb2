// Concurrency: writers, readers and forgetters in parallel for a bounded time, then a full audit;
// spaces created and dropped while others operate on them; close() under load. Test names start
// with "Concurrency" so the ThreadSanitizer run can select them (--gtest_filter='Concurrency*').
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "test_util.hpp"

namespace engram {
namespace {

using test::episode;
using test::keyed_vector;
using Clk = std::chrono::steady_clock;

constexpr std::size_t kDim = 16;
constexpr auto kRunFor = std::chrono::seconds(2);

std::string content_for(std::uint64_t key) { return "k" + std::to_string(key); }

// Failures seen by worker threads, reported by the main thread (a few messages are enough).
class Failures {
 public:
  void add(std::string msg) {
    std::lock_guard lock(mu_);
    if (msgs_.size() < 10) msgs_.push_back(std::move(msg));
    ++count_;
  }
  void report() const {
    std::lock_guard lock(mu_);
    EXPECT_EQ(count_, 0u) << "first failures:\n" << join();
  }

 private:
  std::string join() const {
    std::string out;
    for (const auto& m : msgs_) out += "  " + m + "\n";
    return out;
  }
  mutable std::mutex mu_;
  std::vector<std::string> msgs_;
  std::size_t count_ = 0;
};

// Runs `body(stop)` on each of `n` threads until kRunFor has passed.
template <class Body>
void run_for(std::vector<std::function<void(const std::atomic<bool>&)>> bodies, Body&& while_running) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  threads.reserve(bodies.size());
  for (auto& b : bodies) threads.emplace_back([&b, &stop] { b(stop); });
  while_running();
  stop.store(true);
  for (auto& t : threads) t.join();
}

// Ids acknowledged to writers, with the key their content and embedding derive from.
struct Acked {
  std::mutex mu;
  std::vector<std::pair<std::int64_t, std::uint64_t>> list;
  void add(std::int64_t id, std::uint64_t key) {
    std::lock_guard lock(mu);
    list.emplace_back(id, key);
  }
  bool pick(std::mt19937_64& rng, std::pair<std::int64_t, std::uint64_t>& out) {
    std::lock_guard lock(mu);
    if (list.empty()) return false;
    out = list[std::uniform_int_distribution<std::size_t>(0, list.size() - 1)(rng)];
    return true;
  }
};

// Forgotten ids in the order their forget() returned; `count` is published after each entry.
struct Forgotten {
  std::mutex mu;
  std::unordered_map<std::int64_t, std::uint64_t> seq;
  std::atomic<std::uint64_t> count{0};
  void add(std::int64_t id) {
    std::lock_guard lock(mu);
    const std::uint64_t n = count.load(std::memory_order_relaxed);
    seq.emplace(id, n);
    count.store(n + 1, std::memory_order_release);
  }
  // Whether `id` was forgotten before the caller observed `before` forgets.
  bool before(std::int64_t id, std::uint64_t observed) {
    std::lock_guard lock(mu);
    const auto it = seq.find(id);
    return it != seq.end() && it->second < observed;
  }
  bool contains(std::int64_t id) {
    std::lock_guard lock(mu);
    return seq.count(id) != 0;
  }
};

// Keys divisible by 4 belong to the forgetter; readers may rely on every other acked id.
bool forgettable(std::uint64_t key) { return key % 4 == 0; }

TEST(Concurrency, WritersReadersForgettersThenAudit) {
  Engine engine(EngineConfig{test::small_config(kDim)});
  auto sp = engine.create_space("busy");
  Acked acked;
  Forgotten forgotten;
  Failures failures;
  std::atomic<std::uint64_t> searches{0}, gets{0}, validations{0};

  std::vector<std::function<void(const std::atomic<bool>&)>> bodies;
  for (std::uint64_t w = 0; w < 2; ++w) {
    bodies.emplace_back([&, w](const std::atomic<bool>& stop) {
      std::uint64_t n = 0;
      try {
        while (!stop.load()) {
          if (n % 8 == 7) {  // every eighth write is a batch (indexed in parallel by TBB)
            std::vector<std::vector<float>> vs;
            std::vector<std::uint64_t> keys;
            std::vector<EpisodeInput> batch;
            for (int i = 0; i < 4; ++i) {
              keys.push_back((w << 32) | n++);
              vs.push_back(keyed_vector(kDim, keys.back()));
            }
            for (int i = 0; i < 4; ++i) batch.push_back(episode(vs[i], content_for(keys[i])));
            const auto ids = sp->remember_batch(std::move(batch));
            for (int i = 0; i < 4; ++i) acked.add(ids[i], keys[i]);
          } else {
            const std::uint64_t key = (w << 32) | n++;
            const auto v = keyed_vector(kDim, key);
            acked.add(sp->remember(episode(v, content_for(key))), key);
          }
        }
      } catch (const std::exception& e) {
        failures.add(std::string("writer: ") + e.what());
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    bodies.emplace_back([&, r](const std::atomic<bool>& stop) {
      std::mt19937_64 rng(100 + r);
      try {
        while (!stop.load()) {
          std::pair<std::int64_t, std::uint64_t> pick;
          if (!acked.pick(rng, pick)) continue;
          const auto [id, key] = pick;
          const auto v = keyed_vector(kDim, key);
          const std::uint64_t observed = forgotten.count.load(std::memory_order_acquire);
          const auto hits =
              (searches.fetch_add(1) % 8 == 0) ? sp->exact_search(v, 10) : sp->search(v, 10, std::nullopt);
          for (const SearchHit& h : hits) {
            if (forgotten.before(h.id, observed)) failures.add("search returned forgotten id " + std::to_string(h.id));
          }
          if (!forgettable(key)) {
            gets.fetch_add(1);
            const MemoryView m = sp->get(id);  // never forgotten: must be there, intact
            if (m.content != content_for(key) || m.embedding != v) {
              failures.add("get returned wrong data for id " + std::to_string(id));
            }
          } else if (forgotten.before(id, observed)) {
            try {
              (void)sp->get(id);
              failures.add("get succeeded for forgotten id " + std::to_string(id));
            } catch (const MemoryNotFound&) {
            }
          }
        }
      } catch (const std::exception& e) {
        failures.add(std::string("reader: ") + e.what());
      }
    });
  }
  bodies.emplace_back([&](const std::atomic<bool>& stop) {
    std::mt19937_64 rng(7);
    try {
      while (!stop.load()) {
        std::pair<std::int64_t, std::uint64_t> pick;
        if (!acked.pick(rng, pick) || !forgettable(pick.second) || forgotten.contains(pick.first)) continue;
        sp->forget(pick.first);  // only this thread forgets, so the id must still be live
        forgotten.add(pick.first);
      }
    } catch (const std::exception& e) {
      failures.add(std::string("forgetter: ") + e.what());
    }
  });
  bodies.emplace_back([&](const std::atomic<bool>& stop) {
    try {
      while (!stop.load()) {
        // Takes the structure lock exclusively: interleaves with everything above.
        const IntegrityReport rep = sp->validate();
        validations.fetch_add(1);
        if (!rep.ok()) failures.add("validate() found faults while running");
        (void)engine.prometheus();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    } catch (const std::exception& e) {
      failures.add(std::string("auditor: ") + e.what());
    }
  });

  run_for(std::move(bodies), [] { std::this_thread::sleep_for(kRunFor); });
  failures.report();

  // The run did real work of every kind.
  ASSERT_GT(acked.list.size(), 0u);
  EXPECT_GT(forgotten.seq.size(), 0u);
  EXPECT_GT(searches.load(), 0u);
  EXPECT_GT(gets.load(), 0u);
  EXPECT_GT(validations.load(), 0u);

  // Every acknowledged id is present (unless forgotten), intact; forgotten ones are gone.
  std::set<std::int64_t> unique;
  for (const auto& [id, key] : acked.list) {
    EXPECT_TRUE(unique.insert(id).second) << "id " << id << " acknowledged twice";
    if (forgotten.seq.count(id) != 0) {
      EXPECT_THROW(sp->get(id), MemoryNotFound) << id;
      EXPECT_FALSE(sp->contains(id));
      continue;
    }
    const MemoryView m = sp->get(id);
    EXPECT_EQ(m.content, content_for(key));
    EXPECT_EQ(m.embedding, keyed_vector(kDim, key));
  }
  EXPECT_EQ(sp->size(), acked.list.size() - forgotten.seq.size());
  // No search, approximate or exact, returns a forgotten id, even queried with its own vector.
  for (const auto& [id, key] : acked.list) {
    if (!forgettable(key)) continue;
    const auto v = keyed_vector(kDim, key);
    for (const SearchHit& h : sp->search(v, 10, 64)) ASSERT_EQ(forgotten.seq.count(h.id), 0u) << h.id;
    for (const SearchHit& h : sp->exact_search(v, 10)) ASSERT_EQ(forgotten.seq.count(h.id), 0u) << h.id;
  }
  const IntegrityReport rep = sp->validate();
  EXPECT_TRUE(rep.ok()) << "broken=" << rep.index.broken_links << " layer=" << rep.index.layer_violations
                        << " dangling=" << rep.index.dangling_ids << " mismatches=" << rep.record_index_mismatches;
  EXPECT_EQ(rep.records, acked.list.size());  // no id was allocated without being acknowledged
  EXPECT_EQ(rep.index.deleted, forgotten.seq.size());
  EXPECT_EQ(sp->metrics().snapshot(Op::Remember).errors, 0u);
  EXPECT_EQ(sp->metrics().snapshot(Op::Forget).errors, 0u);
}

TEST(Concurrency, CreateAndDropSpacesWhileOperating) {
  EngineConfig cfg{test::small_config(kDim)};
  Engine engine(cfg);
  const std::vector<std::string> names = {"s0", "s1", "s2", "s3"};
  struct Written {
    std::shared_ptr<Space> space;
    std::int64_t id;
    std::uint64_t key;
  };
  std::mutex written_mu;
  std::vector<Written> written;
  Failures failures;
  std::atomic<std::uint64_t> creates{0}, drops{0}, ops{0};

  std::vector<std::function<void(const std::atomic<bool>&)>> bodies;
  for (int a = 0; a < 2; ++a) {
    bodies.emplace_back([&, a](const std::atomic<bool>& stop) {
      std::mt19937_64 rng(50 + a);
      try {
        while (!stop.load()) {
          const std::string& name = names[rng() % names.size()];
          try {
            if (rng() % 2 == 0) {
              engine.create_space(name);
              creates.fetch_add(1);
            } else {
              engine.drop_space(name);
              drops.fetch_add(1);
            }
          } catch (const SpaceExists&) {
          } catch (const SpaceNotFound&) {
          }
          if (rng() % 16 == 0) {
            (void)engine.prometheus();
            (void)engine.space_names();
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      } catch (const std::exception& e) {
        failures.add(std::string("admin: ") + e.what());
      }
    });
  }
  for (int w = 0; w < 3; ++w) {
    bodies.emplace_back([&, w](const std::atomic<bool>& stop) {
      std::mt19937_64 rng(w);
      std::uint64_t n = 0;
      try {
        while (!stop.load()) {
          std::shared_ptr<Space> sp;
          try {
            sp = engine.space(names[rng() % names.size()]);
          } catch (const SpaceNotFound&) {
            continue;
          }
          // A drop may land between any two of these calls: SpaceNotFound is the only acceptable error.
          try {
            for (int i = 0; i < 5; ++i) {
              const std::uint64_t key = (static_cast<std::uint64_t>(w) << 32) | n++;
              const auto v = keyed_vector(kDim, key);
              const std::int64_t id = sp->remember(episode(v, content_for(key)));
              {
                std::lock_guard lock(written_mu);
                written.push_back({sp, id, key});
              }
              if (sp->get(id).content != content_for(key)) failures.add("wrong content read back");
              (void)sp->search(v, 5, std::nullopt);
              ops.fetch_add(1);
            }
          } catch (const SpaceNotFound&) {
          }
        }
      } catch (const std::exception& e) {
        failures.add(std::string("worker: ") + e.what());
      }
    });
  }

  run_for(std::move(bodies), [] { std::this_thread::sleep_for(kRunFor); });
  failures.report();
  EXPECT_GT(creates.load(), 0u);
  EXPECT_GT(drops.load(), 0u);
  EXPECT_GT(ops.load(), 0u);

  std::set<std::int64_t> unique;
  std::set<const Space*> live_spaces;
  for (const Written& w : written) {
    EXPECT_TRUE(unique.insert(w.id).second) << "id " << w.id << " issued twice across spaces";
    if (w.space->dropped()) {
      EXPECT_THROW(w.space->get(w.id), SpaceNotFound);
    } else {
      EXPECT_EQ(w.space->get(w.id).content, content_for(w.key));
      live_spaces.insert(w.space.get());
    }
  }
  // Live handles are exactly the registered spaces, and each is structurally sound.
  for (const auto& sp : engine.spaces()) {
    EXPECT_FALSE(sp->dropped());
    EXPECT_TRUE(sp->validate().ok()) << sp->name();
  }
  for (const Space* s : live_spaces) {
    bool registered = false;
    for (const auto& sp : engine.spaces()) registered |= sp.get() == s;
    EXPECT_TRUE(registered) << s->name() << " is live but not registered";
  }
  engine.close();
  for (const Written& w : written) EXPECT_TRUE(w.space->dropped());
}

TEST(Concurrency, CloseUnderLoad) {
  Engine engine(EngineConfig{test::small_config(kDim)});
  engine.create_space("a");
  engine.create_space("b");
  Failures failures;
  std::atomic<std::uint64_t> after_close{0};
  std::atomic<bool> closed{false};

  std::vector<std::function<void(const std::atomic<bool>&)>> bodies;
  for (int w = 0; w < 3; ++w) {
    bodies.emplace_back([&, w](const std::atomic<bool>& stop) {
      std::uint64_t n = 0;
      while (!stop.load()) {
        const bool was_closed = closed.load();
        try {
          auto sp = engine.space(w % 2 == 0 ? "a" : "b");
          const auto v = keyed_vector(kDim, n++);
          const std::int64_t id = sp->remember(episode(v));
          (void)sp->search(v, 3, std::nullopt);
          (void)sp->get(id);
          if (was_closed) failures.add("an operation succeeded after close() returned");
        } catch (const ClosedError&) {
          after_close.fetch_add(1);
        } catch (const SpaceNotFound&) {
          after_close.fetch_add(1);
        } catch (const std::exception& e) {
          failures.add(std::string("worker: ") + e.what());
        }
      }
    });
  }
  run_for(std::move(bodies), [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    engine.close();
    closed.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  });
  failures.report();
  EXPECT_GT(after_close.load(), 0u);
  EXPECT_TRUE(engine.closed());
}

}  // namespace
}  // namespace engram
