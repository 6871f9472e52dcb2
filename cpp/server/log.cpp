#include "log.hpp"

#include <chrono>
#include <cmath>
#include <random>
#include <stdexcept>

#include "json_writer.hpp"

namespace engram::server {

LogLevel parse_log_level(std::string_view s) {
  if (s == "debug") return LogLevel::Debug;
  if (s == "info") return LogLevel::Info;
  if (s == "warning") return LogLevel::Warning;
  if (s == "error") return LogLevel::Error;
  throw std::invalid_argument("log level '" + std::string(s) + "'; expected one of debug, info, warning, error");
}

LogField::LogField(std::string_view k, std::string_view v) : key(k) { JsonWriter::append_string(json, v); }
LogField::LogField(std::string_view k, const std::optional<std::string>& v) : key(k) {
  if (v) {
    JsonWriter::append_string(json, *v);
  } else {
    json = "null";
  }
}
LogField::LogField(std::string_view k, bool v) : key(k), json(v ? "true" : "false") {}
LogField::LogField(std::string_view k, std::int64_t v) : key(k), json(std::to_string(v)) {}
LogField::LogField(std::string_view k, std::uint64_t v) : key(k), json(std::to_string(v)) {}
LogField::LogField(std::string_view k, double v) : key(k) { JsonWriter::append_double(json, v); }
LogField LogField::raw_json(std::string_view k, std::string json) {
  LogField f;
  f.key = std::string(k);
  f.json = std::move(json);
  return f;
}

void JsonLog::emit(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (!enabled(level)) return;
  const double ts = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string line = "{\"ts\":";
  JsonWriter::append_double(line, std::round(ts * 1e6) / 1e6);
  line += ",\"level\":\"";
  line += level == LogLevel::Debug     ? "debug"
          : level == LogLevel::Info    ? "info"
          : level == LogLevel::Warning ? "warning"
                                       : "error";
  line += "\",\"event\":";
  JsonWriter::append_string(line, event);
  for (const auto& f : fields) {
    line.push_back(',');
    JsonWriter::append_string(line, f.key);
    line.push_back(':');
    line += f.json;
  }
  line += "}\n";
  MutexLock lock(mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

void JsonLog::emit_object(LogLevel level, std::string_view event, std::string_view object_json) {
  if (!enabled(level)) return;
  std::string inner(object_json.substr(1, object_json.size() >= 2 ? object_json.size() - 2 : 0));
  const double ts = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string line = "{\"ts\":";
  JsonWriter::append_double(line, std::round(ts * 1e6) / 1e6);
  line += ",\"level\":\"info\",\"event\":";
  if (level != LogLevel::Info)
    line.replace(line.find("info"), 4,
                 level == LogLevel::Debug     ? "debug"
                 : level == LogLevel::Warning ? "warning"
                                              : "error");
  JsonWriter::append_string(line, event);
  if (!inner.empty()) line += "," + inner;
  line += "}\n";
  MutexLock lock(mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

void JsonLog::write_raw(std::string_view text) {
  MutexLock lock(mu_);
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

std::string random_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(32, '0');
  const std::uint64_t a = rng(), b = rng();
  for (int i = 0; i < 16; ++i) {
    s[static_cast<std::size_t>(i)] = kHex[(a >> (i * 4)) & 0xF];
    s[static_cast<std::size_t>(16 + i)] = kHex[(b >> (i * 4)) & 0xF];
  }
  return s;
}

}  // namespace engram::server
