// Built instead of http_target.cpp when Boost.Beast/Asio were not found: the API exists and says
// what to install.
#include "engram/errors.hpp"
#include "engram/http_target.hpp"

namespace engram {

bool http_load_available() { return false; }

HttpLoadOutcome run_schedule_http(const LoadSchedule&, const std::vector<std::string>&, const HttpLoadOptions&) {
  throw EngramError(
      "this build of engram has no HTTP load target: Boost.Beast/Asio were not found when it was compiled; "
      "install them (Debian: apt-get install libboost-dev, or scripts/setup-system.sh) and rebuild engram");
}

}  // namespace engram
