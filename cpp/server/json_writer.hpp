// A small JSON writer for responses and log lines: correct string escaping (control characters,
// quotes, backslashes; invalid UTF-8 shown as U+FFFD so the output is always valid JSON), integers
// exactly, doubles as the shortest text that reads back to the same value (std::to_chars), with
// ".0" added to integral values so a float stays a float for Python readers, and NaN/Inf as null
// (JSON has no form for them). Not thread-safe: one writer per response.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace engram::server {

// How memory ids are written: API v1 as JSON integers, API v2 as strings of decimal digits
// (JavaScript numbers hold integers exactly only up to 2^53).
enum class IdStyle { Number, String };

class JsonWriter {
 public:
  JsonWriter() = default;
  explicit JsonWriter(IdStyle ids) : ids_(ids) {}
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b);
  JsonWriter& value(std::int64_t v);
  JsonWriter& value(std::uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(unsigned v) { return value(static_cast<std::uint64_t>(v)); }
  JsonWriter& value(long long v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(unsigned long long v) { return value(static_cast<std::uint64_t>(v)); }
  JsonWriter& value(double v);
  JsonWriter& value(float v) { return value(static_cast<double>(v)); }
  JsonWriter& null();
  // Already-encoded JSON (a nested document); the caller vouches for its validity.
  JsonWriter& raw(std::string_view json);
  template <class T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  // A memory id in this writer's IdStyle.
  JsonWriter& id(std::int64_t v);
  JsonWriter& field_id(std::string_view k, std::int64_t v) {
    key(k);
    return id(v);
  }
  IdStyle id_style() const noexcept { return ids_; }

  const std::string& str() const noexcept { return out_; }
  std::string take() { return std::move(out_); }

  static void append_string(std::string& out, std::string_view s);
  static void append_double(std::string& out, double v);

 private:
  void separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
  IdStyle ids_ = IdStyle::Number;
};

}  // namespace engram::server
