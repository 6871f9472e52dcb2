#include "context.hpp"

#include <charconv>
#include <stdexcept>

#include "api_error.hpp"
#include "engram/errors.hpp"
#include "engram/stage_trace.hpp"

namespace engram::server {

std::optional<std::string_view> RequestContext::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return std::string_view(v);
  return std::nullopt;
}

const std::string& RequestContext::param(std::string_view name) const {
  const std::string* v = params.get(name);
  if (!v) throw std::logic_error("route " + route.path + " has no parameter " + std::string(name));
  return *v;
}

std::int64_t RequestContext::path_int(std::string_view name) const {
  const std::string& raw = param(name);
  // ASCII digits with an optional '-' only: no '+', '_', spaces or other scripts' digits (defect 15)
  std::size_t start = !raw.empty() && raw[0] == '-' ? 1 : 0;
  bool digits = raw.size() > start && raw.size() - start <= 400;
  for (std::size_t i = start; digits && i < raw.size(); ++i) digits = raw[i] >= '0' && raw[i] <= '9';
  if (!digits) {
    std::string shown = raw.substr(0, 40);
    throw ApiError(400, "invalid_input", std::string(name) + " must be an integer memory id, got '" + shown + "'");
  }
  std::int64_t v = 0;
  const auto r = std::from_chars(raw.data(), raw.data() + raw.size(), v);
  if (r.ec == std::errc::result_out_of_range) {
    // an id beyond int64 names no memory (ids are int64 engine-wide)
    throw MemoryNotFound("no memory with id " + raw.substr(0, 40) + " (ids are 64-bit signed integers)");
  }
  return v;
}

ObjectReader RequestContext::json() {
  if (!doc_) {
    const trace::StageScope stage("parse");  // the body's decode, as a traced request's span shows it
    doc_ = std::make_unique<JsonDocument>(body, route.body ? route.body->name : std::string("object"));
  }
  return doc_->object();
}

std::int64_t RequestContext::check_k(std::int64_t k, std::string_view name) const {
  if (k > state.config.max_k) {
    throw ApiError(400, "limit_exceeded",
                   std::string(name) + "=" + std::to_string(k) + " exceeds this server's maximum of " +
                       std::to_string(state.config.max_k))
        .at(name);
  }
  return k;
}

}  // namespace engram::server
