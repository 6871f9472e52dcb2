#include <atomic>
#include <cstdlib>

#include "engram/errors.hpp"
#include "engram/simd.hpp"

namespace engram::simd {
namespace {

bool cpu_has(Level level) noexcept {
  switch (level) {
    case Level::Scalar: return true;
    case Level::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Level::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
  }
  return false;
}

const Kernels* table_for(Level level) noexcept {
  switch (level) {
    case Level::Scalar: return &scalar_kernels();
    case Level::Avx2: return avx2_kernels();
    case Level::Avx512: return avx512_kernels();
  }
  return nullptr;
}

struct Startup {
  const Kernels* chosen = nullptr;
  std::string error;
  Startup() {
    Level level = best_supported();
    if (const char* env = std::getenv("ENGRAM_SIMD"); env != nullptr && *env != '\0') {
      if (auto parsed = parse_level(env); !parsed) {
        error = std::string("ENGRAM_SIMD='") + env + "' is not one of scalar, avx2, avx512";
      } else if (!supported(*parsed)) {
        error = std::string("ENGRAM_SIMD='") + env +
                "' is not supported by this CPU (best: " + level_name(best_supported()) + ")";
      } else {
        level = *parsed;
      }
    }
    chosen = table_for(level);
  }
};

Startup& startup() {
  static Startup s;
  return s;
}

std::atomic<const Kernels*>& current() {
  static std::atomic<const Kernels*> ptr{startup().chosen};
  return ptr;
}

}  // namespace

Level best_supported() noexcept {
  if (avx512_kernels() && cpu_has(Level::Avx512)) return Level::Avx512;
  if (avx2_kernels() && cpu_has(Level::Avx2)) return Level::Avx2;
  return Level::Scalar;
}

bool supported(Level level) noexcept { return table_for(level) != nullptr && cpu_has(level); }

const Kernels& active() noexcept { return *current().load(std::memory_order_acquire); }

Level active_level() noexcept { return active().level; }

const Kernels& kernels_for(Level level) {
  if (!supported(level)) {
    throw InvalidInputError(std::string("SIMD level ") + level_name(level) +
                            " is not supported by this CPU (best: " + level_name(best_supported()) + ")");
  }
  return *table_for(level);
}

void set_level(Level level) { current().store(&kernels_for(level), std::memory_order_release); }

const char* level_name(Level level) noexcept {
  switch (level) {
    case Level::Scalar: return "scalar";
    case Level::Avx2: return "avx2";
    case Level::Avx512: return "avx512";
  }
  return "unknown";
}

std::optional<Level> parse_level(std::string_view name) noexcept {
  if (name == "scalar") return Level::Scalar;
  if (name == "avx2") return Level::Avx2;
  if (name == "avx512") return Level::Avx512;
  return std::nullopt;
}

const std::string& environment_error() noexcept { return startup().error; }

}  // namespace engram::simd
