// The fault plan of the test build (fault.hpp; grammar in docs/faults.md). Compiled only when
// ENGRAM_FAULT_INJECTION is on.
#include <fnmatch.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "engram/errors.hpp"
#include "engram/fault.hpp"

namespace engram::faults {

enum class Action { Crash, Delay, Leak, IoError };

struct Trigger {
  std::uint64_t nth = 0;    // only the nth matching call (0: unset)
  std::uint64_t after = 0;  // every matching call from the nth on
  std::uint64_t times = 0;  // at most this many firings
  double p = -1.0;          // probability per matching call (< 0: unset)
};

struct Rule {
  Action action = Action::Crash;
  std::string text;  // the clause as written (trimmed)
  std::uint32_t index = 0;
  std::string site;        // crash, delay, leak: a site name or glob
  std::optional<IoOp> op;  // ioerror: nullopt for any operation
  std::string path_glob;   // ioerror: empty for any path
  int err = 0;
  bool partial = false;
  std::int64_t delay_ns = 0;
  double growth_ns_per_s = 0.0;
  std::uint64_t leak_bytes = 0;
  Trigger trigger;
  mutable std::atomic<std::uint64_t> hits{0};
  mutable std::atomic<std::uint64_t> fired{0};
};

struct Plan {
  std::uint64_t seed = 0;
  std::vector<std::unique_ptr<Rule>> rules;
  bool any_site = false;
  bool any_io = false;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

namespace {

const char* const kIoOpNames[] = {"open",   "read",  "write",   "sync",    "truncate", "rename",
                                  "unlink", "mkdir", "listdir", "syncdir", "lock",     "stat"};

struct Errno {
  const char* name;
  int value;
};
const Errno kErrnos[] = {{"EIO", EIO},       {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS},
                         {"EACCES", EACCES}, {"EPERM", EPERM},   {"EMFILE", EMFILE}, {"ENFILE", ENFILE},
                         {"ENOENT", ENOENT}, {"EEXIST", EEXIST}, {"EBUSY", EBUSY},   {"EAGAIN", EAGAIN},
                         {"EINTR", EINTR},   {"EFBIG", EFBIG}};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = s.find(sep);
    out.push_back(trim(s.substr(0, at)));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

[[noreturn]] void bad(std::string_view clause, const std::string& why) {
  throw InvalidInputError("fault plan clause '" + std::string(clause.substr(0, 120)) + "': " + why +
                          " (grammar: docs/faults.md)");
}

std::uint64_t parse_uint(std::string_view clause, std::string_view s, const char* what) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) || s.size() > 18) {
    bad(clause, std::string(what) + " must be a whole number, got '" + std::string(s) + "'");
  }
  return std::stoull(std::string(s));
}

double parse_number(std::string_view clause, std::string_view s, const char* what) {
  const std::string str(s);
  char* end = nullptr;
  const double v = std::strtod(str.c_str(), &end);
  if (str.empty() || end != str.c_str() + str.size() || !std::isfinite(v) || v < 0) {
    bad(clause, std::string(what) + " must be a non-negative number, got '" + str + "'");
  }
  return v;
}

// "200us", "1.5ms", "2s", "500ns".
double parse_duration_ns(std::string_view clause, std::string_view s) {
  static const std::pair<const char*, double> units[] = {{"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
  for (const auto& [u, scale] : units) {
    const std::string_view unit(u);
    if (s.size() > unit.size() && s.substr(s.size() - unit.size()) == unit) {
      const std::string_view num = s.substr(0, s.size() - unit.size());
      // "ms" also ends in "s": a number part ending in a letter belongs to a longer unit.
      if (!num.empty() && (num.back() < '0' || num.back() > '9') && num.back() != '.') continue;
      return parse_number(clause, num, "a duration") * scale;
    }
  }
  bad(clause, "a duration needs a unit (ns, us, ms or s), got '" + std::string(s) + "'");
}

// "1024", "4KiB", "1MiB" (K/M/G are binary multiples too).
std::uint64_t parse_bytes(std::string_view clause, std::string_view s) {
  static const std::pair<const char*, std::uint64_t> units[] = {{"KiB", 1ull << 10}, {"MiB", 1ull << 20},
                                                                {"GiB", 1ull << 30}, {"K", 1ull << 10},
                                                                {"M", 1ull << 20},   {"G", 1ull << 30}};
  for (const auto& [u, scale] : units) {
    const std::string_view unit(u);
    if (s.size() > unit.size() && s.substr(s.size() - unit.size()) == unit) {
      return parse_uint(clause, s.substr(0, s.size() - unit.size()), "a byte count") * scale;
    }
  }
  return parse_uint(clause, s, "a byte count");
}

bool has_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

bool glob_match(const std::string& pattern, std::string_view name) {
  if (!has_glob(pattern)) return pattern == name;
  return ::fnmatch(pattern.c_str(), std::string(name).c_str(), 0) == 0;
}

void check_site(std::string_view clause, const std::string& site) {
  for (const char* known : kFaultSites) {
    if (glob_match(site, known)) return;
  }
  std::string all;
  for (const char* known : kFaultSites) all += std::string(all.empty() ? "" : ", ") + known;
  bad(clause, "no site is named '" + site + "'; the sites are: " + all);
}

std::optional<IoOp> parse_op(std::string_view clause, std::string_view s) {
  if (s == "*" || s == "any") return std::nullopt;
  const std::string_view alias = s == "fsync" || s == "fdatasync" ? "sync"
                                 : s == "create"                  ? "open"
                                 : s == "remove"                  ? "unlink"
                                 : s == "fsyncdir"                ? "syncdir"
                                                                  : s;
  for (std::size_t i = 0; i < std::size(kIoOpNames); ++i) {
    if (alias == kIoOpNames[i]) return static_cast<IoOp>(i);
  }
  std::string all;
  for (const char* n : kIoOpNames) all += std::string(all.empty() ? "" : ", ") + n;
  bad(clause, "unknown file operation '" + std::string(s) + "'; expected one of " + all + " or *");
}

int parse_errno(std::string_view clause, std::string_view s) {
  for (const Errno& e : kErrnos) {
    if (s == e.name) return e.value;
  }
  std::string all;
  for (const Errno& e : kErrnos) all += std::string(all.empty() ? "" : ", ") + e.name;
  bad(clause, "unknown error '" + std::string(s) + "'; expected one of " + all);
}

// Trigger options after the clause's required fields: nth=, after=, times=, p=, partial.
void parse_options(std::string_view clause, const std::vector<std::string_view>& parts, std::size_t from, Rule& r) {
  for (std::size_t i = from; i < parts.size(); ++i) {
    const std::string_view opt = parts[i];
    if (opt == "partial" && r.action == Action::IoError) {
      r.partial = true;
      continue;
    }
    const auto eq = opt.find('=');
    const std::string_view key = opt.substr(0, eq);
    const std::string_view val = eq == std::string_view::npos ? std::string_view{} : opt.substr(eq + 1);
    if (key == "nth") {
      r.trigger.nth = parse_uint(clause, val, "nth");
      if (r.trigger.nth == 0) bad(clause, "nth counts from 1");
    } else if (key == "after") {
      r.trigger.after = parse_uint(clause, val, "after");
    } else if (key == "times") {
      r.trigger.times = parse_uint(clause, val, "times");
      if (r.trigger.times == 0) bad(clause, "times must be at least 1");
    } else if (key == "p") {
      r.trigger.p = parse_number(clause, val, "p");
      if (r.trigger.p > 1.0) bad(clause, "p is a probability, at most 1");
    } else {
      bad(clause, "unknown option '" + std::string(opt) + "'; expected nth=N, after=N, times=N, p=P" +
                      (r.action == Action::IoError ? " or partial" : ""));
    }
  }
}

std::unique_ptr<Rule> parse_clause(std::string_view clause) {
  const auto eq = clause.find('=');
  if (eq == std::string_view::npos) bad(clause, "expected kind=..., with kind crash, delay, leak, ioerror or seed");
  const std::string_view kind = trim(clause.substr(0, eq));
  const std::vector<std::string_view> parts = split(clause.substr(eq + 1), ':');
  auto r = std::make_unique<Rule>();
  r->text = std::string(clause);
  if (parts.empty() || parts[0].empty()) bad(clause, "the first field is missing");
  if (kind == "crash") {
    r->action = Action::Crash;
    r->site = std::string(parts[0]);
    check_site(clause, r->site);
    std::size_t from = 1;
    // crash=<site>:<nth>, as ENGRAM_CRASH_AT writes it.
    if (parts.size() > 1 && parts[1].find('=') == std::string_view::npos) {
      r->trigger.nth = parse_uint(clause, parts[1], "the crash's call number");
      if (r->trigger.nth == 0) bad(clause, "the call number counts from 1");
      from = 2;
    }
    parse_options(clause, parts, from, *r);
    if (r->trigger.nth == 0 && r->trigger.after == 0 && r->trigger.p < 0) r->trigger.nth = 1;
  } else if (kind == "delay") {
    r->action = Action::Delay;
    if (parts.size() < 2) bad(clause, "expected delay=<site>:<duration>[+<duration>/s]");
    r->site = std::string(parts[0]);
    check_site(clause, r->site);
    std::string_view d = parts[1];
    if (const auto plus = d.find('+'); plus != std::string_view::npos) {
      std::string_view growth = d.substr(plus + 1);
      d = d.substr(0, plus);
      const auto slash = growth.find('/');
      if (slash == std::string_view::npos) bad(clause, "a growing delay is written <base>+<step>/s (or /min, /h)");
      const std::string_view per = growth.substr(slash + 1);
      const double seconds = per == "s" ? 1.0 : per == "min" ? 60.0 : per == "h" ? 3600.0 : -1.0;
      if (seconds < 0) bad(clause, "a delay grows per s, min or h, got '/" + std::string(per) + "'");
      r->growth_ns_per_s = parse_duration_ns(clause, growth.substr(0, slash)) / seconds;
    }
    r->delay_ns = static_cast<std::int64_t>(parse_duration_ns(clause, d));
    parse_options(clause, parts, 2, *r);
  } else if (kind == "leak") {
    r->action = Action::Leak;
    if (parts.size() < 2) bad(clause, "expected leak=<site>:<bytes>");
    r->site = std::string(parts[0]);
    check_site(clause, r->site);
    r->leak_bytes = parse_bytes(clause, parts[1]);
    if (r->leak_bytes == 0 || r->leak_bytes > (1ull << 30)) bad(clause, "a leak is 1 byte to 1 GiB per call");
    parse_options(clause, parts, 2, *r);
  } else if (kind == "ioerror") {
    r->action = Action::IoError;
    if (parts.size() < 2) bad(clause, "expected ioerror=<operation>[@<path glob>]:<ERRNO>");
    std::string_view op = parts[0];
    if (const auto at = op.find('@'); at != std::string_view::npos) {
      r->path_glob = std::string(trim(op.substr(at + 1)));
      op = trim(op.substr(0, at));
      if (r->path_glob.empty()) bad(clause, "an empty path glob after '@'");
    }
    r->op = parse_op(clause, op);
    r->err = parse_errno(clause, parts[1]);
    parse_options(clause, parts, 2, *r);
  } else {
    bad(clause, "unknown kind '" + std::string(kind) + "'; expected crash, delay, leak, ioerror or seed");
  }
  return r;
}

// A uniform draw in [0, 1) that depends only on (seed, rule, call number): the same call of the
// same plan always draws the same value, on any thread, and crash_armed can peek at it.
double draw(std::uint64_t seed, std::uint32_t rule, std::uint64_t n) noexcept {
  std::uint64_t z = seed ^ (static_cast<std::uint64_t>(rule) << 48) ^ (n * 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

bool triggers(const Plan& plan, const Rule& r, std::uint64_t n) noexcept {
  const Trigger& t = r.trigger;
  if (t.nth != 0 && n != t.nth) return false;
  if (t.after != 0 && n < t.after) return false;
  if (t.p >= 0.0 && draw(plan.seed, r.index, n) >= t.p) return false;
  return true;
}

// Counts the hit and decides; `times` caps the firings.
bool fire(const Plan& plan, const Rule& r) noexcept {
  const std::uint64_t n = r.hits.fetch_add(1, std::memory_order_relaxed) + 1;
  if (!triggers(plan, r, n)) return false;
  if (r.trigger.times != 0) {
    std::uint64_t f = r.fired.load(std::memory_order_relaxed);
    do {
      if (f >= r.trigger.times) return false;
    } while (!r.fired.compare_exchange_weak(f, f + 1, std::memory_order_relaxed));
    return true;
  }
  r.fired.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void wait_ns(std::int64_t ns) {
  if (ns <= 0) return;
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  // Sleep most of it, then spin: sleep_for alone overshoots by tens of microseconds.
  if (ns > 200'000) std::this_thread::sleep_for(std::chrono::nanoseconds(ns - 100'000));
  while (std::chrono::steady_clock::now() < until) {
  }
}

// Memory the leak action keeps: reachable (no sanitizer report) and touched (it counts in RSS).
struct Leaks {
  std::mutex mu;
  std::vector<std::unique_ptr<char[]>> blocks;
  std::atomic<std::uint64_t> bytes{0};
};
Leaks& leaks() {
  static Leaks* l = new Leaks();  // never destroyed: sites may run during static teardown
  return *l;
}

struct State {
  std::mutex mu;
  std::shared_ptr<const Plan> plan;
  std::atomic<bool> sites{false};
  std::atomic<bool> io{false};
  std::string env_error;
};

void install(State& s, std::shared_ptr<const Plan> p) {
  std::lock_guard lock(s.mu);
  s.sites.store(p && p->any_site, std::memory_order_release);
  s.io.store(p && p->any_io, std::memory_order_release);
  s.plan = std::move(p);
}

State& state() {
  static State* s = [] {
    auto* st = new State();  // never destroyed, like the leaks
    std::string text;
    if (const char* v = std::getenv("ENGRAM_FAULTS"); v != nullptr) text = v;
    if (const char* c = std::getenv("ENGRAM_CRASH_AT"); c != nullptr && *c != '\0') {
      text += std::string(text.empty() ? "" : ";") + "crash=" + c;
    }
    if (!trim(text).empty()) {
      try {
        install(*st, parse_plan(text));
      } catch (const EngramError& e) {
        st->env_error = std::string("ENGRAM_FAULTS / ENGRAM_CRASH_AT: ") + e.what();
        std::fprintf(stderr, "engram: %s; no faults are injected\n", st->env_error.c_str());
      }
    }
    return st;
  }();
  return *s;
}

std::shared_ptr<const Plan> current() {
  State& s = state();
  std::lock_guard lock(s.mu);
  return s.plan;
}

}  // namespace

const char* io_op_name(IoOp op) noexcept { return kIoOpNames[static_cast<std::size_t>(op)]; }

std::shared_ptr<const Plan> parse_plan(std::string_view text) {
  auto plan = std::make_shared<Plan>();
  for (std::string_view clause : split(text, ';')) {
    if (clause.empty()) continue;
    if (clause.substr(0, 5) == "seed=") {
      plan->seed = parse_uint(clause, trim(clause.substr(5)), "seed");
      continue;
    }
    std::unique_ptr<Rule> r = parse_clause(clause);
    r->index = static_cast<std::uint32_t>(plan->rules.size());
    (r->action == Action::IoError ? plan->any_io : plan->any_site) = true;
    plan->rules.push_back(std::move(r));
  }
  return plan;
}

void site(std::string_view name) noexcept {
  State& s = state();
  if (!s.sites.load(std::memory_order_acquire)) return;
  const std::shared_ptr<const Plan> plan = current();
  if (!plan) return;
  for (const auto& r : plan->rules) {
    if (r->action == Action::IoError || !glob_match(r->site, name) || !fire(*plan, *r)) continue;
    switch (r->action) {
      case Action::Crash: ::kill(::getpid(), SIGKILL); ::_exit(137);  // not reached: SIGKILL cannot be caught
      case Action::Delay: {
        const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - plan->start).count();
        wait_ns(r->delay_ns + static_cast<std::int64_t>(r->growth_ns_per_s * since));
        break;
      }
      case Action::Leak: {
        try {
          auto block = std::make_unique<char[]>(r->leak_bytes);
          std::memset(block.get(), 0xA5, r->leak_bytes);
          Leaks& l = leaks();
          std::lock_guard lock(l.mu);
          l.blocks.push_back(std::move(block));
          l.bytes.fetch_add(r->leak_bytes, std::memory_order_relaxed);
        } catch (const std::bad_alloc&) {  // the control leaks until memory runs out, no further
        }
        break;
      }
      case Action::IoError: break;
    }
  }
}

bool crash_armed(std::string_view name) noexcept {
  State& s = state();
  if (!s.sites.load(std::memory_order_acquire)) return false;
  const std::shared_ptr<const Plan> plan = current();
  if (!plan) return false;
  for (const auto& r : plan->rules) {
    if (r->action != Action::Crash || !glob_match(r->site, name)) continue;
    if (r->trigger.times != 0 && r->fired.load(std::memory_order_relaxed) >= r->trigger.times) continue;
    if (triggers(*plan, *r, r->hits.load(std::memory_order_relaxed) + 1)) return true;
  }
  return false;
}

IoFault io_fault(const Plan& plan, IoOp op, std::string_view path) noexcept {
  for (const auto& r : plan.rules) {
    if (r->action != Action::IoError || (r->op && *r->op != op)) continue;
    if (!r->path_glob.empty() && !glob_match(r->path_glob, path)) continue;
    if (fire(plan, *r)) return {r->err, r->partial};
  }
  return {};
}

IoFault io_fault(IoOp op, std::string_view path) noexcept {
  State& s = state();
  if (!s.io.load(std::memory_order_acquire)) return {};
  const std::shared_ptr<const Plan> plan = current();
  return plan ? io_fault(*plan, op, path) : IoFault{};
}

void set_plan(std::string_view text) { install(state(), trim(text).empty() ? nullptr : parse_plan(text)); }

void clear_plan() { install(state(), nullptr); }

std::string plan_text() {
  const std::shared_ptr<const Plan> plan = current();
  if (!plan) return "";
  std::string out = plan->seed != 0 ? "seed=" + std::to_string(plan->seed) : "";
  for (const auto& r : plan->rules) out += (out.empty() ? "" : ";") + r->text;
  return out;
}

std::string environment_error() { return state().env_error; }

std::vector<RuleStats> stats() {
  std::vector<RuleStats> out;
  const std::shared_ptr<const Plan> plan = current();
  if (!plan) return out;
  for (const auto& r : plan->rules) {
    out.push_back({r->text, r->hits.load(std::memory_order_relaxed), r->fired.load(std::memory_order_relaxed)});
  }
  return out;
}

std::uint64_t leaked_bytes() noexcept { return leaks().bytes.load(std::memory_order_relaxed); }

}  // namespace engram::faults
