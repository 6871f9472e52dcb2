// Average-linkage clustering of episodes: the clustering step of consolidation
// (consolidation.hpp), on plain data (unit vectors and timestamps), so it needs no Space.
//
// Similarity of two points a, b (upstream clustering.rs):
//     link(a, b) = sigmoid(gain * (cos(a, b) * e^(-|t_a - t_b| / temporal_scale) - midpoint))
// with gain 10, midpoint 0.5, temporal_scale 1 day by default. The coherence similarity is the
// same sigmoid without the temporal factor; a cluster's coherence is its mean over member pairs.
//
// average_linkage() clusters one block by nearest-neighbour chain (O(m^2) time and memory),
// merging while the best pair's average link similarity is >= similarity_threshold. It is
// deterministic: the result depends only on the block's rows, in their order.
// connected_blocks() cuts a larger set into blocks: the connected components of a graph of
// pairs above the threshold (an average-linkage cluster at threshold t always lies inside one
// single-linkage component at t), split in BFS order when larger than max_block.
//
// The similarity matrices: cos(a, b) for all pairs of a block is the product U U^T of the
// block's unit vectors (m x dim, row-major). SimilarityKernel::Gemm computes it with Eigen
// (simd::Kernels::gram, compiled per instruction set), lower triangle in row tiles;
// SimilarityKernel::Pairwise with one SIMD dot product per pair. The measurement that chose the
// default is in docs/performance.md ("Consolidation block fill").
//
// Thread safety: pure functions of their arguments. With parallel = true the matrix fill runs
// on TBB workers; everything else runs on the calling thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace engram {

enum class SimilarityKernel : std::uint8_t {
  Gemm,      // Eigen matrix product of the block's unit vectors
  Pairwise,  // one SIMD dot product per pair, rows in tiles of 16
};

struct LinkageParams {
  double similarity_threshold = 0.55;
  double coherence_threshold = 0.65;
  std::size_t min_cluster_size = 3;
  double temporal_scale_s = 86400.0;  // 0: no temporal factor
  double sigmoid_gain = 10.0;
  double sigmoid_midpoint = 0.5;
  bool parallel = true;  // fill the similarity matrices on every core (TBB)
  SimilarityKernel kernel = SimilarityKernel::Gemm;
};

// The similarity functions of one parameter set.
class Similarity {
 public:
  explicit Similarity(const LinkageParams& p) noexcept
      : gain_(p.sigmoid_gain), midpoint_(p.sigmoid_midpoint), temporal_scale_s_(p.temporal_scale_s) {}
  double sigmoid(double x) const noexcept;
  // cos discounted by the time between the two points (cos itself when the scale is 0).
  double temporal(double cos, double ta, double tb) const noexcept;
  double link(double cos, double ta, double tb) const noexcept { return sigmoid(temporal(cos, ta, tb)); }
  double coherence(double cos) const noexcept { return sigmoid(cos); }

 private:
  double gain_, midpoint_, temporal_scale_s_;
};

// One block to cluster: m rows of dim floats (row i at units[i * dim], each of unit L2 norm)
// and their timestamps in seconds.
struct PointBlock {
  std::span<const float> units;  // m * dim
  std::size_t dim = 0;
  std::span<const double> timestamps;  // m
  std::size_t size() const noexcept { return timestamps.size(); }
};

struct Cluster {
  std::vector<std::size_t> members;  // row indices in the block, ascending
  double pair_sum = 0.0;             // sum over member pairs of the coherence similarity
  double coherence = 0.0;            // pair_sum / number of pairs
  bool coherent = false;             // coherence >= coherence_threshold
};

// Clusters of at least min_cluster_size members (coherent or not), in the order the chain
// completed them. InvalidInputError when the block's spans disagree with each other.
std::vector<Cluster> average_linkage(const PointBlock& block, const LinkageParams& p);

// The block's cosine and link-similarity matrices (m x m, row-major, symmetric), as
// average_linkage() computes them; exposed for tests and benchmarks.
void similarity_matrices(const PointBlock& block, const LinkageParams& p, std::vector<float>& cos,
                         std::vector<float>& link);

// Connected components (BFS from the lowest index, neighbours in index order) of the graph
// whose edges are adj (adj[u] lists v; made symmetric here), each split into consecutive BFS
// runs of at most max_block nodes; components and runs smaller than min_size are dropped.
// Each block is sorted ascending; blocks come in order of their component's lowest index.
std::vector<std::vector<std::size_t>> connected_blocks(std::vector<std::vector<std::size_t>> adj, std::size_t min_size,
                                                       std::size_t max_block);

}  // namespace engram
