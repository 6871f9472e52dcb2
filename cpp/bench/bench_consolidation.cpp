// Consolidation with the two similarity kernels of clustering.hpp side by side: the Eigen
// matrix product (SimilarityKernel::Gemm) and one SIMD dot product per pair (Pairwise).
//
// Run (interleaved repetitions, medians and spreads; see docs/performance.md):
//   build/bench/bench_consolidation --benchmark_repetitions=7 \
//     --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//
// Data: the model of `engram bench semantic` (engram.testing.vectors.latent_clusters): n/100
// unit centres in 768-d, each with its own orthonormal 32-d latent basis, points c + z B_c +
// N(0, 0.01^2) noise (|z B_c| about 1), L2-normalised; the engine's clock at the end of the
// timestamps; default SpaceConfig (HNSW M 16, ef_construction 200). Timestamps are uniform over
// `days` = 30 days (as `engram bench semantic`: the temporal factor keeps blocks small) or,
// with days = 0, over one hour (a space filled in one sitting: blocks are whole latent
// clusters, about 100 episodes). One space per (n, days) is built once and shared.
//  - ConsolidateCold/<n>/<days>/<kernel>: the concepts of the previous run are forgotten (which
//    also resets the clustering cache), then one uncapped run clusters every episode again.
//  - ConsolidateIncremental/<n>/<days>/<kernel>: from a consolidated space, 1% new episodes
//    are added, then one uncapped run (the space grows by 1% per iteration, for both kernels
//    alike).
// Kernel 0 is SimilarityKernel::Gemm, 1 is Pairwise.
//  - BlockFill/<m>/<kernel>/<threads>: similarity_matrices() of one block of m points from 4
//    latent clusters, all at the same time (the block sizes of a dense space; blocks are cut at
//    max_component 2048).
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <Eigen/QR>
#include <cmath>
#include <cstddef>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "engram/clock.hpp"
#include "engram/clustering.hpp"
#include "engram/consolidation.hpp"
#include "engram/space.hpp"

namespace {

constexpr std::size_t kDim = 768;
constexpr std::size_t kLatent = 32;
constexpr double kDay = 86400.0;
constexpr double kT0 = 1'700'000'000.0;

using engram::SimilarityKernel;

// The latent-cluster model: centres and orthonormal bases fixed by the seed; sample() draws
// row-major unit vectors.
class LatentClusters {
 public:
  LatentClusters(std::size_t clusters, std::uint64_t seed) : rng_(seed) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::size_t c = 0; c < clusters; ++c) {
      Eigen::VectorXf centre(kDim);
      for (Eigen::Index i = 0; i < centre.size(); ++i) centre[i] = normal(rng_);
      centres_.push_back(centre.normalized());
      Eigen::MatrixXf g(kDim, kLatent);
      for (Eigen::Index i = 0; i < g.size(); ++i) g.data()[i] = normal(rng_);
      const Eigen::HouseholderQR<Eigen::MatrixXf> qr(g);
      bases_.push_back(qr.householderQ() * Eigen::MatrixXf::Identity(kDim, kLatent));  // kDim x kLatent
    }
  }

  std::vector<float> sample(std::size_t n) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_int_distribution<std::size_t> pick(0, centres_.size() - 1);
    const float spread = 1.0f / std::sqrt(static_cast<float>(kLatent));  // E|z B_c|^2 = 1
    std::vector<float> out(n * kDim);
    Eigen::VectorXf z(kLatent);
    for (std::size_t r = 0; r < n; ++r) {
      const std::size_t c = pick(rng_);
      for (Eigen::Index i = 0; i < z.size(); ++i) z[i] = normal(rng_) * spread;
      Eigen::Map<Eigen::VectorXf> x(out.data() + r * kDim, kDim);
      x = centres_[c] + bases_[c] * z;
      for (Eigen::Index i = 0; i < x.size(); ++i) x[i] += 0.01f * normal(rng_);
      x.normalize();
    }
    return out;
  }

 private:
  std::mt19937_64 rng_;
  std::vector<Eigen::VectorXf> centres_;
  std::vector<Eigen::MatrixXf> bases_;
};

struct Fixture {
  double span_s = 0.0;
  std::shared_ptr<engram::Clock> clock = std::make_shared<engram::Clock>();
  std::shared_ptr<engram::Space> space;
  std::unique_ptr<LatentClusters> model;
  std::mt19937_64 rng{7};
};

void add_episodes(Fixture& f, std::size_t n) {
  const std::vector<float> x = f.model->sample(n);
  std::uniform_real_distribution<double> when(kT0, kT0 + f.span_s);
  std::vector<engram::EpisodeInput> batch(n);
  for (std::size_t i = 0; i < n; ++i) {
    batch[i].embedding = x.data() + i * kDim;
    batch[i].embedding_size = kDim;
    batch[i].timestamp = when(f.rng);
    batch[i].has_timestamp = true;
  }
  f.space->remember_batch(std::move(batch));
}

Fixture& fixture(std::size_t n, std::int64_t days) {
  static std::map<std::pair<std::size_t, std::int64_t>, std::unique_ptr<Fixture>> cache;
  auto& slot = cache[{n, days}];
  if (slot) return *slot;
  slot = std::make_unique<Fixture>();
  slot->span_s = days > 0 ? static_cast<double>(days) * kDay : 3600.0;
  slot->clock->set(kT0 + slot->span_s);
  engram::SpaceConfig c;
  c.dim = kDim;
  slot->space = std::make_shared<engram::Space>("bench", 1, c, slot->clock);
  slot->model = std::make_unique<LatentClusters>(std::max<std::size_t>(10, n / 100), 1);
  add_episodes(*slot, n);
  return *slot;
}

engram::ConsolidationParams uncapped(SimilarityKernel k) {
  engram::ConsolidationParams p;
  p.max_concepts_per_run = 1'000'000;
  p.max_formations_per_hour = 0;
  p.kernel = k;
  return p;
}

void forget_concepts(engram::Space& sp) {
  for (const std::int64_t id : sp.concept_store().ids()) sp.forget(id);
}

void BM_ConsolidateCold(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)), state.range(1));
  const auto k = static_cast<SimilarityKernel>(state.range(2));
  std::size_t formed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    forget_concepts(*f.space);
    state.ResumeTiming();
    formed = engram::consolidate(*f.space, uncapped(k)).concepts_formed;
  }
  state.counters["concepts"] = static_cast<double>(formed);
}

void BM_ConsolidateIncremental(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)), state.range(1));
  const auto k = static_cast<SimilarityKernel>(state.range(2));
  std::size_t formed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    engram::consolidate(*f.space, uncapped(k));  // consolidated, whatever ran before
    add_episodes(f, f.space->size() / 100);
    state.ResumeTiming();
    formed = engram::consolidate(*f.space, uncapped(k)).concepts_formed;
  }
  state.counters["concepts"] = static_cast<double>(formed);
}

void BM_BlockFill(benchmark::State& state) {
  const auto m = static_cast<std::size_t>(state.range(0));
  engram::LinkageParams p;
  p.kernel = static_cast<SimilarityKernel>(state.range(1));
  p.parallel = state.range(2) != 0;
  LatentClusters model(4, 3);
  const std::vector<float> units = model.sample(m);
  const std::vector<double> stamps(m, kT0);
  std::vector<float> cos, link;
  for (auto _ : state) {
    engram::similarity_matrices(engram::PointBlock{units, kDim, stamps}, p, cos, link);
    benchmark::DoNotOptimize(link.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * m * (m - 1) / 2));  // pairs
}

double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

void consolidation_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "days", "kernel"});
  for (const std::int64_t n : {10'000, 100'000}) {
    for (const std::int64_t days : {30, 0}) {
      for (const auto k : {SimilarityKernel::Gemm, SimilarityKernel::Pairwise}) {
        b->Args({n, days, static_cast<std::int64_t>(k)});
      }
    }
  }
  b->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
  b->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of);
}

void block_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"m", "kernel", "parallel"});
  for (const std::int64_t m : {128, 512, 2048}) {
    for (const auto k : {SimilarityKernel::Gemm, SimilarityKernel::Pairwise}) {
      for (const std::int64_t par : {0, 1}) b->Args({m, static_cast<std::int64_t>(k), par});
    }
  }
  b->UseRealTime()->Unit(benchmark::kMillisecond);
  b->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of);
}

BENCHMARK(BM_ConsolidateCold)->Apply(consolidation_args);
BENCHMARK(BM_ConsolidateIncremental)->Apply(consolidation_args);
BENCHMARK(BM_BlockFill)->Apply(block_args);

}  // namespace

BENCHMARK_MAIN();
