// Shared helpers for the engine unit tests: deterministic data and small conveniences.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engram/clock.hpp"
#include "engram/memory.hpp"
#include "engram/space.hpp"

namespace engram::test {

// A vector with i.i.d. N(0, 1) components; never the zero vector in practice.
inline std::vector<float> random_vector(std::size_t dim, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(dim);
  for (float& x : v) x = normal(rng);
  return v;
}

// Deterministic vector derived from a key, so a checker can regenerate what a writer stored.
inline std::vector<float> keyed_vector(std::size_t dim, std::uint64_t key) {
  std::mt19937_64 rng(key * 0x9e3779b97f4a7c15ull + 1);
  return random_vector(dim, rng);
}

// `clusters` Gaussian blobs of `per_cluster` points each: centres N(0, 1), spread sigma.
inline std::vector<std::vector<float>> clustered(std::size_t dim, std::size_t clusters, std::size_t per_cluster,
                                                 float sigma, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, sigma);
  std::vector<std::vector<float>> out;
  out.reserve(clusters * per_cluster);
  for (std::size_t c = 0; c < clusters; ++c) {
    const std::vector<float> centre = random_vector(dim, rng);
    for (std::size_t i = 0; i < per_cluster; ++i) {
      std::vector<float> p = centre;
      for (float& x : p) x += noise(rng);
      out.push_back(std::move(p));
    }
  }
  // Interleave clusters so insertion order does not follow cluster order.
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

// Cosine similarity in double precision (the reference for index results).
inline double cosine(const float* a, const float* b, std::size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

// An episode borrowing `v` (which must outlive the call that consumes it).
inline EpisodeInput episode(const std::vector<float>& v, std::string content = "", double confidence = 1.0) {
  EpisodeInput e;
  e.embedding = v.data();
  e.embedding_size = v.size();
  e.content = std::move(content);
  e.confidence = confidence;
  return e;
}

inline SpaceConfig small_config(std::size_t dim) {
  SpaceConfig c;
  c.dim = dim;
  c.hnsw.M = 8;
  c.hnsw.ef_construction = 64;
  c.hnsw.ef_search = 32;
  return c;
}

inline std::shared_ptr<Space> make_space(std::size_t dim, std::uint32_t ordinal = 1, std::string name = "test",
                                         std::shared_ptr<const Clock> clock = std::make_shared<Clock>()) {
  return std::make_shared<Space>(std::move(name), ordinal, small_config(dim), std::move(clock));
}

}  // namespace engram::test
