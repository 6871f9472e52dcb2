#include "pagination.hpp"

#include <charconv>

#include "api_error.hpp"
#include "context.hpp"

namespace engram::server {

namespace {
constexpr std::string_view kHex = "0123456789abcdef";

std::optional<std::string> decode_hex(std::string_view s) {
  if (s.size() % 2 != 0 || s.size() > 2 * 256) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const auto hi = kHex.find(s[i]), lo = kHex.find(s[i + 1]);
    if (hi == std::string_view::npos || lo == std::string_view::npos) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

bool is_id_text(std::string_view s) {
  const std::size_t start = !s.empty() && s[0] == '-' ? 1 : 0;
  if (s.size() <= start || s.size() - start > 19) return false;
  for (std::size_t i = start; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  std::int64_t v = 0;
  return std::from_chars(s.data(), s.data() + s.size(), v).ec == std::errc();
}
}  // namespace

std::string encode_cursor(std::string_view key) {
  std::string out;
  for (const unsigned char c : key) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

PageQuery page_query(const RequestContext& ctx) {
  PageQuery q;
  q.paged = ctx.route.version >= 2;
  if (!q.paged) return q;
  // list routes keep their keys in the path ({memory_id}, {concept_id}) or have none: an id
  // cursor is one whose route lists ids, i.e. anything but spaces and backups
  const bool id_keys = ctx.route.path.find("/spaces/{space}/") != std::string::npos;
  std::string_view rest = ctx.query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (key == "limit") {
      std::size_t n = 0;
      const auto r = std::from_chars(value.data(), value.data() + value.size(), n);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size() || n < 1 || n > kMaxPageLimit) {
        throw ApiError(400, "invalid_input",
                       "query parameter limit must be an integer in [1, " + std::to_string(kMaxPageLimit) + "], got '" +
                           std::string(value.substr(0, 40)) + "'");
      }
      q.limit = n;
    } else if (key == "cursor") {
      auto decoded = decode_hex(value);
      if (!decoded || (id_keys && !is_id_text(*decoded))) {
        throw ApiError(400, "invalid_input",
                       "query parameter cursor is not one this server wrote; pass the next_cursor of the previous "
                       "page as it is, or leave it out for the first page");
      }
      q.after = std::move(*decoded);
    } else {
      throw ApiError(400, "invalid_input",
                     "unknown query parameter '" + std::string(key.substr(0, 40)) + "'; lists take limit and cursor");
    }
  }
  return q;
}

}  // namespace engram::server
