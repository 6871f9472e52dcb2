#include "engram/engine.hpp"

#include <mutex>
#include <sstream>

#include "engram/errors.hpp"
#include "engram/simd.hpp"
#include "engram/validation.hpp"

namespace engram {

Engine::Engine(EngineConfig config) : config_(config), clock_(std::make_shared<Clock>()) {
  // Construct a throwaway space config check so bad engine-wide settings fail at open time.
  if (config_.space.dim == 0 || config_.space.dim > 65536) {
    throw InvalidInputError("dimension must be between 1 and 65536, got " + std::to_string(config_.space.dim));
  }
}

Engine::~Engine() {
  try {
    close();
  } catch (...) {  // destructors must not throw; close() on a healthy engine does not
  }
}

void Engine::ensure_open() const {
  if (closed()) throw ClosedError("the engine is closed");
}

std::shared_ptr<Space> Engine::create_space(std::string_view name, std::optional<SpaceConfig> config) {
  check_space_name(name);
  std::unique_lock lock(spaces_mu_);
  ensure_open();
  if (spaces_.find(name) != spaces_.end()) throw SpaceExists("memory space '" + std::string(name) + "' already exists");
  if (spaces_.size() >= config_.max_spaces) {
    throw CapacityError("the engine holds " + std::to_string(spaces_.size()) + " spaces, its limit");
  }
  if (next_ordinal_ >= (1u << 22)) throw CapacityError("space ordinals exhausted; restart the engine to compact");
  auto sp = std::make_shared<Space>(std::string(name), next_ordinal_, config.value_or(config_.space), clock_);
  ++next_ordinal_;
  spaces_.emplace(std::string(name), sp);
  return sp;
}

std::shared_ptr<Space> Engine::space(std::string_view name) const {
  std::shared_lock lock(spaces_mu_);
  ensure_open();
  const auto it = spaces_.find(name);
  if (it == spaces_.end()) {
    throw SpaceNotFound("unknown memory space '" + std::string(name.substr(0, 80)) + "'; create it first");
  }
  return it->second;
}

std::vector<std::string> Engine::space_names() const {
  std::shared_lock lock(spaces_mu_);
  ensure_open();
  std::vector<std::string> names;
  names.reserve(spaces_.size());
  for (const auto& [n, s] : spaces_) names.push_back(n);
  return names;
}

std::vector<std::shared_ptr<Space>> Engine::spaces() const {
  std::shared_lock lock(spaces_mu_);
  std::vector<std::shared_ptr<Space>> out;
  out.reserve(spaces_.size());
  for (const auto& [n, s] : spaces_) out.push_back(s);
  return out;
}

void Engine::drop_space(std::string_view name) {
  std::shared_ptr<Space> victim;
  {
    std::unique_lock lock(spaces_mu_);
    ensure_open();
    const auto it = spaces_.find(name);
    if (it == spaces_.end()) throw SpaceNotFound("unknown memory space '" + std::string(name.substr(0, 80)) + "'");
    victim = it->second;
    spaces_.erase(it);
  }
  victim->mark_dropped();  // waits for in-flight operations on it
}

void Engine::close() {
  std::map<std::string, std::shared_ptr<Space>, std::less<>> all;
  {
    std::unique_lock lock(spaces_mu_);
    if (closed_.exchange(true)) return;
    all.swap(spaces_);
  }
  for (auto& [n, s] : all) s->mark_dropped();
}

std::string Engine::prometheus() const {
  const auto all = spaces();
  std::ostringstream out;
  out.precision(17);
  out << "# HELP engram_operations_total Engine operations by memory space and operation.\n"
         "# TYPE engram_operations_total counter\n";
  for (const auto& sp : all) {
    const std::string space = prometheus_escape(sp->name());
    for (std::size_t o = 0; o < kOpCount; ++o) {
      const OpSnapshot s = sp->metrics().snapshot(static_cast<Op>(o));
      out << "engram_operations_total{space=\"" << space << "\",op=\"" << op_name(static_cast<Op>(o)) << "\"} "
          << s.total << "\n";
    }
  }
  out << "# HELP engram_operation_errors_total Engine operations that failed, by space and operation.\n"
         "# TYPE engram_operation_errors_total counter\n";
  for (const auto& sp : all) {
    const std::string space = prometheus_escape(sp->name());
    for (std::size_t o = 0; o < kOpCount; ++o) {
      const OpSnapshot s = sp->metrics().snapshot(static_cast<Op>(o));
      out << "engram_operation_errors_total{space=\"" << space << "\",op=\"" << op_name(static_cast<Op>(o)) << "\"} "
          << s.errors << "\n";
    }
  }
  out << "# HELP engram_operation_duration_seconds Engine operation latency.\n"
         "# TYPE engram_operation_duration_seconds histogram\n";
  for (const auto& sp : all) {
    const std::string space = prometheus_escape(sp->name());
    for (std::size_t o = 0; o < kOpCount; ++o) {
      const OpSnapshot s = sp->metrics().snapshot(static_cast<Op>(o));
      const std::string labels = "space=\"" + space + "\",op=\"" + op_name(static_cast<Op>(o)) + "\"";
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b < kLatencyBounds.size(); ++b) {
        cumulative += s.latency.buckets[b];
        out << "engram_operation_duration_seconds_bucket{" << labels << ",le=\"" << kLatencyBounds[b] << "\"} "
            << cumulative << "\n";
      }
      cumulative += s.latency.buckets.back();
      out << "engram_operation_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} " << cumulative << "\n";
      out << "engram_operation_duration_seconds_sum{" << labels << "} " << s.latency.sum_seconds << "\n";
      out << "engram_operation_duration_seconds_count{" << labels << "} " << cumulative << "\n";
    }
  }
  out << "# HELP engram_memories_total Live memories by space and kind.\n# TYPE engram_memories_total gauge\n";
  std::vector<SpaceStats> stats;
  stats.reserve(all.size());
  for (const auto& sp : all) {
    SpaceStats st;
    try {
      st = sp->stats();
    } catch (const SpaceNotFound&) {  // dropped between listing and reading
    }
    stats.push_back(st);
    const std::string space = prometheus_escape(sp->name());
    out << "engram_memories_total{space=\"" << space << "\",kind=\"episode\"} " << st.episodes << "\n";
    out << "engram_memories_total{space=\"" << space << "\",kind=\"concept\"} " << st.concepts << "\n";
  }
  out << "# HELP engram_memory_bytes Memory used by space and component.\n# TYPE engram_memory_bytes gauge\n";
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string space = prometheus_escape(all[i]->name());
    const SpaceStats& st = stats[i];
    const std::pair<const char*, std::uint64_t> parts[] = {
        {"vectors", st.vector_bytes}, {"index_links", st.index_link_bytes}, {"index_nodes", st.index_node_bytes},
        {"records", st.record_bytes}, {"content", st.content_bytes},        {"metadata", st.metadata_bytes}};
    for (const auto& [component, bytes] : parts) {
      out << "engram_memory_bytes{space=\"" << space << "\",component=\"" << component << "\"} " << bytes << "\n";
    }
  }
  out << "# HELP engram_spaces Memory spaces open.\n# TYPE engram_spaces gauge\nengram_spaces " << all.size() << "\n";
  out << "# HELP engram_simd_info Distance kernels in use.\n# TYPE engram_simd_info gauge\nengram_simd_info{level=\""
      << simd::level_name(simd::active_level()) << "\"} 1\n";
  return out.str();
}

}  // namespace engram
