// Version negotiation, v1's deprecation headers, JSON Pointers of error fields, ids written by
// IdStyle and the cursors of v2's pages (api_version.hpp, api_error.hpp, json_writer.hpp,
// pagination.hpp). Over HTTP: tests/server/test_api_versions.py.
#include "api_version.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api_error.hpp"
#include "json_writer.hpp"
#include "pagination.hpp"

namespace engram::server {
namespace {

std::string code_of(std::string_view path, std::optional<std::string_view> header) {
  try {
    negotiate_api_version(path, header);
  } catch (const ApiError& e) {
    return e.code;
  }
  return "";
}

TEST(ApiVersion, ThePathOrTheHeaderPicksTheVersion) {
  EXPECT_EQ(negotiate_api_version("/api/v1/spaces", std::nullopt), "/api/v1/spaces");
  EXPECT_EQ(negotiate_api_version("/api/v2/spaces", "2"), "/api/v2/spaces");
  EXPECT_EQ(negotiate_api_version("/api/spaces", std::nullopt), "/api/v2/spaces");
  EXPECT_EQ(negotiate_api_version("/api/spaces/a/memories", "v1"), "/api/v1/spaces/a/memories");
  EXPECT_EQ(negotiate_api_version("/health/live", "7"), "/health/live");  // outside the API
  EXPECT_EQ(negotiate_api_version("/api/migration/v1-to-v2", std::nullopt), "/api/migration/v1-to-v2");
}

TEST(ApiVersion, UnknownAndContradictoryVersionsAreRefused) {
  EXPECT_EQ(code_of("/api/v3/spaces", std::nullopt), "unsupported_api_version");
  EXPECT_EQ(code_of("/api/v0/spaces", std::nullopt), "unsupported_api_version");
  EXPECT_EQ(code_of("/api/v12345/spaces", std::nullopt), "unsupported_api_version");
  EXPECT_EQ(code_of("/api/spaces", ""), "unsupported_api_version");
  EXPECT_EQ(code_of("/api/spaces", "2.0"), "unsupported_api_version");
  EXPECT_EQ(code_of("/api/v1/spaces", "2"), "api_version_conflict");
}

TEST(ApiVersion, OnlyV1IsDeprecated) {
  const std::string sunset = "Wed, 01 Jul 2027 00:00:00 GMT";
  const auto v1 = api_version_headers(1, sunset);
  ASSERT_EQ(v1.size, 4u);
  EXPECT_EQ(v1.items[0].first, "Engram-API-Version");
  EXPECT_EQ(v1.items[0].second, "1");
  EXPECT_EQ(v1.items[1].first, "Deprecation");
  EXPECT_EQ(v1.items[2].second, sunset);
  EXPECT_NE(v1.items[3].second.find(kMigrationNotesPath), std::string_view::npos);
  EXPECT_EQ(api_version_headers(2, "x").size, 1u);
  EXPECT_EQ(api_version_headers(0, "x").items[0].second, "2");  // outside the API: the newest
  EXPECT_NE(migration_notes().find("Accept-Version"), std::string_view::npos);
}

TEST(ApiError, FieldsAreJsonPointers) {
  EXPECT_EQ(json_pointer("items[3].embedding"), "/items/3/embedding");
  EXPECT_EQ(json_pointer("k"), "/k");
  EXPECT_EQ(json_pointer("metadata.a/b~c"), "/metadata/a~1b~0c");
  EXPECT_EQ(json_pointer(""), "");
  ApiError e = ApiError(400, "invalid_input", "m").at("edges[0].dst");
  EXPECT_EQ(e.field, "/edges/0/dst");
  EXPECT_EQ(error_body(e, "r", 1).find("field"), std::string::npos);
  EXPECT_NE(error_body(e, "r", 2).find(R"("field":"/edges/0/dst","retry_after_ms":null)"), std::string::npos);
}

TEST(JsonWriter, IdsFollowTheStyle) {
  JsonWriter v1;
  v1.begin_object().field_id("id", 1099511627777).end_object();
  EXPECT_EQ(v1.take(), R"({"id":1099511627777})");
  JsonWriter v2(IdStyle::String);
  v2.begin_array().id(-5).id(9223372036854775807).end_array();
  EXPECT_EQ(v2.take(), R"(["-5","9223372036854775807"])");
}

TEST(Pagination, PagesFollowTheCursorWithoutRepeatsOrGaps) {
  const std::vector<std::int64_t> ids{2, 3, 5, 7, 11, 13, 17};
  PageQuery q;
  q.paged = true;
  q.limit = 3;
  std::vector<std::int64_t> seen;
  for (int i = 0; i < 10; ++i) {
    const Page p = page_of(q, ids.size(), [&](std::size_t j) { return ids[j]; });
    for (std::size_t j = p.first; j < p.last; ++j) seen.push_back(ids[j]);
    if (!p.next_cursor) break;
    q.after = std::to_string(ids[p.last - 1]);
    EXPECT_EQ(*p.next_cursor, encode_cursor(*q.after));
  }
  EXPECT_EQ(seen, ids);
  q.after = "6";  // a key that left the list: the page starts after where it was
  EXPECT_EQ(page_of(q, ids.size(), [&](std::size_t j) { return ids[j]; }).first, 3u);
  PageQuery v1;  // not paged: everything, no cursor
  const Page all = page_of(v1, ids.size(), [&](std::size_t j) { return ids[j]; });
  EXPECT_EQ(all.last, ids.size());
  EXPECT_FALSE(all.next_cursor);
}

}  // namespace
}  // namespace engram::server
