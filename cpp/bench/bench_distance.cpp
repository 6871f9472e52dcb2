// Distance kernel throughput per SIMD level and dimension.
//
// Run: build/bench/bench_distance [--benchmark_filter=...]. Levels the CPU lacks are skipped
// (reported as an error row rather than silently missing).
#include <benchmark/benchmark.h>

#include <cstddef>
#include <random>
#include <vector>

#include "engram/simd.hpp"

namespace {

std::vector<float> random_vector(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

void BM_Dot(benchmark::State& state, engram::simd::Level level) {
  if (!engram::simd::supported(level)) {
    state.SkipWithError("SIMD level not supported by this CPU");
    return;
  }
  const auto dot = engram::simd::kernels_for(level).dot;
  const auto dim = static_cast<std::size_t>(state.range(0));
  // Two vectors that stay in L1: this measures the arithmetic, not memory bandwidth.
  const std::vector<float> a = random_vector(dim, 1), b = random_vector(dim, 2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(dot(a.data(), b.data(), dim));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 2 * dim * sizeof(float)));
}

// Same kernel streaming over a 10K x dim matrix (40 MB at 1536-d, beyond L2): the access pattern
// of a brute-force scan, bounded by memory bandwidth rather than FMA throughput.
void BM_DotScan(benchmark::State& state, engram::simd::Level level) {
  if (!engram::simd::supported(level)) {
    state.SkipWithError("SIMD level not supported by this CPU");
    return;
  }
  const auto dot = engram::simd::kernels_for(level).dot;
  const auto dim = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t kRows = 10000;
  const std::vector<float> q = random_vector(dim, 3), m = random_vector(dim * kRows, 4);
  std::size_t row = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dot(q.data(), m.data() + row * dim, dim));
    if (++row == kRows) row = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * dim * sizeof(float)));
}

void dims(benchmark::internal::Benchmark* b) {
  for (const int d : {128, 384, 768, 1536}) b->Arg(d);
}

BENCHMARK_CAPTURE(BM_Dot, scalar, engram::simd::Level::Scalar)->Apply(dims);
BENCHMARK_CAPTURE(BM_Dot, avx2, engram::simd::Level::Avx2)->Apply(dims);
BENCHMARK_CAPTURE(BM_Dot, avx512, engram::simd::Level::Avx512)->Apply(dims);
BENCHMARK_CAPTURE(BM_DotScan, scalar, engram::simd::Level::Scalar)->Apply(dims);
BENCHMARK_CAPTURE(BM_DotScan, avx2, engram::simd::Level::Avx2)->Apply(dims);
BENCHMARK_CAPTURE(BM_DotScan, avx512, engram::simd::Level::Avx512)->Apply(dims);

}  // namespace

BENCHMARK_MAIN();
