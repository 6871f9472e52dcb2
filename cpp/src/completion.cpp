#include "engram/completion.hpp"

#include <algorithm>
#include <cmath>

#include "engram/errors.hpp"
#include "engram/simd.hpp"
#include "engram/validation.hpp"

namespace engram {

void validate(const CompletionParams& p) {
  if (p.neighbors < 1 || p.neighbors > 1000) {
    throw InvalidInputError("neighbors must be between 1 and 1000, got " + std::to_string(p.neighbors));
  }
  if (p.hypotheses > 100)
    throw InvalidInputError("hypotheses must be at most 100, got " + std::to_string(p.hypotheses));
  if (!std::isfinite(p.ca1_threshold) || p.ca1_threshold < 0.0 || p.ca1_threshold > 1.0) {
    throw InvalidInputError("ca1_threshold must be in [0, 1], got " + std::to_string(p.ca1_threshold));
  }
  if (!std::isfinite(p.sharpness) || p.sharpness < 0.0 || p.sharpness > 64.0) {
    throw InvalidInputError("sharpness must be in [0, 64], got " + std::to_string(p.sharpness));
  }
}

namespace {

struct Source {
  double cos = 0.0;
  double alpha = 0.0;
  double confidence = 0.0;
  std::int64_t id = 0;
  MemoryKind kind = MemoryKind::Episode;
  const float* vec = nullptr;  // valid under the operation lock (episodes) or copied (concepts)
  std::vector<float> own;      // concept centroids are copied out of the store's lock
};

}  // namespace

Completion complete(const Space& space, std::span<const float> partial, std::span<const std::uint8_t> mask,
                    const CompletionParams& p) {
  OpTimer timer(const_cast<SpaceMetrics&>(space.metrics()), Op::Complete);
  const Space::OperationLock lock(space);
  validate(p);
  const std::size_t dim = space.dim();
  if (partial.size() != dim || mask.size() != dim) {
    throw DimensionError("expected " + dimensional(dim) + " partial vector and mask, got " +
                         std::to_string(partial.size()) + " values and " + std::to_string(mask.size()) +
                         " mask entries");
  }
  std::vector<float> qm(dim, 0.0f), m(dim, 0.0f);  // masked query and 0/1 mask
  std::size_t known = 0;
  double qn = 0.0;
  for (std::size_t i = 0; i < dim; ++i) {
    if (!mask[i]) continue;
    if (!std::isfinite(partial[i])) {
      throw InvalidInputError("known dimension " + std::to_string(i) + " is not finite; known values must be finite");
    }
    qm[i] = partial[i];
    m[i] = 1.0f;
    qn += static_cast<double>(partial[i]) * partial[i];
    ++known;
  }
  if (known == 0) throw InvalidInputError("the mask marks no dimension as known; at least one is needed");
  if (!(qn > 0.0))
    throw InvalidInputError("the known dimensions are all zero; cosine similarity needs a non-zero part");
  const double q_norm = std::sqrt(qn);

  std::vector<float> tmp(dim);
  // Bounded best-first list of sources (smallest cos at the front once full).
  std::vector<Source> best;
  const auto worse = [](const Source& a, const Source& b) { return a.cos != b.cos ? a.cos > b.cos : a.id < b.id; };
  const auto consider = [&](std::int64_t id, MemoryKind kind, const float* v, double confidence, bool copy) {
    // Element-wise masking vectorises; the two reductions use the SIMD kernels.
    for (std::size_t i = 0; i < dim; ++i) tmp[i] = v[i] * m[i];
    const double dot = simd::dot(qm.data(), v, dim);
    const double nn = simd::dot(tmp.data(), v, dim);
    if (!(nn > 0.0) || !(dot > 0.0)) return;
    const double cos = std::min(1.0, dot / (q_norm * std::sqrt(nn)));
    if (best.size() == p.neighbors && (cos < best.back().cos || (cos == best.back().cos && id > best.back().id)))
      return;
    Source s{cos, dot / nn, confidence, id, kind, v, {}};
    if (copy) {
      s.own.assign(v, v + dim);
      s.vec = nullptr;
    }
    best.insert(std::upper_bound(best.begin(), best.end(), s, worse), std::move(s));
    if (best.size() > p.neighbors) best.pop_back();
  };
  space.scan_episodes(
      [&](const Space::EpisodeRef& e) { consider(e.id, MemoryKind::Episode, e.vector, e.confidence, false); });
  if (p.use_concepts) {
    space.concept_store().scan([&](std::int64_t id, const float* c, float, float confidence, float) {
      consider(id, MemoryKind::Concept, c, confidence, true);
    });
  }
  for (Source& s : best) {
    if (!s.own.empty()) s.vec = s.own.data();
  }

  Completion out;
  out.known_dims = known;
  out.vector.assign(dim, 0.0f);
  for (std::size_t i = 0; i < dim; ++i) out.vector[i] = mask[i] ? partial[i] : 0.0f;
  double wsum = 0.0, wcos = 0.0, wconf = 0.0;
  std::vector<double> acc(dim, 0.0);
  for (const Source& s : best) {
    const double w = std::pow(s.cos, p.sharpness) * std::max(s.confidence, 1e-6);
    wsum += w;
    wcos += w * s.cos;
    wconf += w * s.confidence;
    for (std::size_t i = 0; i < dim; ++i) {
      if (!mask[i]) acc[i] += w * s.alpha * s.vec[i];
    }
    out.sources.push_back(s.id);
    out.source_similarity.push_back(static_cast<float>(s.cos));
  }
  if (wsum > 0.0) {
    for (std::size_t i = 0; i < dim; ++i) {
      if (!mask[i]) out.vector[i] = static_cast<float>(acc[i] / wsum);
    }
    out.confidence = static_cast<float>(std::clamp((wcos / wsum) * (wconf / wsum), 0.0, 1.0));
  }
  out.accepted = out.confidence >= p.ca1_threshold;
  for (std::size_t h = 0; h < best.size() && h < p.hypotheses; ++h) {
    const Source& s = best[h];
    Hypothesis hy;
    hy.source = s.id;
    hy.kind = s.kind;
    hy.confidence = static_cast<float>(std::clamp(s.cos * s.confidence, 0.0, 1.0));
    hy.vector.resize(dim);
    for (std::size_t i = 0; i < dim; ++i) hy.vector[i] = mask[i] ? partial[i] : static_cast<float>(s.alpha * s.vec[i]);
    out.alternatives.push_back(std::move(hy));
  }
  return out;
}

}  // namespace engram
