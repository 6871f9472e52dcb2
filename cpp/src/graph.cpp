#include "engram/graph.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "engram/errors.hpp"

namespace engram {

const char* edge_kind_name(EdgeKind k) noexcept {
  switch (k) {
    case EdgeKind::Association: return "association";
    case EdgeKind::Binding: return "binding";
    case EdgeKind::Hierarchy: return "hierarchy";
  }
  return "unknown";
}

std::optional<EdgeKind> parse_edge_kind(std::string_view name) noexcept {
  if (name == "association") return EdgeKind::Association;
  if (name == "binding") return EdgeKind::Binding;
  if (name == "hierarchy") return EdgeKind::Hierarchy;
  return std::nullopt;
}

namespace {

void check_unit(float v, const char* what) {
  if (!std::isfinite(v) || v < 0.0f || v > 1.0f) {
    throw InvalidInputError(std::string(what) + " must be a finite number in [0, 1], got " + std::to_string(v));
  }
}

auto lower(std::vector<Edge>& list, std::int64_t other) {
  return std::lower_bound(list.begin(), list.end(), other, [](const Edge& e, std::int64_t o) { return e.other < o; });
}
auto lower(const std::vector<Edge>& list, std::int64_t other) {
  return std::lower_bound(list.begin(), list.end(), other, [](const Edge& e, std::int64_t o) { return e.other < o; });
}

// Inserts or replaces; returns true when inserted.
bool upsert(std::vector<Edge>& list, const Edge& e) {
  auto it = lower(list, e.other);
  if (it != list.end() && it->other == e.other) {
    *it = e;
    return false;
  }
  list.insert(it, e);
  return true;
}

bool erase(std::vector<Edge>& list, std::int64_t other) {
  auto it = lower(list, other);
  if (it == list.end() || it->other != other) return false;
  list.erase(it);
  return true;
}

}  // namespace

// Lower stripe first (deadlock freedom); one lock when both ends share a stripe. Outside the
// analysis (a constructor): the attributes in graph.hpp state what it holds.
Graph::StripePair::StripePair(Graph& g, std::size_t a, std::size_t b)
    : first_(&g.stripes_[std::min(a, b)].mu), second_(a != b ? &g.stripes_[std::max(a, b)].mu : nullptr) {
  first_->lock();
  if (second_ != nullptr) second_->lock();
}

Graph::StripePair::~StripePair() {
  if (second_ != nullptr) second_->unlock();
  first_->unlock();
}

bool Graph::add_edge(std::int64_t src, std::int64_t dst, EdgeKind kind, float weight, float strength,
                     float contribution) {
  if (src == dst) throw InvalidInputError("cannot link memory " + std::to_string(src) + " to itself");
  check_unit(weight, "edge weight");
  check_unit(strength, "binding strength");
  check_unit(contribution, "binding contribution");
  if (kind != EdgeKind::Binding) strength = contribution = 1.0f;
  const std::size_t a = stripe_index(src), b = stripe_index(dst);
  const StripePair lock(*this, a, b);
  Edge out{dst, weight, kind, strength, contribution};
  Edge in{src, weight, kind, strength, contribution};
  const bool inserted = upsert(stripes_[a].nodes[src].out, out);
  upsert(stripes_[b].nodes[dst].in, in);
  if (inserted) edges_.fetch_add(1, std::memory_order_relaxed);
  return inserted;
}

bool Graph::remove_edge(std::int64_t src, std::int64_t dst) {
  const std::size_t a = stripe_index(src), b = stripe_index(dst);
  const StripePair lock(*this, a, b);
  auto sit = stripes_[a].nodes.find(src);
  if (sit == stripes_[a].nodes.end() || !erase(sit->second.out, dst)) return false;
  if (sit->second.out.empty() && sit->second.in.empty()) stripes_[a].nodes.erase(sit);
  auto dit = stripes_[b].nodes.find(dst);
  if (dit != stripes_[b].nodes.end()) {
    erase(dit->second.in, src);
    if (dit->second.out.empty() && dit->second.in.empty()) stripes_[b].nodes.erase(dit);
  }
  edges_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

std::size_t Graph::remove_node(std::int64_t id) {
  // Take the node's lists under its own stripe, then remove the mirror entries one edge at a
  // time. A concurrent add_edge touching id after the first step re-creates it; Space::forget
  // prevents that by excluding link() (records_mu_).
  std::vector<Edge> out, in;
  {
    Stripe& s = stripe(id);
    WriterLock lock(s.mu);
    const auto it = s.nodes.find(id);
    if (it == s.nodes.end()) return 0;
    out = std::move(it->second.out);
    in = std::move(it->second.in);
    s.nodes.erase(it);
  }
  const auto drop_mirror = [this](std::int64_t node, std::int64_t other, bool out_list) {
    Stripe& s = stripe(node);
    WriterLock lock(s.mu);
    const auto it = s.nodes.find(node);
    if (it == s.nodes.end()) return false;
    const bool erased = erase(out_list ? it->second.out : it->second.in, other);
    if (it->second.out.empty() && it->second.in.empty()) s.nodes.erase(it);
    return erased;
  };
  // id's out-edges are gone with its lists, so no one else can remove them now; an in-edge
  // x -> id may be removed concurrently by remove_edge(x, id), which then counts it itself.
  std::size_t removed = out.size();
  for (const Edge& e : out) drop_mirror(e.other, id, /*out_list=*/false);
  for (const Edge& e : in) removed += drop_mirror(e.other, id, /*out_list=*/true) ? 1 : 0;
  edges_.fetch_sub(removed, std::memory_order_relaxed);
  return removed;
}

void Graph::clear() {
  // All stripes, in index order, so the count and the lists change together.
  std::array<std::unique_lock<SharedMutex>, kStripes> locks;
  for (std::size_t i = 0; i < kStripes; ++i) locks[i] = std::unique_lock(stripes_[i].mu);
  for (Stripe& s : stripes_) s.nodes.clear();
  edges_.store(0, std::memory_order_relaxed);
}

std::optional<Edge> Graph::edge(std::int64_t src, std::int64_t dst) const {
  const Stripe& s = stripe(src);
  ReaderLock lock(s.mu);
  const auto it = s.nodes.find(src);
  if (it == s.nodes.end()) return std::nullopt;
  const auto e = lower(it->second.out, dst);
  if (e == it->second.out.end() || e->other != dst) return std::nullopt;
  return *e;
}

std::vector<Edge> Graph::neighbors(std::int64_t id) const {
  std::vector<Edge> v;
  for_each_out(id, [&](const Edge& e) { v.push_back(e); });
  return v;
}

std::vector<Edge> Graph::in_edges(std::int64_t id) const {
  std::vector<Edge> v;
  for_each_in(id, [&](const Edge& e) { v.push_back(e); });
  return v;
}

std::size_t Graph::out_degree(std::int64_t id) const {
  const Stripe& s = stripe(id);
  ReaderLock lock(s.mu);
  const auto it = s.nodes.find(id);
  return it == s.nodes.end() ? 0 : it->second.out.size();
}

std::size_t Graph::in_degree(std::int64_t id) const {
  const Stripe& s = stripe(id);
  ReaderLock lock(s.mu);
  const auto it = s.nodes.find(id);
  return it == s.nodes.end() ? 0 : it->second.in.size();
}

std::vector<EdgeRecord> Graph::edges() const {
  std::vector<EdgeRecord> all;
  for (const Stripe& s : stripes_) {
    ReaderLock lock(s.mu);
    for (const auto& [src, adj] : s.nodes) {
      for (const Edge& e : adj.out) all.push_back({src, e.other, e.weight, e.kind, e.strength, e.contribution});
    }
  }
  std::sort(all.begin(), all.end(),
            [](const EdgeRecord& x, const EdgeRecord& y) { return x.src != y.src ? x.src < y.src : x.dst < y.dst; });
  return all;
}

std::size_t Graph::memory_bytes() const {
  std::size_t bytes = sizeof(*this);
  for (const Stripe& s : stripes_) {
    ReaderLock lock(s.mu);
    // Node entry + bucket pointer per node, plus the edge arrays' capacity.
    bytes += s.nodes.bucket_count() * sizeof(void*);
    for (const auto& [id, adj] : s.nodes) {
      bytes += sizeof(std::pair<const std::int64_t, Adjacency>) + sizeof(void*) +
               (adj.out.capacity() + adj.in.capacity()) * sizeof(Edge);
    }
  }
  return bytes;
}

}  // namespace engram
