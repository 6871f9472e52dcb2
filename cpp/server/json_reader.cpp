#include "json_reader.hpp"

#include <charconv>
#include <cmath>
#include <set>

#include "api_error.hpp"

namespace engram::server {

namespace dom = simdjson::dom;

namespace {
[[noreturn]] void invalid(const std::string& path, std::string_view what) {
  ApiError e(400, "invalid_input",
             "invalid request body: " + (path.empty() ? std::string("body") : path) + ": " + std::string(what));
  e.field = json_pointer(path);
  throw e;
}
}  // namespace

JsonDocument::JsonDocument(std::string_view text, std::string_view model) : model_(model) {
  // stops at the first non-blank byte (the body's first, as a rule), not at the end of a 4 KB body
  const bool blank = text.find_first_not_of(" \t\n\r") == std::string_view::npos;
  if (blank) throw ApiError(400, "invalid_json", "this route expects a JSON object body (" + model_ + ")");
  auto r = parser_.parse(text.data(), text.size(), true);
  if (r.error()) {
    throw ApiError(400, "invalid_json",
                   std::string("the body is not valid JSON: ") + simdjson::error_message(r.error()));
  }
  root_ = r.value_unsafe();
}

ObjectReader JsonDocument::object() const {
  if (!root_.is_object()) {
    throw ApiError(400, "invalid_input",
                   "invalid request body: body: expected a JSON object (" + model_ + "), got " + describe(root_));
  }
  return ObjectReader(root_.get_object().value_unsafe(), "");
}

std::string describe(dom::element e) {
  switch (e.type()) {
    case dom::element_type::ARRAY: return "an array";
    case dom::element_type::OBJECT: return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64: return "the integer " + simdjson::to_string(e);
    case dom::element_type::DOUBLE: return "the number " + simdjson::to_string(e);
    case dom::element_type::STRING: {
      std::string s(e.get_string().value_unsafe().substr(0, 40));
      std::string out = "a string \"";
      for (char c : s) out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
      return out + "\"";
    }
    case dom::element_type::BOOL: return e.get_bool().value_unsafe() ? "true" : "false";
    case dom::element_type::NULL_VALUE: return "null";
  }
  return "an unknown value";
}

void ValueReader::fail(std::string_view expected) const {
  invalid(path_, "expected " + std::string(expected) + ", got " + describe(e_));
}

std::int64_t ValueReader::as_int(std::int64_t min, std::int64_t max) const {
  std::int64_t v = 0;
  switch (e_.type()) {
    case dom::element_type::INT64: v = e_.get_int64().value_unsafe(); break;
    case dom::element_type::UINT64:
      invalid(path_, "integer " + simdjson::to_string(e_) + " is out of range (at most " + std::to_string(max) + ")");
    case dom::element_type::DOUBLE: {
      const double d = e_.get_double().value_unsafe();
      // an integral float (10.0) is an integer, as API v1 took it; a fraction is refused, never truncated
      if (!(std::floor(d) == d && std::fabs(d) < 9007199254740992.0)) fail("an integer");
      v = static_cast<std::int64_t>(d);
      break;
    }
    default: fail("an integer");
  }
  if (v < min || v > max) {
    invalid(path_, "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                       std::to_string(v));
  }
  return v;
}

std::int64_t ValueReader::as_id() const {
  if (!e_.is_string()) return as_int();
  const std::string_view s = e_.get_string().value_unsafe();
  const std::size_t start = !s.empty() && s[0] == '-' ? 1 : 0;
  bool digits = s.size() > start && s.size() - start <= 19;
  for (std::size_t i = start; digits && i < s.size(); ++i) digits = s[i] >= '0' && s[i] <= '9';
  std::int64_t v = 0;
  if (!digits || std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc()) {
    fail("a memory id (an integer, or its decimal digits as a string)");
  }
  return v;
}

double ValueReader::as_number(double min, double max) const {
  double v = 0;
  switch (e_.type()) {
    case dom::element_type::INT64: v = static_cast<double>(e_.get_int64().value_unsafe()); break;
    case dom::element_type::UINT64: v = static_cast<double>(e_.get_uint64().value_unsafe()); break;
    case dom::element_type::DOUBLE: v = e_.get_double().value_unsafe(); break;
    default: fail("a number");
  }
  if (!std::isfinite(v)) fail("a finite number");
  if (v < min || v > max) {
    invalid(path_, "expected a number in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                       simdjson::to_string(e_));
  }
  return v;
}

bool ValueReader::as_bool() const {
  if (!e_.is_bool()) fail("true or false");
  return e_.get_bool().value_unsafe();
}

std::string_view ValueReader::as_string(std::size_t min_len, std::size_t max_len) const {
  if (!e_.is_string()) fail("a string");
  const std::string_view s = e_.get_string().value_unsafe();
  if (s.size() < min_len || s.size() > max_len) {
    invalid(path_, "expected a string of " + std::to_string(min_len) + " to " + std::to_string(max_len) +
                       " bytes, got " + std::to_string(s.size()));
  }
  return s;
}

ObjectReader ValueReader::as_object() const {
  if (!e_.is_object()) fail("an object");
  return ObjectReader(e_.get_object().value_unsafe(), path_);
}

ArrayReader ValueReader::as_array(std::size_t min_len, std::size_t max_len) const {
  if (!e_.is_array()) fail("an array");
  auto a = e_.get_array().value_unsafe();
  if (a.size() < min_len || a.size() > max_len) {
    invalid(path_, "expected an array of " + std::to_string(min_len) + " to " + std::to_string(max_len) +
                       " items, got " + std::to_string(a.size()));
  }
  return ArrayReader(a, path_);
}

std::vector<float> ValueReader::as_float_array(std::size_t max_len) const {
  if (!e_.is_array()) fail("an array of numbers");
  auto a = e_.get_array().value_unsafe();
  if (a.size() > max_len) {
    invalid(path_, "expected at most " + std::to_string(max_len) + " numbers, got " + std::to_string(a.size()));
  }
  std::vector<float> out;
  out.reserve(a.size());
  std::size_t i = 0;
  for (dom::element x : a) {
    double v;
    switch (x.type()) {
      case dom::element_type::INT64: v = static_cast<double>(x.get_int64().value_unsafe()); break;
      case dom::element_type::UINT64: v = static_cast<double>(x.get_uint64().value_unsafe()); break;
      case dom::element_type::DOUBLE: v = x.get_double().value_unsafe(); break;
      default:
        invalid(path_ + "[" + std::to_string(i) + "]", "expected a number (an array of numbers), got " + describe(x));
    }
    if (!(std::fabs(v) <= static_cast<double>(std::numeric_limits<float>::max()))) {
      invalid(path_ + "[" + std::to_string(i) + "]",
              "value " + simdjson::to_string(x) + " is outside the float32 range (|x| <= 3.4e38)");
    }
    out.push_back(static_cast<float>(v));
    ++i;
  }
  return out;
}

std::string ObjectReader::child_path(std::string_view name) const {
  return path_.empty() ? std::string(name) : path_ + "." + std::string(name);
}

std::optional<ValueReader> ObjectReader::get(std::string_view name) {
  known_.push_back(name);
  auto r = o_.at_key(name);
  if (r.error() || r.value_unsafe().is_null()) return std::nullopt;
  return ValueReader(r.value_unsafe(), child_path(name));
}

bool ObjectReader::present(std::string_view name) const { return !o_.at_key(name).error(); }

ValueReader ObjectReader::required(std::string_view name) {
  auto v = get(name);
  if (!v) invalid(child_path(name), "field required");
  return *v;
}

std::optional<std::int64_t> ObjectReader::opt_int(std::string_view name, std::int64_t min, std::int64_t max) {
  auto v = get(name);
  if (!v) return std::nullopt;
  return v->as_int(min, max);
}
std::optional<double> ObjectReader::opt_number(std::string_view name, double min, double max) {
  auto v = get(name);
  if (!v) return std::nullopt;
  return v->as_number(min, max);
}
std::optional<bool> ObjectReader::opt_bool(std::string_view name) {
  auto v = get(name);
  if (!v) return std::nullopt;
  return v->as_bool();
}
std::optional<std::string_view> ObjectReader::opt_string(std::string_view name, std::size_t min_len,
                                                         std::size_t max_len) {
  auto v = get(name);
  if (!v) return std::nullopt;
  return v->as_string(min_len, max_len);
}

void ObjectReader::finish() const {
  std::set<std::string_view> seen;
  for (auto field : o_) {
    const std::string_view k = field.key;
    if (!seen.insert(k).second) invalid(child_path(k), "duplicate field");
    bool ok = false;
    for (auto n : known_) ok = ok || n == k;
    if (!ok) {
      std::string names;
      for (auto n : known_) names += (names.empty() ? "" : ", ") + std::string(n);
      std::string shown(k.substr(0, 64));
      invalid(child_path(shown), "unknown field (extra inputs are not permitted; known: " + names + ")");
    }
  }
}

ValueReader ArrayReader::at(std::size_t i) const {
  return ValueReader(a_.at(i).value_unsafe(), path_ + "[" + std::to_string(i) + "]");
}

}  // namespace engram::server
