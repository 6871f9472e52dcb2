// The trace context parser, the OTLP/HTTP JSON encoding, the endpoint parser and the engine's
// stage recorder (tracing.hpp, engram/stage_trace.hpp). The exporter's POSTs and the payloads'
// schema are checked over HTTP by tests/server/test_tracing.py.
#include "tracing.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "config.hpp"
#include "engram/stage_trace.hpp"

namespace engram::server::tracing {
namespace {

TEST(TraceParent, ParsesTheRecommendationsExample) {
  const auto tp = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(tp);
  EXPECT_EQ(hex(tp->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(hex(tp->span_id), "00f067aa0ba902b7");
  EXPECT_TRUE(tp->sampled);
  const auto unsampled = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled);
  EXPECT_FALSE(unsampled->sampled);
}

TEST(TraceParent, RefusesMalformedHeaders) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",         // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",      // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",      // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",      // zero span id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // forbidden version
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz",  // 00 has no more fields
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",      // not hex
       }) {
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
}

TEST(TraceParent, ReadsALaterVersionAsVersion00) {
  const auto tp = parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future");
  ASSERT_TRUE(tp);
  EXPECT_TRUE(tp->sampled);
}

TEST(TraceParent, FormatRoundTrips) {
  const auto tp = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(tp);
  EXPECT_EQ(format_traceparent(tp->trace_id, tp->span_id, true),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(format_traceparent(tp->trace_id, tp->span_id, false).substr(53), "00");
}

TEST(Endpoint, DefaultsToOtlpHttpPortAndPath) {
  auto e = parse_endpoint("http://127.0.0.1");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, "4318");
  EXPECT_EQ(e.target, "/v1/traces");
  e = parse_endpoint("http://[::1]:9999/custom/traces");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, "9999");
  EXPECT_EQ(e.target, "/custom/traces");
}

TEST(Endpoint, RefusesWhatItCannotExportTo) {
  for (const char* bad : {"https://collector:4318", "collector:4318", "http://", "http://:4318", "http://h:0",
                          "http://h:70000", "http://h:12ab", "http://u:p@h:4318", "http://[::1"}) {
    try {
      parse_endpoint(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("expected http://HOST"), std::string::npos) << e.what();
    }
  }
}

TEST(Config, OtlpEndpointIsValidatedAtStart) {
  EXPECT_THROW(
      load_config(std::nullopt, {}, {{"in_memory", "true"}, {"no_auth", "true"}, {"otlp_endpoint", "ftp://x"}}),
      ConfigError);
  EXPECT_THROW(
      load_config(std::nullopt, {}, {{"in_memory", "true"}, {"no_auth", "true"}, {"trace_sample_ratio", "1.5"}}),
      ConfigError);
  const auto c = load_config(std::nullopt, {},
                             {{"in_memory", "true"}, {"no_auth", "true"}, {"otlp_endpoint", "http://127.0.0.1:4318"}});
  EXPECT_EQ(*c.otlp_endpoint, "http://127.0.0.1:4318");
}

TEST(OtlpJson, EncodesIdsInHexAndIntegersAsStrings) {
  Span s;
  s.trace_id = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")->trace_id;
  s.span_id = {1, 2, 3, 4, 5, 6, 7, 8};
  s.parent = SpanId{0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10, 0x11};
  s.name = "POST /api/v1/spaces/{space}/memories";
  s.kind = SpanKind::Server;
  s.start_ns = 1700000000000000000;
  s.end_ns = 1700000000001000000;
  s.attributes = {{"http.response.status_code", std::int64_t{500}},
                  {"engram.request_id", std::string("r\"1")},
                  {"ratio", 0.5},
                  {"flag", true}};
  s.error = true;
  s.status_message = "HTTP 500";
  const std::string json = encode_otlp_json({s}, {{"service.name", std::string("engramd")}});
  simdjson::dom::parser p;
  const simdjson::dom::element doc = p.parse(json);
  const auto rs = doc["resourceSpans"].at(0);
  EXPECT_EQ(std::string_view(rs["resource"]["attributes"].at(0)["value"]["stringValue"]), "engramd");
  const auto scope = rs["scopeSpans"].at(0);
  EXPECT_EQ(std::string_view(scope["scope"]["name"]), "engramd");
  const auto span = scope["spans"].at(0);
  EXPECT_EQ(std::string_view(span["traceId"]), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(std::string_view(span["spanId"]), "0102030405060708");
  EXPECT_EQ(std::string_view(span["parentSpanId"]), "0a0b0c0d0e0f1011");
  EXPECT_EQ(int64_t(span["kind"]), 2);
  EXPECT_EQ(std::string_view(span["startTimeUnixNano"]), "1700000000000000000");
  EXPECT_EQ(std::string_view(span["endTimeUnixNano"]), "1700000000001000000");
  const auto attrs = span["attributes"];
  EXPECT_EQ(std::string_view(attrs.at(0)["value"]["intValue"]), "500");
  EXPECT_EQ(std::string_view(attrs.at(1)["value"]["stringValue"]), "r\"1");
  EXPECT_EQ(double(attrs.at(2)["value"]["doubleValue"]), 0.5);
  EXPECT_EQ(bool(attrs.at(3)["value"]["boolValue"]), true);
  EXPECT_EQ(int64_t(span["status"]["code"]), 2);
}

TEST(OtlpJson, ARootSpanHasNoParentAndAnUnsetStatusIsLeftOut) {
  Span s;
  s.span_id = Tracer::new_span_id();
  s.name = "GET /api/v1/spaces";
  const std::string json = encode_otlp_json({s}, {});
  EXPECT_EQ(json.find("parentSpanId"), std::string::npos);
  EXPECT_EQ(json.find("\"status\""), std::string::npos);
}

TEST(Tracer, DisabledWithoutAnEndpoint) {
  ServerConfig c;
  c.in_memory = true;
  c.no_auth = true;
  ServerMetrics m;
  JsonLog log(LogLevel::Error);
  Tracer t(c, m, log);
  EXPECT_FALSE(t.enabled());
  EXPECT_FALSE(t.begin("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, 1));
}

TEST(Tracer, SamplingFollowsTheParentThenTheRatio) {
  ServerConfig c;
  c.in_memory = true;
  c.no_auth = true;
  c.otlp_endpoint = "http://127.0.0.1:9";  // nothing listens: spans are dropped, counted
  c.trace_sample_ratio = 0.0;
  ServerMetrics m;
  JsonLog log(LogLevel::Error);
  Tracer t(c, m, log);
  ASSERT_TRUE(t.enabled());
  const auto sampled = t.begin("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, 42);
  ASSERT_TRUE(sampled);
  EXPECT_EQ(hex(sampled->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_TRUE(sampled->parent);
  EXPECT_EQ(hex(*sampled->parent), "00f067aa0ba902b7");
  EXPECT_EQ(sampled->start_ns, 42);
  EXPECT_FALSE(t.begin("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", false, 1));  // parent says no
  EXPECT_FALSE(t.begin(std::nullopt, false, 1));                                               // ratio 0
  EXPECT_FALSE(t.begin(std::nullopt, true, 1));  // /metrics without a parent: never
  EXPECT_TRUE(t.begin("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, 1));  // asked for
  // a malformed traceparent starts a new trace (ratio applies): here none
  EXPECT_FALSE(t.begin("garbage", false, 1));
}

TEST(Tracer, ANewTraceGetsFreshIds) {
  ServerConfig c;
  c.in_memory = true;
  c.no_auth = true;
  c.otlp_endpoint = "http://127.0.0.1:9";
  ServerMetrics m;
  JsonLog log(LogLevel::Error);
  Tracer t(c, m, log);
  const auto a = t.begin(std::nullopt, false, 1);
  const auto b = t.begin(std::nullopt, false, 1);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->parent);
  EXPECT_NE(hex(a->trace_id), hex(b->trace_id));
  EXPECT_NE(hex(a->span_id), hex(b->span_id));
}

TEST(Tracer, ExportFailuresAreCountedNotThrown) {
  ServerConfig c;
  c.in_memory = true;
  c.no_auth = true;
  c.otlp_endpoint = "http://127.0.0.1:9";
  c.otlp_interval_s = 0.01;
  ServerMetrics m;
  JsonLog log(LogLevel::Error);
  {
    Tracer t(c, m, log);
    Span s;
    s.span_id = Tracer::new_span_id();
    s.name = "x";
    t.submit({s, s, s});
  }  // the destructor exports (and fails) what is queued
  EXPECT_EQ(m.counter_value("engram_trace_spans_dropped_total", {{"reason", "export_failed"}}), 3.0);
  EXPECT_EQ(m.counter_value("engram_trace_spans_exported_total"), 0.0);
}

}  // namespace
}  // namespace engram::server::tracing

namespace engram::trace {
namespace {

TEST(StageTrace, RecordsOnlyWhereARecorderIsInstalled) {
  { const StageScope untraced("wal.sync"); }  // no recorder: nothing, no crash
  StageRecorder r;
  {
    const ScopedRecorder installed(&r);
    const StageScope a("parse");
    { const StageScope b("wal.sync"); }
  }
  { const StageScope after("wal.sync"); }  // uninstalled again
  ASSERT_EQ(r.stages.size(), 2u);
  EXPECT_STREQ(r.stages[0].name, "wal.sync");  // inner scope ends first
  EXPECT_STREQ(r.stages[1].name, "parse");
  EXPECT_LE(r.stages[1].start_ns, r.stages[0].start_ns);
  EXPECT_GE(r.stages[1].end_ns, r.stages[0].end_ns);
  EXPECT_EQ(current_recorder(), nullptr);
}

}  // namespace
}  // namespace engram::trace
