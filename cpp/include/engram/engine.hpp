// The engine: a registry of memory spaces sharing one clock and one configuration.
//
// Locking scheme: spaces_mu_ (shared_mutex) guards the name -> space map; lookups hold it
// shared, create/drop/close exclusively. Spaces are handed out as shared_ptr so a caller's
// handle stays valid after a drop (every later call through it raises SpaceNotFound).
// Operations on different spaces never share a lock.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engram/clock.hpp"
#include "engram/consolidation.hpp"
#include "engram/features.hpp"
#include "engram/space.hpp"

namespace engram {

struct EngineConfig {
  SpaceConfig space{};  // defaults for new spaces
  std::size_t max_spaces = 4096;
};

class Engine {
 public:
  explicit Engine(EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineConfig& config() const noexcept { return config_; }
  std::shared_ptr<Space> create_space(std::string_view name, std::optional<SpaceConfig> config = std::nullopt);
  std::shared_ptr<Space> space(std::string_view name) const;
  std::vector<std::string> space_names() const;
  std::vector<std::shared_ptr<Space>> spaces() const;
  void drop_space(std::string_view name);

  Clock& clock() noexcept { return *clock_; }

  // Run-time feature flags shared by every space (features.hpp); unset arguments keep their value.
  void set_features(std::optional<bool> blended_recall, std::optional<bool> fan_effect,
                    std::optional<bool> concept_formation);
  const FeatureFlags& features() const noexcept { return *features_; }

  // Background consolidation (consolidation.hpp). start replaces a running consolidator; stop
  // joins its thread (at most one space run later). consolidator_mu_ guards the pointer.
  void start_consolidation(double interval_s, ConsolidationParams params = {});
  void stop_consolidation();
  void pause_consolidation();   // no-op when stopped
  void resume_consolidation();  // no-op when stopped
  ConsolidatorStatus consolidation_status() const;
  std::string prometheus() const;

  void close();
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

 private:
  void ensure_open() const;

  EngineConfig config_;
  std::shared_ptr<Clock> clock_;
  mutable std::shared_mutex spaces_mu_;
  std::map<std::string, std::shared_ptr<Space>, std::less<>> spaces_;
  std::uint32_t next_ordinal_ = 1;
  std::atomic<bool> closed_{false};
  std::shared_ptr<FeatureFlags> features_ = std::make_shared<FeatureFlags>();
  mutable std::mutex consolidator_mu_;
  std::unique_ptr<BackgroundConsolidator> consolidator_;
};

}  // namespace engram
