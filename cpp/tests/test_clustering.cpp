// Average-linkage clustering on plain data (clustering.hpp), without a Space: recovery of
// planted clusters, the coherence threshold, the minimum size, the temporal factor, determinism
// and agreement of the two similarity kernels, and the component blocking.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "engram/clustering.hpp"
#include "engram/errors.hpp"
#include "engram/simd.hpp"

namespace engram {
namespace {

// Points as rows of unit vectors with their timestamps and the group each was drawn from.
struct Points {
  std::size_t dim = 0;
  std::vector<float> units;
  std::vector<double> stamps;
  std::vector<std::size_t> group;
  PointBlock block() const { return PointBlock{units, dim, stamps}; }
  void add(std::vector<float> v, double t, std::size_t g) {
    double nn = 0.0;
    for (const float x : v) nn += static_cast<double>(x) * x;
    for (float& x : v) x = static_cast<float>(x / std::sqrt(nn));
    units.insert(units.end(), v.begin(), v.end());
    stamps.push_back(t);
    group.push_back(g);
  }
};

// `sizes[g]` points around each of len(sizes) random centres, spread sigma per coordinate,
// shuffled so that group order is not row order. All at the same time unless `spacing_s`.
Points planted(std::size_t dim, const std::vector<std::size_t>& sizes, float sigma, std::uint64_t seed,
               double spacing_s = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::pair<std::vector<float>, std::size_t>> rows;
  for (std::size_t g = 0; g < sizes.size(); ++g) {
    std::vector<float> centre(dim);
    for (float& x : centre) x = normal(rng);
    for (std::size_t i = 0; i < sizes[g]; ++i) {
      std::vector<float> p = centre;
      for (float& x : p) x += sigma * normal(rng);
      rows.emplace_back(std::move(p), g);
    }
  }
  std::shuffle(rows.begin(), rows.end(), rng);
  Points pts;
  pts.dim = dim;
  for (auto& [v, g] : rows) pts.add(std::move(v), spacing_s * static_cast<double>(g), g);
  return pts;
}

// n points whose pairwise cosine is exactly rho: sqrt(rho) e_0 + sqrt(1 - rho) e_(i+1).
Points equicorrelated(std::size_t n, double rho, std::size_t first_axis = 0, std::size_t dim = 64) {
  Points pts;
  pts.dim = dim;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<float> v(dim, 0.0f);
    v[first_axis] = static_cast<float>(std::sqrt(rho));
    v[first_axis + 1 + i] = static_cast<float>(std::sqrt(1.0 - rho));
    pts.add(std::move(v), 0.0, 0);
  }
  return pts;
}

// The planted groups of size >= min_size, as sorted row lists, sorted.
std::vector<std::vector<std::size_t>> groups(const Points& pts, std::size_t min_size) {
  std::vector<std::vector<std::size_t>> by(*std::max_element(pts.group.begin(), pts.group.end()) + 1);
  for (std::size_t r = 0; r < pts.group.size(); ++r) by[pts.group[r]].push_back(r);
  std::erase_if(by, [&](const auto& g) { return g.size() < min_size; });
  std::sort(by.begin(), by.end());
  return by;
}

std::vector<std::vector<std::size_t>> member_lists(const std::vector<Cluster>& cs) {
  std::vector<std::vector<std::size_t>> out;
  for (const Cluster& c : cs) out.push_back(c.members);
  std::sort(out.begin(), out.end());
  return out;
}

LinkageParams serial(LinkageParams p = {}) {
  p.parallel = false;
  return p;
}

TEST(Clustering, RecoversPlantedClusters) {
  const Points pts = planted(48, {12, 9, 15, 7, 10}, 0.25f, 3);
  const std::vector<Cluster> cs = average_linkage(pts.block(), {});
  EXPECT_EQ(member_lists(cs), groups(pts, 3));
  for (const Cluster& c : cs) {
    EXPECT_TRUE(c.coherent) << c.coherence;
    EXPECT_TRUE(std::is_sorted(c.members.begin(), c.members.end()));
  }
}

TEST(Clustering, CoherenceIsTheMeanPairSigmoidAndTheThresholdMarksIt) {
  // Pairwise cosine 0.53: link sigmoid(10 (0.53 - 0.5)) = 0.574 >= 0.55 merges all six, and the
  // coherence is that same value, below the default threshold 0.65.
  const Points pts = equicorrelated(6, 0.53);
  const double expected = 1.0 / (1.0 + std::exp(-10.0 * (0.53 - 0.5)));
  LinkageParams p;
  std::vector<Cluster> cs = average_linkage(pts.block(), p);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].members.size(), 6u);
  EXPECT_NEAR(cs[0].coherence, expected, 1e-5);
  EXPECT_NEAR(cs[0].pair_sum, expected * 15.0, 1e-4);
  EXPECT_FALSE(cs[0].coherent);
  p.coherence_threshold = 0.57;
  cs = average_linkage(pts.block(), p);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(cs[0].coherent);
  // Below the similarity threshold nothing merges at all.
  p.similarity_threshold = 0.6;
  EXPECT_TRUE(average_linkage(pts.block(), p).empty());
}

TEST(Clustering, MinClusterSizeDropsSmallerClusters) {
  const Points pts = planted(32, {2, 3, 5, 1}, 0.2f, 11);
  LinkageParams p;
  p.min_cluster_size = 3;
  EXPECT_EQ(member_lists(average_linkage(pts.block(), p)), groups(pts, 3));
  p.min_cluster_size = 2;
  EXPECT_EQ(member_lists(average_linkage(pts.block(), p)), groups(pts, 2));
  p.min_cluster_size = 6;
  EXPECT_TRUE(average_linkage(pts.block(), p).empty());
}

TEST(Clustering, TemporalFactorSeparatesDistantTimes) {
  // Two groups drawn around the SAME centre, two days apart: the temporal factor e^-2 keeps them
  // apart; without it they are one cluster.
  Points pts;
  pts.dim = 24;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> centre(pts.dim);
  for (float& x : centre) x = normal(rng);
  for (std::size_t i = 0; i < 10; ++i) {
    std::vector<float> v = centre;
    for (float& x : v) x += 0.15f * normal(rng);
    pts.add(std::move(v), i % 2 == 0 ? 0.0 : 2 * 86400.0, i % 2);
  }
  LinkageParams p;
  EXPECT_EQ(member_lists(average_linkage(pts.block(), p)), groups(pts, 3));
  p.temporal_scale_s = 0.0;
  const std::vector<Cluster> one = average_linkage(pts.block(), p);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].members.size(), 10u);
}

TEST(Clustering, DeterministicAndIndependentOfKernelAndThreads) {
  const Points pts = planted(64, {40, 25, 30, 3, 18, 22}, 0.45f, 21, 3600.0);
  std::vector<std::vector<Cluster>> runs;
  for (const SimilarityKernel k : {SimilarityKernel::Gemm, SimilarityKernel::Pairwise}) {
    for (const bool parallel : {true, false}) {
      LinkageParams p;
      p.kernel = k;
      p.parallel = parallel;
      runs.push_back(average_linkage(pts.block(), p));
      runs.push_back(average_linkage(pts.block(), p));
    }
  }
  ASSERT_FALSE(runs[0].empty());
  for (const auto& r : runs) {
    ASSERT_EQ(r.size(), runs[0].size());
    for (std::size_t i = 0; i < r.size(); ++i) {
      EXPECT_EQ(r[i].members, runs[0][i].members);  // same clusters, in the same order
      EXPECT_NEAR(r[i].coherence, runs[0][i].coherence, 1e-5);
      EXPECT_EQ(r[i].coherent, runs[0][i].coherent);
    }
  }
}

TEST(Clustering, SimilarityMatricesMatchTheDefinitionForBothKernels) {
  const Points pts = planted(40, {30, 45, 20}, 0.5f, 8, 5000.0);  // 95 rows: tiles of 16 and 64 both have tails
  const std::size_t m = pts.stamps.size();
  const double gain = 10.0, mid = 0.5, scale = 86400.0;
  for (const SimilarityKernel k : {SimilarityKernel::Gemm, SimilarityKernel::Pairwise}) {
    LinkageParams p;
    p.kernel = k;
    std::vector<float> cos, link;
    similarity_matrices(pts.block(), p, cos, link);
    ASSERT_EQ(cos.size(), m * m);
    for (std::size_t i = 0; i < m; ++i) {
      EXPECT_EQ(cos[i * m + i], 1.0f);
      for (std::size_t j = 0; j < m; ++j) {
        double ref = 0.0;
        for (std::size_t d = 0; d < pts.dim; ++d) {
          ref += static_cast<double>(pts.units[i * pts.dim + d]) * pts.units[j * pts.dim + d];
        }
        if (i == j) continue;
        ASSERT_NEAR(cos[i * m + j], ref, 1e-5) << i << "," << j;
        ASSERT_EQ(cos[i * m + j], cos[j * m + i]);
        const double t = ref * std::exp(-std::abs(pts.stamps[i] - pts.stamps[j]) / scale);
        ASSERT_NEAR(link[i * m + j], 1.0 / (1.0 + std::exp(-gain * (t - mid))), 1e-5);
        ASSERT_EQ(link[i * m + j], link[j * m + i]);
      }
    }
  }
}

TEST(Clustering, RejectsInconsistentBlocks) {
  const Points pts = planted(8, {4}, 0.1f, 1);
  PointBlock bad = pts.block();
  bad.units = bad.units.first(bad.units.size() - 1);
  EXPECT_THROW(average_linkage(bad, {}), InvalidInputError);
  bad = pts.block();
  bad.dim = 0;
  EXPECT_THROW(average_linkage(bad, {}), InvalidInputError);
  // Fewer points than the minimum size: nothing, and no error.
  const Points two = planted(8, {2}, 0.1f, 1);
  EXPECT_TRUE(average_linkage(two.block(), {}).empty());
}

TEST(ConnectedBlocks, ComponentsSizesAndSplits) {
  // 0-1-2 (edges listed from one end only), 3-4, 5 alone, 6..11 a path.
  std::vector<std::vector<std::size_t>> adj(12);
  adj[0] = {1};
  adj[2] = {1};
  adj[4] = {3};
  for (std::size_t i = 6; i < 11; ++i) adj[i].push_back(i + 1);
  using Blocks = std::vector<std::vector<std::size_t>>;
  EXPECT_EQ(connected_blocks(adj, 2, 100), (Blocks{{0, 1, 2}, {3, 4}, {6, 7, 8, 9, 10, 11}}));
  EXPECT_EQ(connected_blocks(adj, 3, 100), (Blocks{{0, 1, 2}, {6, 7, 8, 9, 10, 11}}));
  // The path splits in BFS order into runs of 4 and 2; the run of 2 is below min_size 3.
  EXPECT_EQ(connected_blocks(adj, 3, 4), (Blocks{{0, 1, 2}, {6, 7, 8, 9}}));
  adj[1].push_back(12);
  EXPECT_THROW(connected_blocks(adj, 2, 4), InvalidInputError);
  adj[1].pop_back();
  EXPECT_THROW(connected_blocks(adj, 2, 0), InvalidInputError);
}

}  // namespace
}  // namespace engram
