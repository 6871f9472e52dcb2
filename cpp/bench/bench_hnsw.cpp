// HNSW insert and search at 10K vectors of 768-d (M 16), parameterised by ef.
//
// Run: build/bench/bench_hnsw. The data is a clustered, low-intrinsic-dimension mixture (100
// centres, a 16-d latent Gaussian per point projected into 768-d, plus small isotropic noise),
// the shape of real text embeddings, generated deterministically. Search rows also report
// recall@10 against exact brute force over the same queries, so a faster ef is only
// comparable at equal recall.
#include <benchmark/benchmark.h>
#include <tbb/parallel_for.h>

#include <cmath>
#include <cstddef>
#include <memory>
#include <random>
#include <unordered_set>
#include <vector>

#include "engram/hnsw.hpp"

namespace {

constexpr std::size_t kDim = 768;
constexpr std::size_t kN = 10000;
constexpr std::size_t kQueries = 500;
constexpr std::size_t kK = 10;

struct Dataset {
  std::vector<float> base;     // kN x kDim
  std::vector<float> queries;  // kQueries x kDim, drawn from the same distribution
};

Dataset make_dataset() {
  constexpr std::size_t kCentres = 100, kLatent = 16;
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<float> uni(-1.f, 1.f);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> centres(kCentres * kDim), proj(kLatent * kDim);
  for (float& x : centres) x = uni(gen);
  for (float& x : proj) x = normal(gen) / std::sqrt(static_cast<float>(kLatent));
  const auto fill = [&](std::vector<float>& out, std::size_t n) {
    out.resize(n * kDim);
    std::uniform_int_distribution<std::size_t> pick(0, kCentres - 1);
    std::vector<float> z(kLatent);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t c = pick(gen);
      for (float& x : z) x = normal(gen);
      float* v = out.data() + i * kDim;
      for (std::size_t d = 0; d < kDim; ++d) {
        float s = 0.f;
        for (std::size_t l = 0; l < kLatent; ++l) s += z[l] * proj[l * kDim + d];
        v[d] = centres[c * kDim + d] + 0.5f * s + 0.05f * normal(gen);
      }
    }
  };
  Dataset ds;
  fill(ds.base, kN);
  fill(ds.queries, kQueries);
  return ds;
}

const Dataset& dataset() {
  static const Dataset ds = make_dataset();
  return ds;
}

engram::HnswParams params(std::size_t ef_construction) {
  engram::HnswParams p;
  p.M = 16;
  p.ef_construction = static_cast<std::uint32_t>(ef_construction);
  return p;
}

void BM_InsertSerial(benchmark::State& state) {
  const Dataset& ds = dataset();
  const auto efc = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    engram::HnswIndex index(kDim, params(efc));
    for (std::size_t i = 0; i < kN; ++i) index.add(static_cast<std::int64_t>(i), ds.base.data() + i * kDim);
    benchmark::DoNotOptimize(index.size());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kN));
}

// The way Space::remember_batch builds: allocate serially, link in parallel with TBB (all cores).
void BM_InsertParallel(benchmark::State& state) {
  const Dataset& ds = dataset();
  const auto efc = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    engram::HnswIndex index(kDim, params(efc));
    std::vector<std::uint32_t> slots(kN);
    for (std::size_t i = 0; i < kN; ++i)
      slots[i] = index.allocate(static_cast<std::int64_t>(i), ds.base.data() + i * kDim);
    tbb::parallel_for(std::size_t{0}, kN, [&](std::size_t i) { index.link(slots[i]); });
    benchmark::DoNotOptimize(index.size());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kN));
}

// Built once (ef_construction 200) and shared by every search row.
const engram::HnswIndex& search_index() {
  static const std::unique_ptr<engram::HnswIndex> index = [] {
    const Dataset& ds = dataset();
    auto idx = std::make_unique<engram::HnswIndex>(kDim, params(200));
    std::vector<std::uint32_t> slots(kN);
    for (std::size_t i = 0; i < kN; ++i)
      slots[i] = idx->allocate(static_cast<std::int64_t>(i), ds.base.data() + i * kDim);
    tbb::parallel_for(std::size_t{0}, kN, [&](std::size_t i) { idx->link(slots[i]); });
    return idx;
  }();
  return *index;
}

double recall_at_k(const engram::HnswIndex& index, std::size_t ef) {
  const Dataset& ds = dataset();
  std::size_t hits = 0;
  for (std::size_t q = 0; q < kQueries; ++q) {
    const float* query = ds.queries.data() + q * kDim;
    std::unordered_set<std::uint32_t> truth;
    for (const auto& n : index.exact_search(query, kK)) truth.insert(n.slot);
    for (const auto& n : index.search(query, kK, ef)) hits += truth.count(n.slot);
  }
  return static_cast<double>(hits) / static_cast<double>(kQueries * kK);
}

void BM_Search(benchmark::State& state) {
  const engram::HnswIndex& index = search_index();
  const Dataset& ds = dataset();
  const auto ef = static_cast<std::size_t>(state.range(0));
  std::size_t q = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.search(ds.queries.data() + q * kDim, kK, ef));
    if (++q == kQueries) q = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["recall@10"] = recall_at_k(index, ef);
}

void BM_ExactSearch(benchmark::State& state) {
  const engram::HnswIndex& index = search_index();
  const Dataset& ds = dataset();
  std::size_t q = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.exact_search(ds.queries.data() + q * kDim, kK));
    if (++q == kQueries) q = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

BENCHMARK(BM_InsertSerial)->Arg(100)->Arg(200)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_InsertParallel)->Arg(100)->Arg(200)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Search)->Arg(16)->Arg(32)->Arg(64)->Arg(128)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ExactSearch)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
