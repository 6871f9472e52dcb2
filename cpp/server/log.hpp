// Structured logs: one JSON object per line on stderr ({"ts", "level", "event", fields...}).
// Fields are pre-encoded JSON values (LogField's constructors encode).
// Locking: mu_ serialises whole lines; nothing else is guarded.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "engram/thread_annotations.hpp"

namespace engram::server {

enum class LogLevel { Debug = 10, Info = 20, Warning = 30, Error = 40 };
LogLevel parse_log_level(std::string_view s);  // std::invalid_argument when unknown

struct LogField {
  LogField(std::string_view k, std::string_view v);
  LogField(std::string_view k, const char* v) : LogField(k, std::string_view(v)) {}
  LogField(std::string_view k, const std::string& v) : LogField(k, std::string_view(v)) {}
  LogField(std::string_view k, const std::optional<std::string>& v);
  LogField(std::string_view k, bool v);
  LogField(std::string_view k, std::int64_t v);
  LogField(std::string_view k, int v) : LogField(k, static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, std::uint64_t v);
  LogField(std::string_view k, double v);
  static LogField raw_json(std::string_view k, std::string json);
  std::string key;
  std::string json;  // the encoded value

 private:
  LogField() = default;
};

class JsonLog {
 public:
  explicit JsonLog(LogLevel min = LogLevel::Info, std::FILE* out = stderr) : min_(min), out_(out) {}
  bool enabled(LogLevel l) const noexcept { return static_cast<int>(l) >= static_cast<int>(min_); }
  void emit(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) EXCLUDES(mu_);
  void debug(std::string_view e, std::initializer_list<LogField> f = {}) { emit(LogLevel::Debug, e, f); }
  void info(std::string_view e, std::initializer_list<LogField> f = {}) { emit(LogLevel::Info, e, f); }
  void warning(std::string_view e, std::initializer_list<LogField> f = {}) { emit(LogLevel::Warning, e, f); }
  void error(std::string_view e, std::initializer_list<LogField> f = {}) { emit(LogLevel::Error, e, f); }
  // A line whose fields are the members of a JSON object (already encoded: `{"a":1,...}`).
  void emit_object(LogLevel level, std::string_view event, std::string_view object_json) EXCLUDES(mu_);
  // Raw text (the --no-auth banner), under the same lock as the lines.
  void write_raw(std::string_view text) EXCLUDES(mu_);

 private:
  LogLevel min_;
  std::FILE* out_;
  Mutex mu_;
};

// 32 random hex digits: the ids of requests and stream sessions in logs and error bodies.
std::string random_id();

}  // namespace engram::server
