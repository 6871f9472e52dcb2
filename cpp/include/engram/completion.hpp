// Pattern completion: reconstruct the unknown dimensions of a partial embedding.
//
// Method (kNN / centroid reconstruction, upstream section 10 "Simplify" 8):
//  1. Similarity on the known dimensions only: cos_K(q, x) = <q_K, x_K> / (|q_K| |x_K|) for
//     every live episode and every concept centroid (an exact scan: HNSW cannot search a
//     subspace). The `neighbors` best with cos_K > 0 are the sources.
//  2. Each source is fitted to the known part by least squares, alpha = <q_K, x_K> / |x_K|^2,
//     and proposes alpha * x on the unknown dimensions (scale-invariant).
//  3. The completion keeps the known values and fills the unknown ones with the average of the
//     proposals weighted by w = cos_K^sharpness * confidence(source).
//  4. Confidence = (sum w cos_K / sum w) * (sum w confidence / sum w), in [0, 1]; accepted when
//     it reaches ca1_threshold (0.7), the CA1 output gate.
//  5. Alternatives: the `hypotheses` (3) best single-source proposals, each with confidence
//     cos_K * confidence(source).
// Thread safety: runs under the space's operation lock like any read.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engram/space.hpp"

namespace engram {

struct CompletionParams {
  std::size_t neighbors = 8;
  std::size_t hypotheses = 3;
  double ca1_threshold = 0.7;
  double sharpness = 4.0;
  bool use_concepts = true;
};

void validate(const CompletionParams& p);

struct Hypothesis {
  std::vector<float> vector;
  float confidence = 0.0f;
  std::int64_t source = 0;
  MemoryKind kind = MemoryKind::Episode;
};

struct Completion {
  std::vector<float> vector;  // known dimensions as given, unknown ones reconstructed
  float confidence = 0.0f;
  bool accepted = false;  // confidence >= ca1_threshold
  std::vector<std::int64_t> sources;
  std::vector<float> source_similarity;  // cos on the known dimensions, per source
  std::vector<Hypothesis> alternatives;
  std::size_t known_dims = 0;
};

// mask[i] != 0: dimension i is known (partial[i] must be finite); 0: unknown (its value is
// ignored and may be NaN). Throws InvalidInputError when no dimension is known or the known
// part is zero, DimensionError on a length mismatch. With no source (empty space, nothing
// similar) the unknown dimensions are 0 and the confidence is 0.
Completion complete(const Space& space, std::span<const float> partial, std::span<const std::uint8_t> mask,
                    const CompletionParams& params = {});

}  // namespace engram
