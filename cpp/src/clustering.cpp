#include "engram/clustering.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <string>

#include "engram/errors.hpp"
#include "engram/parallel.hpp"
#include "engram/simd.hpp"

namespace engram {

double Similarity::sigmoid(double x) const noexcept { return 1.0 / (1.0 + std::exp(-gain_ * (x - midpoint_))); }

double Similarity::temporal(double cos, double ta, double tb) const noexcept {
  return temporal_scale_s_ > 0.0 ? cos * std::exp(-std::abs(ta - tb) / temporal_scale_s_) : cos;
}

namespace {

template <class F>
void for_each_index(bool parallel, std::size_t n, F&& f) {
  if (parallel) {
    engram::parallel_for(n, f);
  } else {
    for (std::size_t i = 0; i < n; ++i) f(i);
  }
}

void check_block(const PointBlock& b) {
  if (b.dim == 0 || b.units.size() != b.size() * b.dim) {
    throw InvalidInputError("a block of " + std::to_string(b.size()) + " timestamps needs " + std::to_string(b.size()) +
                            " x dim unit-vector values, got " + std::to_string(b.units.size()) + " (dim " +
                            std::to_string(b.dim) + ")");
  }
}

// Lower triangle of cos (j < i) by one SIMD dot product per pair. Rows go in tiles of 16: each
// column vector is then read once per tile and reused from L1 while the tile's rows stay in L2,
// instead of streaming both vectors of every pair from L3.
void fill_cos_pairwise(const PointBlock& b, bool parallel, float* cos) {
  const std::size_t m = b.size(), dim = b.dim;
  const simd::DotFn dot = simd::active().dot;  // chosen once per block, not once per pair
  constexpr std::size_t kTile = 16;
  for_each_index(parallel, (m + kTile - 1) / kTile, [&](std::size_t t) {
    const std::size_t lo = t * kTile, hi = std::min(m, lo + kTile);
    for (std::size_t j = 0; j + 1 < hi; ++j) {
      const float* bj = b.units.data() + j * dim;
      for (std::size_t i = std::max(lo, j + 1); i < hi; ++i) cos[i * m + j] = dot(b.units.data() + i * dim, bj, dim);
    }
  });
}

// Lower triangle of cos (with the diagonal blocks) as a matrix product per tile of rows:
// cos[lo..hi, 0..hi] = U[lo..hi] U[0..hi]^T, written in place through a strided Eigen map.
void fill_cos_gemm(const PointBlock& b, bool parallel, float* cos) {
  const std::size_t m = b.size(), dim = b.dim;
  const simd::GramFn gram = simd::active().gram;
  // Large enough for the product's register blocking, small enough to spread the triangle's
  // uneven rows over the workers.
  constexpr std::size_t kTile = 64;
  for_each_index(parallel, (m + kTile - 1) / kTile, [&](std::size_t t) {
    const std::size_t lo = t * kTile, hi = std::min(m, lo + kTile);
    gram(b.units.data() + lo * dim, hi - lo, b.units.data(), hi, dim, cos + lo * m, m);
  });
}

}  // namespace

void similarity_matrices(const PointBlock& b, const LinkageParams& p, std::vector<float>& cos,
                         std::vector<float>& link) {
  check_block(b);
  const std::size_t m = b.size();
  cos.resize(m * m);
  link.resize(m * m);
  if (p.kernel == SimilarityKernel::Gemm) {
    fill_cos_gemm(b, p.parallel, cos.data());
  } else {
    fill_cos_pairwise(b, p.parallel, cos.data());
  }
  // Both matrices are symmetric: the link similarity (two exponentials per pair, the other half
  // of the fill's cost) is computed for the lower triangle and mirrored with the cosines. Rows
  // go in tiles and columns outermost, so the mirrored writes of a column run along one row.
  // A tile's task writes only its pairs (i, j < i) and their mirrors: tasks never share an entry.
  const Similarity sim(p);
  const auto diag_link = static_cast<float>(sim.sigmoid(1.0));
  constexpr std::size_t kRows = 16;
  for_each_index(p.parallel, (m + kRows - 1) / kRows, [&](std::size_t t) {
    const std::size_t lo = t * kRows, hi = std::min(m, lo + kRows);
    for (std::size_t i = lo; i < hi; ++i) {
      cos[i * m + i] = 1.0f;
      link[i * m + i] = diag_link;
    }
    for (std::size_t j = 0; j + 1 < hi; ++j) {
      const double tj = b.timestamps[j];
      for (std::size_t i = std::max(lo, j + 1); i < hi; ++i) {
        const float c = cos[i * m + j];
        const auto l = static_cast<float>(sim.link(c, b.timestamps[i], tj));
        cos[j * m + i] = c;
        link[i * m + j] = link[j * m + i] = l;
      }
    }
  });
}

std::vector<Cluster> average_linkage(const PointBlock& block, const LinkageParams& p) {
  check_block(block);
  const std::size_t m = block.size();
  std::vector<Cluster> out;
  if (m < p.min_cluster_size) return out;
  std::vector<float> cosm, link;
  similarity_matrices(block, p, cosm, link);
  const Similarity sim(p);
  const auto thr = static_cast<float>(p.similarity_threshold);
  std::vector<char> active(m, 1);
  std::vector<std::vector<std::size_t>> members(m);
  for (std::size_t i = 0; i < m; ++i) members[i] = {i};
  std::vector<std::size_t> chain;
  std::size_t next_start = 0;
  const auto finish = [&](std::size_t a) {
    active[a] = 0;
    if (members[a].size() < p.min_cluster_size) return;
    Cluster c;
    c.members = members[a];
    std::sort(c.members.begin(), c.members.end());
    const auto& mem = members[a];
    for (std::size_t x = 0; x < mem.size(); ++x) {
      for (std::size_t y = 0; y < x; ++y) c.pair_sum += sim.coherence(cosm[mem[x] * m + mem[y]]);
    }
    const double n = static_cast<double>(mem.size());
    c.coherence = c.pair_sum / (n * (n - 1) / 2.0);
    c.coherent = c.coherence >= p.coherence_threshold;
    out.push_back(std::move(c));
  };
  for (;;) {
    if (chain.empty()) {
      while (next_start < m && !active[next_start]) ++next_start;
      if (next_start == m) break;
      chain.push_back(next_start);
    }
    const std::size_t a = chain.back();
    const std::size_t prev = chain.size() >= 2 ? chain[chain.size() - 2] : SIZE_MAX;
    std::size_t b = SIZE_MAX;
    float best = -1.0f;
    for (std::size_t c = 0; c < m; ++c) {
      if (c == a || !active[c]) continue;
      const float s = link[a * m + c];
      // Prefer the previous chain element on ties so reciprocal pairs are recognised.
      if (s > best || (s == best && c == prev)) {
        best = s;
        b = c;
      }
    }
    if (b == SIZE_MAX || best < thr) {
      // Nothing reaches the threshold from a, and merges elsewhere only average existing
      // similarities to a, so a is final.
      chain.pop_back();
      finish(a);
      continue;
    }
    if (b == prev) {
      chain.pop_back();
      chain.pop_back();
      const std::size_t keep = std::min(a, b), gone = std::max(a, b);
      const double na = static_cast<double>(members[keep].size()), nb = static_cast<double>(members[gone].size());
      for (std::size_t c = 0; c < m; ++c) {
        if (!active[c] || c == keep || c == gone) continue;
        const float s = static_cast<float>((na * link[keep * m + c] + nb * link[gone * m + c]) / (na + nb));
        link[keep * m + c] = link[c * m + keep] = s;
      }
      members[keep].insert(members[keep].end(), members[gone].begin(), members[gone].end());
      members[gone].clear();
      active[gone] = 0;
    } else {
      chain.push_back(b);
    }
  }
  return out;
}

std::vector<std::vector<std::size_t>> connected_blocks(std::vector<std::vector<std::size_t>> adj, std::size_t min_size,
                                                       std::size_t max_block) {
  const std::size_t n = adj.size();
  for (const auto& a : adj) {
    for (const std::size_t v : a) {
      if (v >= n) throw InvalidInputError("connected_blocks: neighbour " + std::to_string(v) + " out of range");
    }
  }
  if (max_block == 0) throw InvalidInputError("connected_blocks: max_block must be at least 1");
  // Symmetrise (an edge listed from one end only counts both ways), then BFS in index order:
  // deterministic and locality-preserving.
  for (std::size_t u = 0; u < n; ++u) {
    for (std::size_t k = 0, deg = adj[u].size(); k < deg; ++k) {
      const std::size_t v = adj[u][k];
      if (v > u || std::find(adj[v].begin(), adj[v].end(), u) == adj[v].end()) adj[v].push_back(u);
    }
  }
  for (auto& a : adj) {
    std::sort(a.begin(), a.end());
    a.erase(std::unique(a.begin(), a.end()), a.end());
  }
  std::vector<char> seen(n, 0);
  std::vector<std::vector<std::size_t>> out;
  for (std::size_t s = 0; s < n; ++s) {
    if (seen[s] || adj[s].empty()) continue;
    std::vector<std::size_t> order;
    std::deque<std::size_t> q{s};
    seen[s] = 1;
    while (!q.empty()) {
      const std::size_t u = q.front();
      q.pop_front();
      order.push_back(u);
      for (const std::size_t v : adj[u]) {
        if (!seen[v]) {
          seen[v] = 1;
          q.push_back(v);
        }
      }
    }
    if (order.size() < min_size) continue;
    for (std::size_t b = 0; b < order.size(); b += max_block) {
      std::vector<std::size_t> block(
          order.begin() + static_cast<std::ptrdiff_t>(b),
          order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), b + max_block)));
      std::sort(block.begin(), block.end());
      if (block.size() >= min_size) out.push_back(std::move(block));
    }
  }
  return out;
}

}  // namespace engram
