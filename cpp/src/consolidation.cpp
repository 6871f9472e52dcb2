#include "engram/consolidation.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "engram/clustering.hpp"
#include "engram/crash.hpp"
#include "engram/errors.hpp"
#include "engram/parallel.hpp"
#include "engram/simd.hpp"

namespace engram {

void validate(const ConsolidationParams& p) {
  const auto unit = [](double v, const char* name) {
    if (!std::isfinite(v) || v < 0.0 || v > 1.0) {
      throw InvalidInputError(std::string(name) + " must be in [0, 1], got " + std::to_string(v));
    }
  };
  unit(p.similarity_threshold, "similarity_threshold");
  unit(p.coherence_threshold, "coherence_threshold");
  unit(p.confidence_penalty, "confidence_penalty");
  unit(p.sigmoid_midpoint, "sigmoid_midpoint");
  if (p.min_cluster_size < 2) {
    throw InvalidInputError("min_cluster_size must be at least 2, got " + std::to_string(p.min_cluster_size));
  }
  if (!std::isfinite(p.temporal_scale_s) || p.temporal_scale_s < 0.0) {
    throw InvalidInputError("temporal_scale_s must be >= 0 seconds (0 disables the temporal factor)");
  }
  if (!std::isfinite(p.sigmoid_gain) || p.sigmoid_gain <= 0.0) {
    throw InvalidInputError("sigmoid_gain must be > 0, got " + std::to_string(p.sigmoid_gain));
  }
  if (!std::isfinite(p.max_concept_ratio) || p.max_concept_ratio < 0.0) {
    throw InvalidInputError("max_concept_ratio must be >= 0 (0: no cap), got " + std::to_string(p.max_concept_ratio));
  }
  if (p.neighbors < 1 || p.neighbors > 1000) {
    throw InvalidInputError("neighbors must be between 1 and 1000, got " + std::to_string(p.neighbors));
  }
  if (p.max_component < p.min_cluster_size || p.max_component > 20000) {
    throw InvalidInputError("max_component must be between min_cluster_size and 20000, got " +
                            std::to_string(p.max_component));
  }
  if (p.exact_below > p.max_component) {
    throw InvalidInputError("exact_below must not exceed max_component");
  }
  if (p.now && !std::isfinite(*p.now)) throw InvalidInputError("now must be a finite time in seconds");
}

namespace {

using EpisodeRef = Space::EpisodeRef;

using ClusteringCache = ConceptStore::ClusteringCache;

LinkageParams linkage_params(const ConsolidationParams& p) {
  LinkageParams l;
  l.similarity_threshold = p.similarity_threshold;
  l.coherence_threshold = p.coherence_threshold;
  l.min_cluster_size = p.min_cluster_size;
  l.temporal_scale_s = p.temporal_scale_s;
  l.sigmoid_gain = p.sigmoid_gain;
  l.sigmoid_midpoint = p.sigmoid_midpoint;
  l.parallel = p.parallel;
  l.kernel = p.kernel;
  return l;
}

// An episode's stored vector, as an Eigen vector over the index's storage (no copy).
Eigen::Map<const Eigen::VectorXf> vec(const EpisodeRef& e, std::size_t dim) noexcept {
  return {e.vector, static_cast<Eigen::Index>(dim)};
}

// FNV-1a over 64-bit words: cache keys (parameter fingerprints, block identities), not security.
struct Fnv1a {
  std::uint64_t h = 1469598103934665603ull;
  void mix(std::uint64_t v) noexcept { h = (h ^ v) * 1099511628211ull; }
};

// Two nearest concepts of one episode (indices into the run's concepts; SIZE_MAX when absent).
struct Top2 {
  std::size_t best[2] = {SIZE_MAX, SIZE_MAX};
};

// Working state of one concept during a run.
struct WorkConcept {
  std::int64_t id = 0;                // 0 until committed
  std::vector<std::int64_t> members;  // sorted
  Eigen::VectorXd sum;                // sum of the members' unit vectors
  double pair_sum = 0.0;
  bool changed = false;
  std::size_t bound_before = 0;
  std::vector<float> centroid() const {
    std::vector<float> c(static_cast<std::size_t>(sum.size()));
    Eigen::Map<Eigen::VectorXf>(c.data(), sum.size()) = (sum / static_cast<double>(members.size())).cast<float>();
    return c;
  }
  double coherence() const {
    const double n = static_cast<double>(members.size());
    return n < 2 ? 1.0 : pair_sum / (n * (n - 1) / 2.0);
  }
};

// A cluster of one run, in snapshot indices.
struct FoundCluster {
  std::size_t block = 0;             // the block of form() it came from
  std::vector<std::size_t> members;  // snapshot indices, ascending
  double pair_sum = 0.0;
  double coherence = 0.0;
  bool coherent = false;
};

class Run {
 public:
  // state: the space's consolidation state, guarded by its run mutex, which the caller holds.
  Run(Space& sp, const ConsolidationParams& p, ConceptStore::RunState& state, ConsolidationReport& rep)
      : sp_(sp), p_(p), state_(state), rep_(rep), link_(linkage_params(p)), sim_(link_), dim_(sp.dim()) {}

  void execute() {
    now_ = p_.now.value_or(sp_.clock().now());
    sp_.scan_episodes([&](const EpisodeRef& e) {
      pos_.emplace(e.id, eps_.size());
      eps_.push_back(e);
    });
    rep_.episodes_considered = eps_.size();
    ClusteringCache& cache = state_.clustering;
    const std::uint64_t fp = fingerprint();
    if (cache.fingerprint != fp || cache.forgotten != sp_.forgotten_count()) {
      cache.settled.clear();
      cache.pairs.clear();
      cache.blocks.clear();
      cache.fingerprint = fp;
      cache.forgotten = sp_.forgotten_count();
    }
    sp_.mark_phase("consolidation.pre_clustering");  // named at the next open if it dies here
    crash_point("consolidation.pre_clustering");
    load_concepts();
    refresh_dirty();
    bound_.assign(eps_.size(), false);
    for (const WorkConcept& c : concepts_) {
      for (const std::int64_t m : c.members) {
        if (auto it = pos_.find(m); it != pos_.end()) bound_[it->second] = true;
      }
    }
    const bool may_form = sp_.features().formation_allowed(sp_.name());
    rep_.formation_disabled = !may_form;
    std::size_t formed_budget = p_.max_concepts_per_run;
    for (int round = 0;; ++round) {
      assign_to_fixpoint();
      if (!may_form || formed_budget == 0 || stopped()) break;
      sp_.mark_phase("consolidation.mid_clustering");  // named at the next open if it dies here
      crash_point("consolidation.mid_clustering");
      const std::size_t formed = form(formed_budget, round == 0);
      formed_budget -= formed;
      if (formed == 0) break;
    }
    commit();
    sp_.mark_phase("consolidation.post_consolidation");  // named at the next open if it dies here
    crash_point("consolidation.post_consolidation");
  }

 private:
  // A requested stop (params.stop), remembered in the report. Checked only where the working
  // state is whole: between passes and blocks, never inside one.
  bool stopped() {
    if (!rep_.stopped && p_.stop.stop_requested()) rep_.stopped = true;
    return rep_.stopped;
  }

  void load_concepts() {
    for (ConceptView& v : sp_.concept_store().all()) {
      WorkConcept c;
      c.id = v.id;
      c.members = std::move(v.members);
      c.bound_before = c.members.size();
      c.pair_sum = sp_.concept_store().pair_similarity_sum(v.id);
      const double n = static_cast<double>(c.members.size());
      c.sum = Eigen::Map<const Eigen::VectorXf>(v.centroid.data(), static_cast<Eigen::Index>(dim_)).cast<double>() * n;
      concepts_.push_back(std::move(c));
    }
  }

  // Concepts that lost members to forget(): recompute them from the survivors.
  void refresh_dirty() {
    const std::vector<std::int64_t> dirty = sp_.concept_store().take_dirty();
    for (WorkConcept& c : concepts_) {
      if (!std::binary_search(dirty.begin(), dirty.end(), c.id)) continue;
      std::erase_if(c.members, [&](std::int64_t m) { return pos_.count(m) == 0; });
      c.changed = true;
      if (c.members.size() < p_.min_cluster_size) continue;  // dissolved at commit
      c.sum.setZero();
      c.pair_sum = 0.0;
      for (std::size_t i = 0; i < c.members.size(); ++i) {
        const EpisodeRef& a = eps_[pos_.at(c.members[i])];
        add_unit(c.sum, a);
        for (std::size_t j = 0; j < i; ++j) c.pair_sum += sim_.coherence(cos(a, eps_[pos_.at(c.members[j])]));
      }
    }
  }

  // Identifies the parameters that decide clustering (not the caps and breakers, which only
  // defer clusters, and deferred blocks are never cached).
  std::uint64_t fingerprint() const noexcept {
    Fnv1a f;
    for (const double d :
         {p_.similarity_threshold, p_.coherence_threshold, p_.temporal_scale_s, p_.sigmoid_gain, p_.sigmoid_midpoint}) {
      f.mix(std::bit_cast<std::uint64_t>(d));
    }
    for (const std::size_t v : {p_.min_cluster_size, p_.neighbors, p_.exact_below, p_.max_component}) f.mix(v);
    f.mix(p_.candidates_from_graph ? 1 : 2);
    return f.h;
  }

  static std::uint64_t hash_ids(const std::vector<std::int64_t>& ids) noexcept {
    Fnv1a f;
    for (const std::int64_t id : ids) f.mix(static_cast<std::uint64_t>(id));
    f.mix(ids.size());
    return f.h;
  }

  double cos(const EpisodeRef& a, const EpisodeRef& b) const noexcept {
    return static_cast<double>(dot_(a.vector, b.vector, dim_)) * a.inv_norm * b.inv_norm;
  }

  void add_unit(Eigen::VectorXd& sum, const EpisodeRef& e) const {
    sum += vec(e, dim_).cast<double>() * static_cast<double>(e.inv_norm);
  }

  double centroid_cos(const WorkConcept& c, const EpisodeRef& e) const {
    const double nn = c.sum.squaredNorm();
    return nn > 0.0 ? c.sum.dot(vec(e, dim_).cast<double>()) * e.inv_norm / std::sqrt(nn) : 0.0;
  }

  // Joins unbound episodes to concepts until nothing changes. An episode's candidate concepts
  // are those of its neighbours in the index's layer-0 graph: a concept none of whose members is
  // near the episode cannot reach the average-linkage threshold with it. Of those, the two with
  // the nearest centroids are tried, against the concepts' current members, in episode order
  // (deterministic for a given graph). Later passes revisit only the unbound neighbours of
  // episodes that joined, so a pass costs O(changed x degree), not O(episodes x concepts).
  void assign_to_fixpoint() {
    if (concepts_.empty()) return;
    std::vector<std::size_t> member_of(eps_.size(), SIZE_MAX);
    for (std::size_t c = 0; c < concepts_.size(); ++c) {
      if (concepts_[c].members.size() < p_.min_cluster_size) continue;
      for (const std::int64_t m : concepts_[c].members) {
        if (auto it = pos_.find(m); it != pos_.end()) member_of[it->second] = c;
      }
    }
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < eps_.size(); ++i) {
      if (!bound_[i]) todo.push_back(i);
    }
    std::vector<float> units(concepts_.size() * dim_);
    std::vector<std::vector<std::size_t>> near(eps_.size());  // filled for episodes in todo
    while (!todo.empty() && !stopped()) {
      for (std::size_t c = 0; c < concepts_.size(); ++c) {
        if (concepts_[c].members.size() >= p_.min_cluster_size) unit_centroid(concepts_[c], units.data() + c * dim_);
      }
      std::vector<Top2> top(todo.size());
      for_each_index(todo.size(), [&](std::size_t u) {
        const EpisodeRef& e = eps_[todo[u]];
        thread_local std::vector<std::int64_t> ids;
        sp_.index_neighbors(e, ids);
        std::vector<std::size_t>& nb = near[todo[u]];
        nb.clear();
        std::vector<std::size_t> cands;
        for (const std::int64_t id : ids) {
          const auto it = pos_.find(id);
          if (it == pos_.end()) continue;
          nb.push_back(it->second);
          const std::size_t c = member_of[it->second];
          if (c != SIZE_MAX && std::find(cands.begin(), cands.end(), c) == cands.end()) cands.push_back(c);
        }
        float best_cos[2] = {-2.0f, -2.0f};
        Top2& t = top[u];
        for (const std::size_t c : cands) {
          const float cs = dot_(units.data() + c * dim_, e.vector, dim_) * e.inv_norm;
          if (cs > best_cos[0] || (cs == best_cos[0] && c < t.best[0])) {
            t.best[1] = t.best[0];
            best_cos[1] = best_cos[0];
            t.best[0] = c;
            best_cos[0] = cs;
          } else if (cs > best_cos[1] || (cs == best_cos[1] && c < t.best[1])) {
            t.best[1] = c;
            best_cos[1] = cs;
          }
        }
      });
      std::vector<std::size_t> joined;
      for (std::size_t u = 0; u < todo.size(); ++u) {
        const std::size_t i = todo[u];
        if (bound_[i]) continue;
        const EpisodeRef& e = eps_[i];
        for (const std::size_t c : top[u].best) {
          if (c == SIZE_MAX) continue;
          WorkConcept& wc = concepts_[c];
          double link = 0.0, coh = 0.0;
          for (const std::int64_t m : wc.members) {
            const EpisodeRef& o = eps_[pos_.at(m)];
            const double cs = cos(e, o);
            link += sim_.link(cs, e.timestamp, o.timestamp);
            coh += sim_.coherence(cs);
          }
          const double n = static_cast<double>(wc.members.size());
          if (link / n < p_.similarity_threshold) continue;
          const double new_coh = (wc.pair_sum + coh) / ((n + 1.0) * n / 2.0);
          if (new_coh < p_.coherence_threshold) continue;
          wc.members.insert(std::upper_bound(wc.members.begin(), wc.members.end(), e.id), e.id);
          wc.pair_sum += coh;
          add_unit(wc.sum, e);
          wc.changed = true;
          bound_[i] = true;
          member_of[i] = c;
          joined.push_back(i);
          break;
        }
      }
      // Next pass: unbound neighbours of the episodes that joined (their concepts changed).
      std::vector<std::size_t> next;
      for (const std::size_t i : joined) {
        for (const std::size_t nb : near[i]) {
          if (!bound_[nb]) next.push_back(nb);
        }
      }
      std::sort(next.begin(), next.end());
      next.erase(std::unique(next.begin(), next.end()), next.end());
      todo.swap(next);
    }
  }

  // The concept's centroid direction as a float unit vector (zero if the sum is zero).
  void unit_centroid(const WorkConcept& c, float* out) const {
    const double nn = c.sum.squaredNorm();
    const double inv = nn > 0.0 ? 1.0 / std::sqrt(nn) : 0.0;
    Eigen::Map<Eigen::VectorXf>(out, static_cast<Eigen::Index>(dim_)) = (c.sum * inv).cast<float>();
  }

  // Clusters unbound episodes and turns up to `budget` coherent clusters into working concepts.
  std::size_t form(std::size_t budget, bool count_stats) {
    std::vector<std::size_t> unbound;
    for (std::size_t i = 0; i < eps_.size(); ++i) {
      if (!bound_[i]) unbound.push_back(i);
    }
    if (unbound.size() < p_.min_cluster_size) return 0;
    ClusteringCache& cache = state_.clustering;
    std::unordered_set<std::int64_t>& settled = cache.settled;
    const std::vector<std::vector<std::size_t>> blocks = components(unbound);
    if (stopped()) return 0;  // before the cache or the breakers change: the next run redoes this
    std::vector<char> clustered(blocks.size(), 0);
    std::vector<FoundCluster> clusters;
    std::unordered_map<std::uint64_t, ClusteringCache::CachedBlock> still_deferred;
    std::vector<std::uint64_t> keys(blocks.size(), 0);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      if (stopped()) return 0;  // nothing of this round is kept; earlier rounds commit
      const bool known = std::all_of(blocks[b].begin(), blocks[b].end(),
                                     [&](std::size_t i) { return settled.count(eps_[i].id) != 0; });
      if (known) continue;  // clustered before, nothing left unformed, nothing new
      std::vector<std::int64_t> ids;
      ids.reserve(blocks[b].size());
      for (const std::size_t i : blocks[b]) ids.push_back(eps_[i].id);
      std::sort(ids.begin(), ids.end());
      keys[b] = hash_ids(ids);
      const std::size_t first = clusters.size();
      if (const auto hit = cache.blocks.find(keys[b]); hit != cache.blocks.end() && hit->second.ids == ids) {
        ++rep_.blocks_reused;
        for (const auto& cc : hit->second.clusters) {
          FoundCluster c;
          for (const std::int64_t id : cc.members) c.members.push_back(pos_.at(id));
          std::sort(c.members.begin(), c.members.end());
          c.pair_sum = cc.pair_sum;
          c.coherence = cc.coherence;
          c.coherent = cc.coherence >= p_.coherence_threshold;
          clusters.push_back(std::move(c));
        }
        still_deferred.emplace(keys[b], std::move(hit->second));
      } else {
        cluster_block(blocks[b], clusters);
        ClusteringCache::CachedBlock entry;
        entry.ids = std::move(ids);
        for (std::size_t k = first; k < clusters.size(); ++k) {
          ClusteringCache::CachedCluster cc{{}, clusters[k].pair_sum, clusters[k].coherence};
          for (const std::size_t i : clusters[k].members) cc.members.push_back(eps_[i].id);
          entry.clusters.push_back(std::move(cc));
        }
        still_deferred.emplace(keys[b], std::move(entry));
      }
      for (std::size_t k = first; k < clusters.size(); ++k) clusters[k].block = b;
      clustered[b] = 1;
    }
    std::vector<FoundCluster> coherent;
    for (FoundCluster& c : clusters) {
      if (count_stats) ++rep_.clusters_found;
      if (c.coherent) {
        coherent.push_back(std::move(c));
      } else if (count_stats) {
        ++rep_.clusters_incoherent;
      }
    }
    std::sort(coherent.begin(), coherent.end(), [](const FoundCluster& a, const FoundCluster& b) {
      if (a.members.size() != b.members.size()) return a.members.size() > b.members.size();
      if (a.coherence != b.coherence) return a.coherence > b.coherence;
      return a.members.front() < b.members.front();
    });
    // Circuit breakers.
    std::size_t allowed = std::min(budget, coherent.size());
    std::deque<double>& times = state_.formation_times;
    while (!times.empty() && times.front() <= now_ - 3600.0) times.pop_front();
    if (p_.max_formations_per_hour > 0) {
      const std::size_t room =
          p_.max_formations_per_hour > times.size() ? p_.max_formations_per_hour - times.size() : 0;
      if (room < allowed) {
        allowed = room;
        rep_.rate_breaker_tripped = true;
      }
    }
    if (p_.max_concept_ratio > 0.0) {
      std::size_t live_concepts = 0;
      for (const WorkConcept& c : concepts_) live_concepts += c.members.size() >= p_.min_cluster_size ? 1 : 0;
      const auto cap = static_cast<std::size_t>(std::floor(p_.max_concept_ratio * static_cast<double>(eps_.size())));
      const std::size_t room = cap > live_concepts ? cap - live_concepts : 0;
      if (room < allowed) {
        allowed = room;
        rep_.ratio_breaker_tripped = true;
      }
    }
    rep_.clusters_deferred = coherent.size() - allowed;
    // Blocks whose coherent clusters all formed (or that had none) are settled; a block with a
    // deferred cluster must be clustered again by the next run.
    std::vector<char> deferred(blocks.size(), 0);
    for (std::size_t k = allowed; k < coherent.size(); ++k) deferred[coherent[k].block] = 1;
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      if (!clustered[b] || deferred[b]) continue;
      for (const std::size_t i : blocks[b]) settled.insert(eps_[i].id);
      still_deferred.erase(keys[b]);
    }
    // Only blocks with a deferred cluster can come back unchanged (a block with a formed cluster
    // loses those members to the concept); everything else drops out of the cache.
    cache.blocks = std::move(still_deferred);
    for (std::size_t k = 0; k < allowed; ++k) {
      const FoundCluster& cl = coherent[k];
      WorkConcept c;
      c.sum = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(dim_));
      for (const std::size_t i : cl.members) {
        c.members.push_back(eps_[i].id);
        add_unit(c.sum, eps_[i]);
        bound_[i] = true;
      }
      std::sort(c.members.begin(), c.members.end());
      c.pair_sum = cl.pair_sum;
      c.changed = true;
      concepts_.push_back(std::move(c));
      times.push_back(now_);
    }
    return allowed;
  }

  // Blocks of snapshot indices to cluster independently (see the header, step 3).
  std::vector<std::vector<std::size_t>> components(const std::vector<std::size_t>& unbound) {
    if (unbound.size() <= p_.exact_below) return {unbound};
    std::unordered_map<std::int64_t, std::size_t> local;  // episode id -> position in `unbound`
    for (std::size_t u = 0; u < unbound.size(); ++u) local.emplace(eps_[unbound[u]].id, u);
    std::vector<std::vector<std::size_t>> adj(unbound.size());
    const std::size_t k = p_.neighbors + 1;  // the episode finds itself
    const auto consider = [&](std::size_t u, std::int64_t id, double cos) {
      const auto it = local.find(id);
      if (it == local.end() || it->second == u) return;
      const EpisodeRef& e = eps_[unbound[u]];
      if (sim_.link(cos, e.timestamp, eps_[unbound[it->second]].timestamp) >= p_.similarity_threshold) {
        adj[u].push_back(it->second);
      }
    };
    auto& pairs = state_.clustering.pairs;
    std::vector<std::vector<std::int64_t>> fresh(unbound.size());  // pairs computed by this run
    std::vector<char> computed(unbound.size(), 0);
    for_each_index(unbound.size(), [&](std::size_t u) {
      if (p_.stop.stop_requested()) return;  // the pairs computed so far are whole and kept
      const EpisodeRef& e = eps_[unbound[u]];
      if (p_.candidates_from_graph) {
        // Reads of `pairs` only here (writes after the loop): safe from every worker.
        if (const auto cached = pairs.find(e.id); cached != pairs.end()) {
          for (const std::int64_t id : cached->second) {
            const auto it = local.find(id);
            if (it != local.end() && it->second != u) adj[u].push_back(it->second);
          }
          return;
        }
        thread_local std::vector<std::int64_t> ids;
        sp_.index_neighbors(e, ids);
        for (const std::int64_t id : ids) {
          const auto p = pos_.find(id);
          if (p == pos_.end() || id == e.id) continue;
          const EpisodeRef& o = eps_[p->second];
          if (sim_.link(cos(e, o), e.timestamp, o.timestamp) < p_.similarity_threshold) continue;
          fresh[u].push_back(id);
          if (const auto it = local.find(id); it != local.end()) adj[u].push_back(it->second);
        }
        computed[u] = 1;
      } else {
        for (const SearchHit& h : sp_.nearest_episodes(e.vector, k, std::max<std::size_t>(2 * k, 32))) {
          consider(u, h.id, h.similarity);
        }
      }
    });
    for (std::size_t u = 0; u < unbound.size(); ++u) {
      if (computed[u]) pairs[eps_[unbound[u]].id] = std::move(fresh[u]);
    }
    if (stopped()) return {};
    std::vector<std::vector<std::size_t>> out = connected_blocks(std::move(adj), p_.min_cluster_size, p_.max_component);
    for (auto& block : out) {
      for (std::size_t& u : block) u = unbound[u];  // ascending stays ascending: unbound is sorted
    }
    return out;
  }

  // Clusters one block (clustering.hpp). Its members' unit vectors are gathered into one
  // row-major matrix: the index stores each vector unnormalised in its own node block, and the
  // similarity product needs them contiguous and of unit norm (m x dim floats, a small copy
  // beside the O(m^2 dim) product).
  void cluster_block(const std::vector<std::size_t>& block, std::vector<FoundCluster>& out) const {
    const std::size_t m = block.size();
    if (m < p_.min_cluster_size) return;
    std::vector<float> units(m * dim_);
    std::vector<double> stamps(m);
    for (std::size_t r = 0; r < m; ++r) {
      const EpisodeRef& e = eps_[block[r]];
      Eigen::Map<Eigen::VectorXf>(units.data() + r * dim_, static_cast<Eigen::Index>(dim_)) = vec(e, dim_) * e.inv_norm;
      stamps[r] = e.timestamp;
    }
    for (Cluster& c : average_linkage(PointBlock{units, dim_, stamps}, link_)) {
      FoundCluster f;
      f.members.reserve(c.members.size());
      for (const std::size_t r : c.members) f.members.push_back(block[r]);  // ascending: block is sorted
      f.pair_sum = c.pair_sum;
      f.coherence = c.coherence;
      f.coherent = c.coherent;
      out.push_back(std::move(f));
    }
  }

  template <class F>
  void for_each_index(std::size_t n, F&& f) const {
    if (p_.parallel) {
      engram::parallel_for(n, f);
    } else {
      for (std::size_t i = 0; i < n; ++i) f(i);
    }
  }

  // Writes every changed concept: a brief records lock per concept (Space::commit_concept).
  void commit() {
    sp_.mark_phase("consolidation.pre_concept_write");  // named at the next open if it dies here
    crash_point("consolidation.pre_concept_write");
    bool writing = false;
    const float penalty = static_cast<float>(p_.confidence_penalty);
    for (WorkConcept& c : concepts_) {
      if (!c.changed) continue;
      if (c.members.size() < p_.min_cluster_size) {
        if (c.id != 0) {
          sp_.dissolve_concept(c.id);
          ++rep_.concepts_dissolved;
        }
        continue;
      }
      ConceptDraft d;
      d.centroid = c.centroid();
      const double coherence = std::clamp(c.coherence(), 0.0, 1.0);
      d.coherence = static_cast<float>(coherence);
      d.time = now_;
      d.members = c.members;
      d.pair_similarity_sum = c.pair_sum;
      double conf_sum = 0.0;
      float conf_max = 0.0f;
      std::vector<Space::BindingSpec> bindings;
      double strength_sum = 0.0;
      for (const std::int64_t m : c.members) {
        const EpisodeRef& e = eps_[pos_.at(m)];
        conf_sum += e.confidence;
        conf_max = std::max(conf_max, e.confidence);
        const float s = static_cast<float>(std::max(0.0, centroid_cos(c, e)));
        bindings.push_back({m, s, 0.0f});
        strength_sum += s;
      }
      for (auto& b : bindings)
        b.contribution = strength_sum > 0.0 ? static_cast<float>(b.strength / strength_sum) : 0.0f;
      // mean <= max and penalty * coherence <= 1: never above the best member's confidence.
      d.confidence = std::min(conf_max, static_cast<float>(conf_sum / static_cast<double>(c.members.size())) * penalty *
                                            static_cast<float>(coherence));
      const bool is_new = c.id == 0;
      const std::size_t before = c.bound_before;
      if (!writing) {  // the crash point of this phase is inside the write (Space::apply_concept)
        sp_.mark_phase("consolidation.mid_binding_write");
        writing = true;
      }
      const std::int64_t id = sp_.commit_concept(c.id, std::move(d), std::move(bindings), p_.min_cluster_size);
      if (id == 0) continue;  // members forgotten meanwhile; the next run sees the new state
      if (is_new) {
        ++rep_.concepts_formed;
        rep_.formed.push_back(id);
        rep_.episodes_bound += c.members.size();
      } else {
        ++rep_.concepts_updated;
        rep_.updated.push_back(id);
        rep_.episodes_bound += c.members.size() > before ? c.members.size() - before : 0;
      }
    }
  }

  Space& sp_;
  const ConsolidationParams& p_;
  ConceptStore::RunState& state_;
  ConsolidationReport& rep_;
  LinkageParams link_;
  Similarity sim_;
  std::size_t dim_;
  simd::DotFn dot_ = simd::active().dot;  // chosen once per run, not once per pair
  double now_ = 0.0;
  std::vector<EpisodeRef> eps_;
  std::unordered_map<std::int64_t, std::size_t> pos_;
  std::vector<WorkConcept> concepts_;
  std::vector<bool> bound_;
};

}  // namespace

ConsolidationReport consolidate(Space& space, const ConsolidationParams& params) {
  validate(params);
  OpTimer timer(space.metrics(), Op::Consolidate);
  const auto start = std::chrono::steady_clock::now();
  const Space::OperationLock lock(space);
  ConceptStore& store = space.concept_store();
  ConsolidationCounters& k = store.counters();
  MutexLock run_lock(store.run_mutex());
  ConsolidationReport rep;
  try {
    Run(space, params, store.run_state(), rep).execute();
  } catch (...) {
    space.mark_phase("serving");
    k.failures.fetch_add(1, std::memory_order_relaxed);
    throw;
  }
  space.mark_phase("serving");
  rep.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  k.runs.fetch_add(1, std::memory_order_relaxed);
  k.concepts_formed.fetch_add(rep.concepts_formed, std::memory_order_relaxed);
  k.concepts_updated.fetch_add(rep.concepts_updated, std::memory_order_relaxed);
  k.concepts_dissolved.fetch_add(rep.concepts_dissolved, std::memory_order_relaxed);
  k.episodes_bound.fetch_add(rep.episodes_bound, std::memory_order_relaxed);
  if (rep.rate_breaker_tripped) k.rate_breaker_trips.fetch_add(1, std::memory_order_relaxed);
  if (rep.ratio_breaker_tripped) k.ratio_breaker_trips.fetch_add(1, std::memory_order_relaxed);
  k.rate_breaker_open.store(rep.rate_breaker_tripped, std::memory_order_relaxed);
  k.ratio_breaker_open.store(rep.ratio_breaker_tripped, std::memory_order_relaxed);
  k.last_run_at.store(params.now.value_or(space.clock().now()), std::memory_order_relaxed);
  k.last_duration_s.store(rep.duration_s, std::memory_order_relaxed);
  return rep;
}

}  // namespace engram
