// Fault injection, compiled into the test build only (CMake ENGRAM_FAULT_INJECTION=ON, which
// defines ENGRAM_FAULT_INJECTION), as RocksDB's sync points and FoundationDB's buggify are.
//
// A release build has none of it: ENGRAM_FAULT_SITE and crash_point (crash.hpp) compile to
// nothing, no environment variable is read, and build_info() says "release".
//
// In the test build, named sites in the engine (the crash points of crash.hpp and the operation
// sites listed in kFaultSites) act on a process-wide fault plan: kill the process (crash), wait
// (delay, optionally growing with time: a latency-drift control) or allocate and keep memory
// (leak: a memory-leak control). The same plan injects I/O errors into the default Env
// (env.hpp). The plan is read once from ENGRAM_FAULTS (and the older ENGRAM_CRASH_AT) at the
// first use, or set by set_plan (Python: engram._core.faults in the test build). The grammar and
// the semantics of each clause: docs/faults.md.
//
// Thread safety: sites may run on any thread; set_plan swaps the plan atomically (a site that
// already read the old plan finishes with it). Hit counters are per plan.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace engram {

struct BuildInfo {
  const char* flavour;   // "release" or "test"
  bool fault_injection;  // crash points, fault Env, delays and leaks compiled in
};

constexpr BuildInfo build_info() noexcept {
#ifdef ENGRAM_FAULT_INJECTION
  return {"test", true};
#else
  return {"release", false};
#endif
}

#ifdef ENGRAM_FAULT_INJECTION

namespace faults {

// Every site name a plan may name; set_plan refuses others, so a typo cannot silently disarm a
// test. Crash points first (crash.hpp), then operation sites.
inline constexpr const char* kFaultSites[] = {
    "wal.before_fsync",
    "wal.after_fsync",
    "wal.torn_write",
    "checkpoint.before_rename",
    "checkpoint.after_rename",
    "migration.before_commit",
    "migration.after_commit",
    "migration.mid_switch",
    "consolidation.pre_clustering",
    "consolidation.mid_clustering",
    "consolidation.pre_concept_write",
    "consolidation.mid_binding_write",
    "consolidation.post_consolidation",
    "recovery.start",
    "remember",
    "forget",
    "search",
    "get",
};

// File operations an ioerror clause can name (env.hpp).
enum class IoOp : std::uint8_t {
  Open,
  Read,
  Write,
  Sync,
  Truncate,
  Rename,
  Unlink,
  Mkdir,
  ListDir,
  SyncDir,
  Lock,
  Stat
};
const char* io_op_name(IoOp op) noexcept;

// Runs the plan's actions for a site: crash (SIGKILL), delay, leak.
void site(std::string_view name) noexcept;
// Whether the plan would crash at this site's next hit (lets wal.torn_write write half first).
bool crash_armed(std::string_view name) noexcept;

// An I/O fault for (op, path) under the current plan, or errno 0.
struct IoFault {
  int err = 0;
  bool partial = false;  // a write: write half of the data first
};
IoFault io_fault(IoOp op, std::string_view path) noexcept;

// A parsed plan, for an Env with rules of its own (FaultEnv::set_plan).
struct Plan;
std::shared_ptr<const Plan> parse_plan(std::string_view text);  // InvalidInputError when malformed
IoFault io_fault(const Plan& plan, IoOp op, std::string_view path) noexcept;

// Replaces the plan (empty text: no faults). InvalidInputError on bad syntax or unknown names.
void set_plan(std::string_view text);
std::string plan_text();  // the current plan, normalised
void clear_plan();
// The error in ENGRAM_FAULTS / ENGRAM_CRASH_AT, if they did not parse (then no plan is active).
std::string environment_error();

struct RuleStats {
  std::string rule;
  std::uint64_t hits = 0;   // calls that matched the rule's site / operation and path
  std::uint64_t fired = 0;  // times it acted
};
std::vector<RuleStats> stats();
std::uint64_t leaked_bytes() noexcept;

}  // namespace faults

#define ENGRAM_FAULT_SITE(name) ::engram::faults::site(name)

#else

#define ENGRAM_FAULT_SITE(name) ((void)0)

#endif

}  // namespace engram
