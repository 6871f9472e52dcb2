// Unit tests of the native server's pieces: config, router, strict JSON, the JSON writer, auth,
// metrics. The end-to-end behaviour is tested over HTTP by tests/server (Python).
#include <gtest/gtest.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "api_error.hpp"
#include "auth.hpp"
#include "backpressure.hpp"
#include "clock_watch.hpp"
#include "config.hpp"
#include "engram/errors.hpp"
#include "json_reader.hpp"
#include "json_writer.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "router.hpp"

using namespace engram::server;
namespace fs = std::filesystem;

namespace {
fs::path temp_file(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("engram_server_test_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p;
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
}  // namespace

// ------------------------------------------------------------------------------------ config
TEST(ServerConfig, PrecedenceDefaultsFileEnvFlags) {
  const auto f = temp_file("p.toml", "[server]\nport = 1111\nmax_k = 7\nin_memory = true\nno_auth = true\n");
  const auto c = load_config(f.string(), {{"port", "2222"}, {"max_batch", "9"}}, {{"port", "3333"}});
  EXPECT_EQ(c.port, 3333);
  EXPECT_EQ(c.max_k, 7);
  EXPECT_EQ(c.max_batch, 9);
  EXPECT_EQ(c.max_inflight, 256);  // default
  const auto top = temp_file("t.toml", "max_k = 33\nin_memory = true\nno_auth = true\n");
  EXPECT_EQ(load_config(top.string(), {}, {}).max_k, 33);
}

TEST(ServerConfig, RefusesUnknownAndInvalid) {
  const auto f = temp_file("u.toml", "in_memory = true\nno_auth = true\n");
  EXPECT_NE(error_of([&] { load_config(f.string(), {{"nope", "1"}}, {}); }).find("unknown setting"), std::string::npos);
  EXPECT_NE(error_of([&] {
              load_config(f.string(), {{"max_k", "many"}}, {});
            }).find("not a valid int"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              load_config(std::nullopt, {}, {{"no_auth", "true"}});
            }).find("exactly one of data"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              load_config(std::nullopt, {}, {{"in_memory", "true"}});
            }).find("api_keys=FILE or no_auth"),
            std::string::npos);
}

TEST(ServerConfig, TheRemovedImplVariableIsIgnoredWithAWarning) {
  std::string impl = "ENGRAM_SERVER_IMPL=python", port = "ENGRAM_SERVER_PORT=1234", other = "HOME=/root";
  char* env[] = {impl.data(), port.data(), other.data(), nullptr};
  EXPECT_EQ(server_env(env), (std::map<std::string, std::string>{{"port", "1234"}}));  // not a setting
  const auto warnings = ignored_env_warnings(env);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("ENGRAM_SERVER_IMPL=python is ignored: ", 0), 0u) << warnings[0];
  EXPECT_EQ(warnings[0].find('\n'), std::string::npos);  // one line
  char* clean[] = {port.data(), nullptr};
  EXPECT_TRUE(ignored_env_warnings(clean).empty());
}

TEST(ServerConfig, EveryNumberIsValidated) {
  const std::map<std::string, std::string> base{{"in_memory", "true"}, {"no_auth", "true"}};
  for (const auto& [name, bad] : std::vector<std::pair<std::string, std::string>>{{"drain_timeout_s", "nan"},
                                                                                  {"drain_timeout_s", "-1"},
                                                                                  {"drain_timeout_s", "inf"},
                                                                                  {"key_reload_interval_s", "0"},
                                                                                  {"ingest_throttle_ms", "nan"},
                                                                                  {"header_timeout_s", "-0.5"},
                                                                                  {"idle_timeout_s", "infinity"},
                                                                                  {"max_k", "0"},
                                                                                  {"max_inflight", "-3"},
                                                                                  {"port", "70000"},
                                                                                  {"io_threads", "0"},
                                                                                  {"max_header_bytes", "10"},
                                                                                  {"dim", "-1"}}) {
    auto flags = base;
    flags[name] = bad;
    const std::string msg = error_of([&] { load_config(std::nullopt, {}, flags); });
    EXPECT_NE(msg.find(name), std::string::npos) << name << "=" << bad << " -> '" << msg << "'";
  }
  auto ok = base;
  ok["drain_timeout_s"] = "0.5";
  EXPECT_DOUBLE_EQ(load_config(std::nullopt, {}, ok).drain_timeout_s, 0.5);
}

TEST(ServerConfig, CommandLine) {
  const auto cl = parse_command_line({"--in-memory", "--port", "80", "--max-k=5", "--config", "x.toml"});
  EXPECT_EQ(cl.flags.at("in_memory"), "true");
  EXPECT_EQ(cl.flags.at("port"), "80");
  EXPECT_EQ(cl.flags.at("max_k"), "5");
  EXPECT_EQ(*cl.config_file, "x.toml");
  EXPECT_THROW(parse_command_line({"--bogus"}), ConfigError);
  EXPECT_THROW(parse_command_line({"--port"}), ConfigError);
  EXPECT_NE(help_text().find("--max-inflight MAX_INFLIGHT"), std::string::npos);
}

TEST(ServerConfig, RedactedJsonHasEveryField) {
  ServerConfig c;
  c.in_memory = true;
  const std::string j = c.redacted_json();
  for (const auto& f : config_fields()) EXPECT_NE(j.find("\"" + f.name + "\":"), std::string::npos) << f.name;
}

// ------------------------------------------------------------------------------------ router
TEST(Router, TemplatesParamsAnd405) {
  RouteTable t;
  t.add({.method = "GET", .path = "/api/v1/spaces"});
  t.add({.method = "GET", .path = "/api/v1/spaces/{space}"});
  t.add({.method = "POST", .path = "/api/v1/spaces/{space}/memories/batch"});
  t.add({.method = "GET", .path = "/api/v1/spaces/{space}/memories/{memory_id}"});
  auto m = t.match("GET", "/api/v1/spaces/a%2Eb/memories/42");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->path, "/api/v1/spaces/{space}/memories/{memory_id}");
  EXPECT_EQ(*m.params.get("space"), "a.b");
  EXPECT_EQ(*m.params.get("memory_id"), "42");
  m = t.match("POST", "/api/v1/spaces/x/memories/batch");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "POST");
  m = t.match("PATCH", "/api/v1/spaces");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_known);  // 405
  m = t.match("GET", "/api/v1/nowhere");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_FALSE(m.path_known);                                   // 404
  EXPECT_EQ(t.match("GET", "/api/v1/spaces/").route, nullptr);  // an empty segment is no parameter
  EXPECT_THROW(t.add({.method = "GET", .path = "/api/v1/spaces"}), std::logic_error);
}

TEST(Router, HeadServesGetAndAllowListsThePathsMethods) {
  RouteTable t;
  t.add({.method = "GET", .path = "/api/v1/spaces"});
  t.add({.method = "POST", .path = "/api/v1/spaces"});
  t.add({.method = "POST", .path = "/api/v1/spaces/{space}/search"});
  t.add({.method = "DELETE", .path = "/api/v1/spaces/{space}"});
  t.add({.method = "GET", .path = "/api/v1/spaces/{space}"});
  auto m = t.match("HEAD", "/api/v1/spaces/a");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "GET");
  EXPECT_EQ(*m.params.get("space"), "a");
  m = t.match("HEAD", "/api/v1/spaces/a/search");  // a POST-only path: no HEAD
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_known);
  EXPECT_EQ(allow_header(m.allow), "POST");
  m = t.match("OPTIONS", "/api/v1/spaces/a");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(allow_header(m.allow), "DELETE, GET, HEAD");
  m = t.match("PATCH", "/api/v1/spaces");
  EXPECT_EQ(allow_header(m.allow), "GET, HEAD, POST");
  m = t.match("TRACE", "/api/v1/nowhere");
  EXPECT_FALSE(m.path_known);
  EXPECT_TRUE(m.allow.empty());
}

// ------------------------------------------------------------------------------ strict JSON
namespace {
std::string invalid_message(std::string_view text, const std::function<void(ObjectReader&)>& read) {
  try {
    JsonDocument d(text, "Model");
    auto o = d.object();
    read(o);
    o.finish();
  } catch (const ApiError& e) {
    return e.code + ": " + e.what();
  }
  return "";
}
}  // namespace

TEST(StrictJson, TypesAreNotCoerced) {
  const auto k = [](ObjectReader& o) { o.opt_int("k", 1, 1000); };
  EXPECT_EQ(invalid_message(R"({"k": 10})", k), "");
  EXPECT_EQ(invalid_message(R"({"k": 10.0})", k), "");  // integral float, as pydantic
  EXPECT_NE(invalid_message(R"({"k": 10.7})", k).find("k: expected an integer"), std::string::npos);
  EXPECT_NE(invalid_message(R"({"k": "10"})", k).find("got a string"), std::string::npos);
  EXPECT_NE(invalid_message(R"({"k": true})", k).find("got true"), std::string::npos);
  EXPECT_NE(invalid_message(R"({"k": 9223372036854775808})", k).find("out of range"), std::string::npos);
  EXPECT_NE(invalid_message(R"({"k": 0})", k).find("[1, 1000]"), std::string::npos);
  EXPECT_NE(invalid_message(R"({"k": 1, "x": 2})", k).find("x: unknown field"), std::string::npos);
  EXPECT_NE(invalid_message(R"({"k": 1, "k": 2})", k).find("duplicate"), std::string::npos);
  EXPECT_EQ(invalid_message("{not json", k).substr(0, 12), "invalid_json");
  EXPECT_EQ(invalid_message("  ", k).substr(0, 12), "invalid_json");
  EXPECT_NE(invalid_message("[1]", k).find("expected a JSON object"), std::string::npos);
}

TEST(StrictJson, NestedPathsAndEmbeddings) {
  const auto items = [](ObjectReader& o) {
    auto a = o.required("items").as_array(1, 10);
    for (std::size_t i = 0; i < a.size(); ++i) {
      auto item = a.at(i).as_object();
      item.required("embedding").as_float_array(8);
      item.finish();
    }
  };
  EXPECT_EQ(invalid_message(R"({"items": [{"embedding": [1, 2.5]}]})", items), "");
  EXPECT_NE(invalid_message(R"({"items": [{"embedding": [1]}, {"embedding": "x"}]})", items)
                .find("items[1].embedding: expected an array of numbers"),
            std::string::npos);
  EXPECT_NE(invalid_message(R"({"items": [{"embedding": [1, true]}]})", items).find("items[0].embedding[1]"),
            std::string::npos);
  EXPECT_NE(invalid_message(R"({"items": [{"embedding": [1e39]}]})", items).find("float32"), std::string::npos);
  EXPECT_NE(invalid_message(R"({"items": []})", items).find("items: expected an array of 1 to 10"), std::string::npos);
  EXPECT_NE(invalid_message(R"({"items": [{"embedding": [1], "z": 0}]})", items).find("items[0].z: unknown"),
            std::string::npos);
  EXPECT_NE(invalid_message(R"({})", items).find("items: field required"), std::string::npos);
}

// ----------------------------------------------------------------------------- JSON writer
TEST(JsonWriter, EscapesAndNumbers) {
  JsonWriter w;
  w.begin_object().field("s", std::string_view("a\"b\\c\n\x01\xff\xc3\xa9")).field("i", std::int64_t{-5});
  w.field("u", std::uint64_t{18446744073709551615ull}).field("f", 1.0).field("nan", std::nan(""));
  w.key("arr").begin_array().value(0.1).value(1e300).null().end_array().end_object();
  EXPECT_EQ(w.str(),
            "{\"s\":\"a\\\"b\\\\c\\n\\u0001\\ufffd\xc3\xa9\",\"i\":-5,\"u\":18446744073709551615,\"f\":1.0,"
            "\"nan\":null,\"arr\":[0.1,1e+300,null]}");
}

TEST(JsonWriter, DoublesRoundTrip) {
  for (double v : {0.1, 1.0 / 3, 5e-324, 1.7976931348623157e308, -2.5e-10, 123456789.123456789}) {
    std::string s;
    JsonWriter::append_double(s, v);
    double back = 0;
    std::from_chars(s.data(), s.data() + s.size(), back);
    EXPECT_EQ(back, v) << s;
  }
}

// ------------------------------------------------------------------------------------ auth
TEST(Auth, HashReloadAndScopes) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string admin = "engram_admin_s3cret", scoped = "engram_scoped_x_y";
  const auto write = [&](const fs::path& p, bool with_scoped) {
    std::string doc = R"({"keys": {"admin": {"hash": ")" + hash_key(admin) + R"(", "spaces": ["*"], "role": "admin"})";
    if (with_scoped) doc += R"(, "scoped": {"hash": ")" + hash_key(scoped) + R"(", "spaces": ["a"], "role": "admin"})";
    std::ofstream(p) << doc << "}}";
  };
  const auto f = temp_file("keys.json", "");
  write(f, true);
  KeyStore ks(f.string());
  EXPECT_EQ(ks.size(), 2u);
  EXPECT_EQ(ks.authenticate("Bearer " + admin)->key_id, "admin");
  EXPECT_EQ(ks.authenticate("bearer  " + scoped + " ")->key_id, "scoped");
  for (std::string bad :
       {"", "Bearer", "Basic abc", "Bearer engram_admin_wrong", "Bearer engram_nobody_x", "Bearer garbage"}) {
    try {
      ks.authenticate(bad.empty() ? std::optional<std::string_view>() : std::optional<std::string_view>(bad));
      ADD_FAILURE() << bad;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 401);
      EXPECT_EQ(e.code, "unauthenticated");
    }
  }
  // scope rules: a scoped admin acts on its spaces only; engine-wide routes need "*"
  const auto p = ks.authenticate("Bearer " + scoped);
  EXPECT_NO_THROW(p->authorize(Role::Admin, std::string("a"), false));
  EXPECT_THROW(p->authorize(Role::Admin, std::string("b"), false), ApiError);
  EXPECT_THROW(p->authorize(Role::Admin, std::nullopt, true), ApiError);
  EXPECT_NO_THROW(ks.authenticate("Bearer " + admin)->authorize(Role::Admin, std::nullopt, true));
  // revocation by reload; a bad file keeps the old keys
  write(f, false);
  ks.reload(true);
  EXPECT_THROW(ks.authenticate("Bearer " + scoped), ApiError);
  std::ofstream(f) << "{broken";
  EXPECT_THROW(ks.reload(true), std::runtime_error);
  EXPECT_EQ(ks.authenticate("Bearer " + admin)->key_id, "admin");
  EXPECT_EQ(ks.size(), 1u);
}

TEST(Auth, RoleOrder) {
  Principal r{"r", Role::Read, {"a"}};
  EXPECT_NO_THROW(r.authorize(Role::Read, std::string("a"), false));
  try {
    r.authorize(Role::Write, std::string("a"), false);
    ADD_FAILURE();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 403);
    EXPECT_NE(std::string(e.what()).find("role"), std::string::npos);
  }
}

// --------------------------------------------------------------------------------- metrics
TEST(Metrics, RendersPrometheusText) {
  ServerMetrics m;
  m.observe_request("GET", "/api/v1/spaces/{space}", 200, 0.0007);
  m.observe_request("GET", "/api/v1/spaces/{space}", 200, 20.0);
  m.inc("engram_server_overload_rejections_total", "Refused.");
  m.gauge("engram_server_ready", "Ready.", [] { return 1.0; });
  const std::string t = m.render();
  const std::string l = R"({method="GET",route="/api/v1/spaces/{space}",status="200")";
  EXPECT_NE(t.find("engram_http_requests_total" + l + "} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("engram_http_request_duration_seconds_bucket" + l + ",le=\"0.0005\"} 0\n"), std::string::npos);
  EXPECT_NE(t.find("engram_http_request_duration_seconds_bucket" + l + ",le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("engram_http_request_duration_seconds_bucket" + l + ",le=\"10.0\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("engram_http_request_duration_seconds_bucket" + l + ",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("engram_http_request_duration_seconds_sum" + l + "} 20.000700\n"), std::string::npos);
  EXPECT_NE(
      t.find("# TYPE engram_server_overload_rejections_total counter\nengram_server_overload_rejections_total 1\n"),
      std::string::npos);
  EXPECT_NE(t.find("# TYPE engram_server_ready gauge\nengram_server_ready 1\n"), std::string::npos);
  EXPECT_EQ(m.counter_value("engram_server_overload_rejections_total"), 1.0);
}

TEST(Metrics, UnlabelledHistogramsRenderWithTheRequestBuckets) {
  ServerMetrics m;
  m.declare_histogram("engram_streaming_observation_latency_seconds", "Receipt to stored.");
  std::string t = m.render();
  EXPECT_NE(t.find("# HELP engram_streaming_observation_latency_seconds Receipt to stored.\n"
                   "# TYPE engram_streaming_observation_latency_seconds histogram\n"
                   "engram_streaming_observation_latency_seconds_bucket{le=\"0.0005\"} 0\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("engram_streaming_observation_latency_seconds_count 0\n"), std::string::npos);
  m.observe("engram_streaming_observation_latency_seconds", "Receipt to stored.", 0.003);
  m.observe("engram_streaming_observation_latency_seconds", "Receipt to stored.", 0.0001);
  m.observe("engram_streaming_observation_latency_seconds", "Receipt to stored.", 60.0);
  t = m.render();
  const std::string n = "engram_streaming_observation_latency_seconds";
  EXPECT_NE(t.find(n + "_bucket{le=\"0.0005\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find(n + "_bucket{le=\"0.0025\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find(n + "_bucket{le=\"0.005\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find(n + "_bucket{le=\"10.0\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find(n + "_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(t.find(n + "_sum 60.003100\n"), std::string::npos);
  EXPECT_NE(t.find(n + "_count 3\n"), std::string::npos);
  // declaring again keeps the samples
  m.declare_histogram(n, "Receipt to stored.");
  EXPECT_NE(m.render().find(n + "_count 3\n"), std::string::npos);
}

TEST(Metrics, PerSpaceSeriesAreStripped) {
  const std::string in =
      "# TYPE engram_operations_total counter\nengram_operations_total{space=\"secret\",op=\"search\"} 3\n"
      "engram_memory_bytes{component=\"x\",space=\"secret\"} 4\nengram_wal_appends_total 9\n";
  const std::string out = strip_per_space_series(in);
  EXPECT_EQ(out.find("secret"), std::string::npos);
  EXPECT_NE(out.find("# TYPE engram_operations_total counter\n"), std::string::npos);
  EXPECT_NE(out.find("engram_wal_appends_total 9\n"), std::string::npos);
}

TEST(ApiErrors, EngineExceptionsMapToCodes) {
  EXPECT_EQ(from_exception(engram::DimensionError("d"))->code, "dimension_mismatch");
  EXPECT_EQ(from_exception(engram::SpaceNotFound("s"))->status, 404);
  EXPECT_EQ(from_exception(engram::CorruptionError("c"))->code, "corruption");
  const auto st = from_exception(engram::StorageError("s"));
  EXPECT_EQ(st->status, 503);
  EXPECT_TRUE(st->retry_after_s.has_value());
  EXPECT_FALSE(from_exception(std::runtime_error("bug")).has_value());
  EXPECT_EQ(error_body(ApiError(429, "overloaded", "m", 1.0), "rid"),
            R"({"error":{"code":"overloaded","message":"m","status":429,"request_id":"rid","retry_after_ms":1000}})");
}

TEST(ClockWatch, ReportsStepsOfAtLeastTheThresholdAndSumsTheOffset) {
  ClockWatch w(1.0);
  EXPECT_FALSE(w.observe(1000.0, 5.0));     // the first observation anchors
  EXPECT_FALSE(w.observe(1001.0, 6.0));     // both advanced 1 s: no step
  EXPECT_FALSE(w.observe(1002.5, 7.0));     // 0.5 s of drift: under the threshold, but counted
  const auto fwd = w.observe(1063.5, 8.0);  // +60 s
  ASSERT_TRUE(fwd);
  EXPECT_DOUBLE_EQ(*fwd, 60.0);
  const auto back = w.observe(1034.5, 9.0);  // -30 s
  ASSERT_TRUE(back);
  EXPECT_DOUBLE_EQ(*back, -30.0);
  EXPECT_DOUBLE_EQ(w.offset_s(), 30.5);
  ClockWatch now;  // the overload reading the steady clock itself: no step between two calls
  EXPECT_FALSE(now.observe(2000.0));
  EXPECT_FALSE(now.observe(2000.0));
}

TEST(Backpressure, LevelsFollowMilestoneElevensThresholds) {
  EXPECT_EQ(pressure_of(0.0), Pressure::Normal);
  EXPECT_EQ(pressure_of(0.4999), Pressure::Normal);
  EXPECT_EQ(pressure_of(0.50), Pressure::Warning);
  EXPECT_EQ(pressure_of(0.7999), Pressure::Warning);
  EXPECT_EQ(pressure_of(0.80), Pressure::Critical);
  EXPECT_EQ(pressure_of(0.9499), Pressure::Critical);
  EXPECT_EQ(pressure_of(0.95), Pressure::Overloaded);
  EXPECT_EQ(pressure_of(1.5), Pressure::Overloaded);
  EXPECT_EQ(pressure_name(Pressure::Critical), "critical");
}

TEST(Backpressure, RefusesWritesFromNinetyPercentAndCountsEachChange) {
  ServerMetrics m;
  JsonLog log(LogLevel::Error);  // quiet
  Backpressure bp("q", 100, m, log);
  EXPECT_EQ(bp.reject_depth(), 90);
  EXPECT_TRUE(bp.admits_write(89));
  EXPECT_FALSE(bp.admits_write(90));
  std::vector<Pressure> seen;
  bp.on_change([&](Pressure p) { seen.push_back(p); });
  EXPECT_EQ(bp.update(10), Pressure::Normal);
  EXPECT_EQ(bp.update(60), Pressure::Warning);
  EXPECT_EQ(bp.update(85), Pressure::Critical);
  EXPECT_EQ(bp.update(97), Pressure::Overloaded);
  EXPECT_EQ(bp.update(97), Pressure::Overloaded);  // no change: no hook, no count
  EXPECT_EQ(bp.update(0), Pressure::Normal);
  EXPECT_EQ(seen,
            (std::vector<Pressure>{Pressure::Warning, Pressure::Critical, Pressure::Overloaded, Pressure::Normal}));
  EXPECT_DOUBLE_EQ(m.counter_value("engram_backpressure_transitions_total", {{"queue", "q"}, {"state", "critical"}}),
                   1.0);
  EXPECT_DOUBLE_EQ(bp.fill(), 0.0);
  Backpressure tiny("t", 1, m, log);  // a queue of one still admits its one item
  EXPECT_TRUE(tiny.admits_write(0));
  EXPECT_FALSE(tiny.admits_write(1));
}

TEST(Backpressure, AnOlderDepthNeverOverwritesANewerOne) {
  ServerMetrics m;
  JsonLog log(LogLevel::Error);
  Backpressure bp("q", 100, m, log);
  EXPECT_EQ(bp.update(99, 10), Pressure::Overloaded);
  EXPECT_EQ(bp.update(0, 9), Pressure::Overloaded);  // computed before the newer depth: ignored
  EXPECT_EQ(bp.level(), Pressure::Overloaded);
  EXPECT_EQ(bp.update(0, 11), Pressure::Normal);
}

TEST(Backpressure, RetryAfterIsTheTimeToDrainBelowTheSignalAtTheMeasuredRate) {
  ServerMetrics m;
  JsonLog log(LogLevel::Error);
  Backpressure bp("q", 1000, m, log);
  EXPECT_DOUBLE_EQ(bp.retry_after_s(950, 0.25), 0.25);  // nothing measured yet: the fallback
  bp.drained(100, 0.5);                                 // 200 items/s
  EXPECT_DOUBLE_EQ(bp.drain_rate(), 200.0);
  EXPECT_DOUBLE_EQ(bp.retry_after_s(900, 0.25), 0.5);  // 100 above the signal (800) at 200/s
  bp.drained(400, 1.0);                                // weighted: 0.7 * 200 + 0.3 * 400
  EXPECT_NEAR(bp.drain_rate(), 260.0, 1e-9);
  EXPECT_DOUBLE_EQ(bp.retry_after_s(100, 0.25), 0.010);  // under the signal: the floor
  bp.drained(1, 1e6);
  EXPECT_LE(bp.retry_after_s(1000, 0.25), 60.0);  // capped
}
