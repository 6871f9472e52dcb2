// Stage timings of one request, recorded on the thread that runs it: the seam through which the
// server's traces (cpp/server/tracing.hpp) see inside an engine call (the WAL's sync wait, the
// body's parse) without the engine knowing about requests, spans or exporters.
//
// The server installs a StageRecorder on the thread running a traced request's handler
// (ScopedRecorder); engine code marks a stage with StageScope("wal.sync"). Without a recorder on
// the thread, which is the case for every untraced request and every in-process engine user, a
// StageScope is one thread-local pointer read.
//
// Thread safety: a recorder belongs to the one thread it is installed on; nothing is shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace engram::trace {

// Nanoseconds since the Unix epoch (OTLP's time base): the wall clock, not the engine's
// (injectable) clock, so a span's times line up with the client's and the collector's.
inline std::int64_t unix_nanos() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Stage {
  const char* name;  // a string literal: stage names are a fixed, bounded set
  std::int64_t start_ns;
  std::int64_t end_ns;
};

class StageRecorder {
 public:
  std::vector<Stage> stages;
};

namespace detail {
inline thread_local StageRecorder* current_recorder = nullptr;
}  // namespace detail

inline StageRecorder* current_recorder() noexcept { return detail::current_recorder; }

// Installs a recorder on this thread for the scope's lifetime (restoring the previous one).
class ScopedRecorder {
 public:
  explicit ScopedRecorder(StageRecorder* r) noexcept : prev_(detail::current_recorder) { detail::current_recorder = r; }
  ~ScopedRecorder() { detail::current_recorder = prev_; }
  ScopedRecorder(const ScopedRecorder&) = delete;
  ScopedRecorder& operator=(const ScopedRecorder&) = delete;

 private:
  StageRecorder* prev_;
};

// Records [construction, destruction) as the stage `name` when this thread has a recorder.
class StageScope {
 public:
  explicit StageScope(const char* name) noexcept
      : rec_(detail::current_recorder), name_(name), start_(rec_ ? unix_nanos() : 0) {}
  ~StageScope() {
    if (rec_) {
      try {
        rec_->stages.push_back({name_, start_, unix_nanos()});
      } catch (...) {  // out of memory: the stage is lost, never the request
      }
    }
  }
  StageScope(const StageScope&) = delete;
  StageScope& operator=(const StageScope&) = delete;

 private:
  StageRecorder* rec_;
  const char* name_;
  std::int64_t start_;
};

}  // namespace engram::trace
