// Spreading activation latency through Space::spread (locks, liveness checks and all) at 3 hops
// on random association graphs of 10K and 100K episodes with out-degree 8.
//
// Run: build/<dir>/bench_spread [--benchmark_filter=...]. Counters: p50_us / p99_us per spread
// (measured per call), results (mean nodes returned). Configs:
//  - defaults: threshold 0.1, fan effect on, episodic weight 0.3 (the engine defaults; prunes
//    early, as the requirements' parameters do on episode-only graphs)
//  - wide: threshold 0.001, fan effect on, all direction weights 1 (about 1 + 8 + 64 + 512 nodes)
//  - full: threshold 0, fan effect off, all direction weights 1 (no pruning at all)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "engram/clock.hpp"
#include "engram/space.hpp"

namespace {

constexpr std::size_t kDim = 8;
constexpr int kDegree = 8;

struct Fixture {
  std::shared_ptr<engram::Space> space;
  std::vector<std::int64_t> ids;
};

// Built once per size and reused by every config.
const Fixture& fixture(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<Fixture>> cache;
  auto& slot = cache[n];
  if (slot) return *slot;
  slot = std::make_unique<Fixture>();
  engram::SpaceConfig c;
  c.dim = kDim;
  c.hnsw.M = 8;
  c.hnsw.ef_construction = 16;
  slot->space = std::make_shared<engram::Space>("bench", 1, c, std::make_shared<engram::Clock>());
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> data(n * kDim);
  for (float& x : data) x = normal(rng);
  std::vector<engram::EpisodeInput> batch(n);
  for (std::size_t i = 0; i < n; ++i) {
    batch[i].embedding = data.data() + i * kDim;
    batch[i].embedding_size = kDim;
  }
  slot->ids = slot->space->remember_batch(std::move(batch));
  std::uniform_int_distribution<std::size_t> pick(0, n - 1);
  std::uniform_real_distribution<float> weight(0.1f, 1.0f);
  for (std::size_t i = 0; i < n; ++i) {
    for (int d = 0; d < kDegree; ++d) {
      const std::size_t j = pick(rng);
      if (j != i) slot->space->link(slot->ids[i], slot->ids[j], engram::EdgeKind::Association, weight(rng));
    }
  }
  return *slot;
}

engram::SpreadConfig config(int which) {
  engram::SpreadConfig c;  // defaults: 3 hops, exponential 0.7, threshold 0.1, fan on
  if (which >= 1) {
    c.threshold = 0.001;
    c.direction = {1.0, 1.0, 1.0, 1.0};
  }
  if (which == 2) {
    c.threshold = 0.0;
    c.fan_effect = false;
  }
  return c;
}

void BM_Spread3Hops(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const Fixture& f = fixture(n);
  const engram::SpreadConfig c = config(static_cast<int>(state.range(1)));
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, n - 1);
  std::vector<double> micros;
  micros.reserve(1 << 16);
  std::size_t results = 0;
  for (auto _ : state) {
    const engram::Seed seed{f.ids[pick(rng)], 1.0};
    const auto t0 = std::chrono::steady_clock::now();
    auto r = f.space->spread({&seed, 1}, c);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(r.data());
    results += r.size();
    micros.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(micros.begin(), micros.end());
  const auto q = [&](double p) {
    return micros[std::min(micros.size() - 1, static_cast<std::size_t>(p * micros.size()))];
  };
  state.counters["p50_us"] = q(0.50);
  state.counters["p99_us"] = q(0.99);
  state.counters["results"] = static_cast<double>(results) / static_cast<double>(micros.size());
  state.SetLabel(state.range(1) == 0 ? "defaults" : state.range(1) == 1 ? "wide" : "full");
}

BENCHMARK(BM_Spread3Hops)
    ->ArgsProduct({{10000, 100000}, {0, 1, 2}})
    ->ArgNames({"nodes", "config"})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
