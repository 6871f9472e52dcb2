// Strict, typed access to a JSON request body (simdjson's DOM), stricter than API v1's first server
// (defect 15 of issue 13): unknown and duplicate fields
// are refused, booleans and strings are never numbers, integers must be integers in range (an
// integral float such as 10.0 is taken, 10.7 is not), floats must be finite. Every error is an
// ApiError 400 "invalid_input" whose message names the field path (items[3].embedding) and says
// what was expected and what was received. Readers borrow the document: keep it alive.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace engram::server {

class ObjectReader;
class ArrayReader;

// One parsed body. Throws ApiError 400 "invalid_json" when the text is not JSON (or empty).
class JsonDocument {
 public:
  JsonDocument(std::string_view text, std::string_view model);
  ObjectReader object() const;  // the body must be an object
  simdjson::dom::element root() const noexcept { return root_; }

 private:
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
  std::string model_;
};

// What kind of JSON value an element is, in error-message words ("a string", "an integer").
std::string describe(simdjson::dom::element e);

class ValueReader {
 public:
  ValueReader(simdjson::dom::element e, std::string path) : e_(e), path_(std::move(path)) {}
  std::int64_t as_int(std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                      std::int64_t max = std::numeric_limits<std::int64_t>::max()) const;
  double as_number(double min = -std::numeric_limits<double>::max(),
                   double max = std::numeric_limits<double>::max()) const;
  bool as_bool() const;
  // A memory id: an integer (API v1) or a string of decimal digits (API v2 writes ids as strings,
  // since JavaScript numbers lose int64 precision; both versions take both forms).
  std::int64_t as_id() const;
  std::string_view as_string(std::size_t min_len = 0, std::size_t max_len = SIZE_MAX) const;
  ObjectReader as_object() const;
  ArrayReader as_array(std::size_t min_len = 0, std::size_t max_len = SIZE_MAX) const;
  // An array of finite numbers that fit a float32 (an embedding).
  std::vector<float> as_float_array(std::size_t max_len = SIZE_MAX) const;
  bool is_null() const noexcept { return e_.is_null(); }
  const std::string& path() const noexcept { return path_; }
  simdjson::dom::element element() const noexcept { return e_; }

 private:
  [[noreturn]] void fail(std::string_view expected) const;
  simdjson::dom::element e_;
  std::string path_;
};

class ObjectReader {
 public:
  ObjectReader(simdjson::dom::object o, std::string path) : o_(o), path_(std::move(path)) {}
  // The field when present and not null (null means absent: the documents' optional fields are anyOf [T, null]).
  std::optional<ValueReader> get(std::string_view name);
  // Whether the field is present, null included (for fields whose null differs from absence).
  bool present(std::string_view name) const;
  ValueReader required(std::string_view name);
  std::optional<std::int64_t> opt_int(std::string_view name, std::int64_t min, std::int64_t max);
  std::optional<double> opt_number(std::string_view name, double min, double max);
  std::optional<bool> opt_bool(std::string_view name);
  std::optional<std::string_view> opt_string(std::string_view name, std::size_t min_len = 0,
                                             std::size_t max_len = SIZE_MAX);
  // Refuses fields no accessor asked for, and duplicate fields. Call after reading every field.
  void finish() const;
  std::string child_path(std::string_view name) const;

 private:
  simdjson::dom::object o_;
  std::string path_;
  std::vector<std::string_view> known_;
};

class ArrayReader {
 public:
  ArrayReader(simdjson::dom::array a, std::string path) : a_(a), path_(std::move(path)) {}
  std::size_t size() const noexcept { return a_.size(); }
  ValueReader at(std::size_t i) const;

 private:
  simdjson::dom::array a_;
  std::string path_;
};

}  // namespace engram::server
