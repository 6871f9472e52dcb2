// API versions (docs/api-versions.md): which version a request asks for and what the answer says
// about it. The path names the version (/api/v1/..., /api/v2/...); an unversioned path
// (/api/spaces) takes it from the Accept-Version header, else the newest. A version this server
// does not serve, or a header that contradicts the path, is a 400 with what it serves. Responses
// carry Engram-API-Version; v1's carry Deprecation (RFC 9745), Sunset (RFC 8594) and a Link to
// the migration notes (served at kMigrationNotesPath).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace engram::server {

inline constexpr int kOldestApiVersion = 1;
inline constexpr int kNewestApiVersion = 2;
inline constexpr std::string_view kMigrationNotesPath = "/api/migration/v1-to-v2";
// RFC 9745 structured date: API v1 deprecated from 2026-12-07T00:00:00Z, when v2 was published.
inline constexpr std::string_view kV1DeprecatedSince = "@1796601600";
inline constexpr std::string_view kV1Link = R"(</api/migration/v1-to-v2>; rel="deprecation"; type="text/markdown")";

// The path to route after version negotiation. Throws ApiError 400 "unsupported_api_version"
// (unknown version in the path or the header) or "api_version_conflict" (header against path).
// Paths outside /api/ are returned unchanged; so is the migration notes' path.
std::string negotiate_api_version(std::string_view path, std::optional<std::string_view> accept_version);

// The headers a response of a route of `version` gets (0: outside the API): views of constants and
// of `v1_sunset` (the server's setting), so every answer sets them without allocating.
struct ApiVersionHeaders {
  std::array<std::pair<std::string_view, std::string_view>, 4> items{};
  std::size_t size = 0;
  const std::pair<std::string_view, std::string_view>* begin() const noexcept { return items.data(); }
  const std::pair<std::string_view, std::string_view>* end() const noexcept { return items.data() + size; }
};
ApiVersionHeaders api_version_headers(int version, std::string_view v1_sunset) noexcept;

// The migration notes (docs/api-versions.md, built into the server).
std::string_view migration_notes();

}  // namespace engram::server
