#include "engram/load_executor.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include "engram/errors.hpp"
#include "engram/recall.hpp"

namespace engram {

const std::vector<const char*>& load_error_classes() {
  static const std::vector<const char*> names = {
      "",          "InvalidInputError", "MemoryNotFound", "CapacityError", "SpaceNotFound", "EngramError",
      "Exception", "NotStarted",        "Unsupported"};
  return names;
}

namespace {

using SteadyClock = std::chrono::steady_clock;

LoadError execute(Space& sp, const LoadSchedule& s, std::size_t i) {
  const float* vec = s.vectors.data() + i * s.dim;
  try {
    switch (static_cast<LoadOp>(s.op[i])) {
      case LoadOp::Remember: {
        EpisodeInput e;
        e.embedding = vec;
        e.embedding_size = s.dim;
        e.content = "load " + std::to_string(i);
        e.confidence = s.confidence.empty() ? 1.0 : static_cast<double>(s.confidence[i]);
        sp.remember(std::move(e));
        return LoadError::Ok;
      }
      case LoadOp::Search: {
        const std::int32_t k = s.k.empty() ? 10 : std::max<std::int32_t>(1, s.k[i]);
        sp.search({vec, s.dim}, static_cast<std::size_t>(k), std::nullopt);
        return LoadError::Ok;
      }
      case LoadOp::RecallEpisodic:
      case LoadOp::RecallSemantic:
      case LoadOp::RecallBlended: {
        RecallParams p;
        p.k = s.k.empty() ? 10 : static_cast<std::size_t>(std::max<std::int32_t>(1, s.k[i]));
        p.threshold = s.threshold.empty() || std::isnan(s.threshold[i]) ? 0.0 : static_cast<double>(s.threshold[i]);
        const auto op = static_cast<LoadOp>(s.op[i]);
        p.mode = op == LoadOp::RecallEpisodic   ? RecallMode::Episodic
                 : op == LoadOp::RecallSemantic ? RecallMode::Semantic
                                                : RecallMode::Blended;
        recall(sp, {vec, s.dim}, p);
        return LoadError::Ok;
      }
      default: return LoadError::Unsupported;
    }
  } catch (const InvalidInputError&) {
    return LoadError::InvalidInput;
  } catch (const MemoryNotFound&) {
    return LoadError::NotFound;
  } catch (const CapacityError&) {
    return LoadError::Capacity;
  } catch (const SpaceNotFound&) {
    return LoadError::SpaceNotFound;
  } catch (const EngramError&) {
    return LoadError::Engram;
  } catch (const std::exception&) {
    return LoadError::Other;
  }
}

}  // namespace

LoadOutcome run_schedule(const std::vector<std::shared_ptr<Space>>& spaces, const LoadSchedule& s,
                         const LoadOptions& options) {
  const std::size_t n = s.start_ns.size();
  if (s.op.size() != n || s.space.size() != n || s.vectors.size() != n * s.dim || (!s.k.empty() && s.k.size() != n) ||
      (!s.confidence.empty() && s.confidence.size() != n)) {
    throw InvalidInputError("schedule arrays must all have one entry per operation (" + std::to_string(n) + ")");
  }
  for (const auto& sp : spaces) {
    if (sp->dim() != s.dim) {
      throw DimensionError("space '" + sp->name() + "' has dimension " + std::to_string(sp->dim()) +
                           " but the schedule's vectors have " + std::to_string(s.dim));
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (s.space[i] < 0 || static_cast<std::size_t>(s.space[i]) >= spaces.size()) {
      throw InvalidInputError("operation " + std::to_string(i) + " names space index " + std::to_string(s.space[i]) +
                              "; expected 0.." + std::to_string(spaces.size() - 1));
    }
  }
  LoadOutcome out;
  out.actual_start_ns.assign(n, -1);
  out.latency_ns.assign(n, -1);
  out.error_code.assign(n, static_cast<std::int16_t>(LoadError::NotStarted));
  std::atomic<std::size_t> cursor{0};
  std::atomic<std::int64_t> last_end{0};
  const auto t0 = SteadyClock::now();

  const auto worker = [&] {
    for (;;) {
      const std::size_t i = cursor.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      const auto intended = t0 + std::chrono::nanoseconds(s.start_ns[i]);
      if (options.deadline_ns > 0 && SteadyClock::now() - t0 > std::chrono::nanoseconds(options.deadline_ns)) continue;
      // Sleep most of the way, then yield-spin: timer wake-ups are ~60-100 us late, which would
      // otherwise be charged to the engine as latency.
      std::this_thread::sleep_until(intended - std::chrono::microseconds(150));
      while (SteadyClock::now() < intended) std::this_thread::yield();
      const auto began = SteadyClock::now();
      const LoadError err = execute(*spaces[static_cast<std::size_t>(s.space[i])], s, i);
      const auto ended = SteadyClock::now();
      out.actual_start_ns[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(began - t0).count();
      out.latency_ns[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(ended - intended).count();
      out.error_code[i] = static_cast<std::int16_t>(err);
      const std::int64_t end_off = std::chrono::duration_cast<std::chrono::nanoseconds>(ended - t0).count();
      std::int64_t prev = last_end.load(std::memory_order_relaxed);
      while (prev < end_off && !last_end.compare_exchange_weak(prev, end_off, std::memory_order_relaxed)) {
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    pool.reserve(std::max(1u, options.threads));
    for (unsigned t = 0; t < std::max(1u, options.threads); ++t) pool.emplace_back(worker);
  }  // jthreads join here
  out.wall_ns = last_end.load();
  return out;
}

}  // namespace engram
