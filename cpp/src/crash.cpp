#include "engram/crash.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace engram {
namespace {

struct CrashSpec {
  std::string point;  // empty: disabled
  long nth = 1;
  std::atomic<long> hits{0};
};

CrashSpec& spec() {
  static CrashSpec* s = [] {
    auto* c = new CrashSpec();  // leaked on purpose: crash points may run during static teardown
    if (const char* env = std::getenv("ENGRAM_CRASH_AT"); env != nullptr && *env != '\0') {
      std::string v(env);
      if (const auto colon = v.rfind(':'); colon != std::string::npos) {
        c->nth = std::max(1L, std::atol(v.c_str() + colon + 1));
        v.resize(colon);
      }
      c->point = v;
    }
    return c;
  }();
  return *s;
}

}  // namespace

bool crash_armed(std::string_view name) noexcept {
  const CrashSpec& s = spec();
  return !s.point.empty() && s.point == name;
}

void crash_point(std::string_view name) noexcept {
  CrashSpec& s = spec();
  if (s.point.empty() || s.point != name) return;
  if (s.hits.fetch_add(1, std::memory_order_relaxed) + 1 != s.nth) return;
  ::kill(::getpid(), SIGKILL);
  ::_exit(137);  // not reached: SIGKILL cannot be caught
}

}  // namespace engram
