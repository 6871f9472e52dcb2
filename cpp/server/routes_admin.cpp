// Administration: background consolidation status and control,
// engine-wide stats, feature flags.
//
// Authorisation (issue 13, defects 3 and 4; docs/architecture.md, "Native server"): every route
// needs the admin role. Actions on the whole engine -- starting, stopping, pausing and resuming
// the background consolidator (it consolidates every space with one set of parameters) and
// switching feature flags -- are engine_wide: they need a key granted "*", so an admin scoped to
// some spaces is refused (403) and can never consolidate another tenant's space. Reads are
// answered to a scoped admin restricted to its own spaces: /stats and /consolidation list only
// the spaces the key is granted, so neither names nor counts of other spaces leak.
#include <optional>

#include "api_error.hpp"
#include "context.hpp"
#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/fault.hpp"
#include "engram/simd.hpp"
#include "engram/space.hpp"
#include "json_writer.hpp"
#include "routes.hpp"

namespace engram::server {

namespace {

// JSON Schemas of StartConsolidation and Features, as API v1 documented them
// (tests/server/recorded/openapi-starlette.json; tests/server/test_native.py compares the documents).
std::string optional_number(std::string_view title, double lo, double hi) {
  JsonWriter w;
  w.begin_object().key("anyOf").begin_array();
  w.begin_object().field("maximum", hi).field("minimum", lo).field("type", "number").end_object();
  w.begin_object().field("type", "null").end_object().end_array();
  w.key("default").null().field("title", title).end_object();
  return w.take();
}

std::string optional_int(std::string_view title, std::int64_t lo, std::int64_t hi) {
  JsonWriter w;
  w.begin_object().key("anyOf").begin_array();
  w.begin_object().field("maximum", hi).field("minimum", lo).field("type", "integer").end_object();
  w.begin_object().field("type", "null").end_object().end_array();
  w.key("default").null().field("title", title).end_object();
  return w.take();
}

std::string optional_bool(std::string_view title) {
  JsonWriter w;
  w.begin_object().key("anyOf").begin_array();
  w.begin_object().field("type", "boolean").end_object();
  w.begin_object().field("type", "null").end_object().end_array();
  w.key("default").null().field("title", title).end_object();
  return w.take();
}

constexpr double kMaxInterval = 86400.0;
constexpr double kMinInterval = 0.001;  // what Consolidator::start takes (consolidator.cpp)

std::string start_consolidation_schema() {
  JsonWriter w;
  w.begin_object().field("additionalProperties", false).key("properties").begin_object();
  w.key("similarity_threshold").raw(optional_number("Similarity Threshold", 0.0, 1.0));
  w.key("coherence_threshold").raw(optional_number("Coherence Threshold", 0.0, 1.0));
  w.key("min_cluster_size").raw(optional_int("Min Cluster Size", 2, kMaxMinClusterSize));
  w.key("max_concepts_per_run").raw(optional_int("Max Concepts Per Run", 0, 100000));
  w.key("interval_s").begin_object().field("default", 30.0);
  w.field("description", "seconds between background cycles").field("exclusiveMinimum", 0.0);
  // the consolidator's own floor (1 ms), stated beside API v1's exclusiveMinimum 0
  w.field("maximum", kMaxInterval).field("minimum", kMinInterval).field("title", "Interval S");
  w.field("type", "number").end_object();
  w.end_object().field("title", "StartConsolidation").field("type", "object").end_object();
  return w.take();
}

std::string features_schema() {
  JsonWriter w;
  w.begin_object().field("additionalProperties", false).key("properties").begin_object();
  w.key("blended_recall").raw(optional_bool("Blended Recall"));
  w.key("fan_effect").raw(optional_bool("Fan Effect"));
  w.key("concept_formation").raw(optional_bool("Concept Formation"));
  // issue 16's addition: a staged rollout per request (rollout.hpp); null clears a flag's rollout
  w.key("rollout").begin_object().field("type", "object").field("additionalProperties", false);
  w.field("description",
          "staged rollout: {flag: {percent, shadow}} turns blended_recall or fan_effect on for that share of "
          "rollout keys (Engram-Rollout-Key, else the API key), concept_formation for that share of spaces (by "
          "name); shadow with percent 0 computes the flag-on recall beside the served one (per-request flags "
          "only); null clears the flag's rollout (the engine's value again). Durable: kept in the store across "
          "restarts, with the flags");
  w.key("properties").begin_object();
  for (const Feature flag : kFeatures) {
    const std::string_view name = feature_name(flag);
    w.key(name).begin_object().key("anyOf").begin_array();
    w.begin_object().field("type", "object").field("additionalProperties", false);
    w.key("required").begin_array().value("percent").end_array().key("properties").begin_object();
    w.key("percent").begin_object().field("type", "number").field("minimum", 0.0).field("maximum", 100.0).end_object();
    w.key("shadow").begin_object().field("type", "boolean").field("default", false).end_object();
    w.end_object().end_object();
    w.begin_object().field("type", "null").end_object().end_array().end_object();
  }
  w.end_object().end_object();
  w.end_object().field("title", "Features").field("type", "object").end_object();
  return w.take();
}

void write_counters(JsonWriter& w, const ConsolidationCounterValues& c) {
  w.begin_object().field("runs", c.runs).field("failures", c.failures).field("concepts_formed", c.concepts_formed);
  w.field("concepts_updated", c.concepts_updated).field("concepts_dissolved", c.concepts_dissolved);
  w.field("episodes_bound", c.episodes_bound).field("rate_breaker_trips", c.rate_breaker_trips);
  w.field("ratio_breaker_trips", c.ratio_breaker_trips).field("rate_breaker_open", c.rate_breaker_open);
  w.field("ratio_breaker_open", c.ratio_breaker_open).field("last_run_at", c.last_run_at);
  w.field("last_duration_s", c.last_duration_s).end_object();
}

// The spaces this key may see (a scoped admin: its own only), in the engine's (name) order.
std::vector<std::shared_ptr<Space>> visible_spaces(const RequestContext& ctx) {
  std::vector<std::shared_ptr<Space>> out;
  for (auto& sp : ctx.engine().spaces())
    if (ctx.principal->grants(sp->name())) out.push_back(std::move(sp));
  return out;
}

// Engine.consolidation_status() of the Python package, restricted to the visible spaces.
void write_status(JsonWriter& w, const RequestContext& ctx) {
  const ConsolidatorStatus s = ctx.engine().consolidation_status();
  w.begin_object().field("state", consolidator_state_name(s.state)).field("interval_s", s.interval_s);
  w.field("cycles", s.cycles).field("failures", s.failures).field("last_cycle_duration_s", s.last_cycle_duration_s);
  w.key("spaces").begin_object();
  for (const auto& sp : visible_spaces(ctx)) {
    w.key(sp->name());
    write_counters(w, sp->concept_store().counters().values());
  }
  w.end_object().end_object();
}

Response status_response(const RequestContext& ctx) {
  JsonWriter w = ctx.writer();
  write_status(w, ctx);
  return Response::json(w.take());
}

Response consolidation_status(RequestContext& ctx) { return status_response(ctx); }

Response pause(RequestContext& ctx) {
  ctx.engine().pause_consolidation();
  ctx.state.log.info("consolidation_paused", {{"key", ctx.principal->key_id}});
  return status_response(ctx);
}

Response resume(RequestContext& ctx) {
  ctx.engine().resume_consolidation();
  ctx.state.log.info("consolidation_resumed", {{"key", ctx.principal->key_id}});
  return status_response(ctx);
}

Response start(RequestContext& ctx) {
  auto o = ctx.json();
  ConsolidationParams p = read_consolidation_params(o);
  double interval = 30.0;
  if (auto v = o.opt_number("interval_s", 0.0, kMaxInterval)) {
    if (*v <= 0.0) throw ApiError(400, "invalid_input", "interval_s: must be greater than 0, got 0");
    interval = *v;
  }
  o.finish();
  ctx.engine().start_consolidation(interval, p);  // replaces (joins) a running consolidator
  ctx.state.log.info("consolidation_started", {{"interval_s", interval}, {"key", ctx.principal->key_id}});
  return status_response(ctx);
}

Response stop(RequestContext& ctx) {
  ctx.engine().stop_consolidation();  // joins the consolidator thread, which may be mid-cycle
  ctx.state.log.info("consolidation_stopped", {{"key", ctx.principal->key_id}});
  return status_response(ctx);
}

void write_histogram(JsonWriter& w, const HistogramSnapshot& h) {
  w.begin_object().key("bounds_seconds").begin_array();
  for (double b : kLatencyBounds) w.value(b);
  w.end_array().key("buckets").begin_array();
  for (auto n : h.buckets) w.value(n);
  w.end_array().field("count", h.count).field("sum_seconds", h.sum_seconds).end_object();
}

// Engine.metrics() of the Python package with spaces() beside it, restricted to the key's spaces.
Response stats(RequestContext& ctx) {
  JsonWriter w = ctx.writer();
  const auto spaces = visible_spaces(ctx);
  w.begin_object().key("spaces").begin_array();
  for (const auto& sp : spaces) w.value(sp->name());
  w.end_array().key("metrics").begin_object().key("spaces").begin_object();
  for (const auto& sp : spaces) {
    SpaceStats st;
    try {
      st = sp->stats();
    } catch (const SpaceNotFound&) {  // dropped between listing and reading
      continue;
    }
    w.key(sp->name()).begin_object().key("ops").begin_object();
    for (std::size_t o = 0; o < kOpCount; ++o) {
      const OpSnapshot s = sp->metrics().snapshot(static_cast<Op>(o));
      w.key(op_name(static_cast<Op>(o))).begin_object().field("total", s.total).field("errors", s.errors);
      w.key("latency");
      write_histogram(w, s.latency);
      w.end_object();
    }
    w.end_object().key("memories").begin_object().field("episode", st.episodes).field("concept", st.concepts);
    w.end_object().field("memory_bytes", st.total_bytes()).end_object();
  }
  w.end_object().field("simd", simd::level_name(simd::active_level())).key("consolidation");
  write_status(w, ctx);
  w.end_object().end_object();
  return Response::json(w.take());
}

Response features_response(const RequestContext& ctx) {
  const FeatureValues f = ctx.engine().features().values();
  JsonWriter w = ctx.writer();
  w.begin_object().field("blended_recall", f.blended_recall).field("fan_effect", f.fan_effect);
  w.field("concept_formation", f.concept_formation).key("rollout").begin_object();
  for (const Feature flag : kFeatures) {
    w.key(feature_name(flag));
    if (const auto st = ctx.engine().features().rollout_stage(flag)) {
      w.begin_object().field("percent", st->percent).field("shadow", st->shadow).end_object();
    } else {
      w.null();
    }
  }
  w.end_object().end_object();
  return Response::json(w.take());
}

// {"blended_recall": {"percent": 10, "shadow": false} | null, ...}: read whole before any applies.
std::vector<RolloutChange> read_rollout(ObjectReader& o) {
  std::vector<RolloutChange> out;
  if (!o.present("rollout")) return out;
  auto r = o.required("rollout").as_object();
  for (const Feature flag : kFeatures) {
    const std::string_view name = feature_name(flag);
    if (!r.present(name)) continue;
    auto v = r.get(name);
    if (!v) {  // null
      out.push_back({flag, std::nullopt});
      continue;
    }
    auto stage = v->as_object();
    RolloutStage st;
    st.percent = stage.required("percent").as_number(0.0, 100.0);
    st.shadow = stage.opt_bool("shadow").value_or(false);
    stage.finish();
    // The engine's rules (validate(RolloutChange)); percent is in range already, so what it refuses
    // is the shadow stage, and the error names that field.
    try {
      validate(RolloutChange{flag, st});
    } catch (const InvalidInputError& e) {
      const std::string at = "rollout." + std::string(name) + ".shadow";
      throw ApiError(400, "invalid_input", "invalid request body: " + std::string(e.what())).at(at);
    }
    out.push_back({flag, st});
  }
  r.finish();
  return out;
}

Response get_features(RequestContext& ctx) { return features_response(ctx); }

Response set_features(RequestContext& ctx) {
  auto o = ctx.json();
  const auto blended = o.opt_bool("blended_recall");
  const auto fan = o.opt_bool("fan_effect");
  const auto formation = o.opt_bool("concept_formation");
  const auto stages = read_rollout(o);
  o.finish();
  // Flags and stages in one durable WAL record; concept formation rolls out by space (features.hpp).
  ctx.engine().set_features(blended, fan, formation, stages);
  for (const auto& [flag, st] : stages) {
    ctx.state.log.info("rollout_changed",
                       {{"flag", std::string(feature_name(flag))},
                        st ? LogField("percent", st->percent) : LogField::raw_json("percent", "null"),
                        {"shadow", st && st->shadow},
                        {"key", ctx.principal->key_id}});
  }
  Response r = features_response(ctx);
  const FeatureValues f = ctx.engine().features().values();
  ctx.state.log.info("features_changed", {{"blended_recall", f.blended_recall},
                                          {"fan_effect", f.fan_effect},
                                          {"concept_formation", f.concept_formation},
                                          {"key", ctx.principal->key_id}});
  return r;
}

#ifdef ENGRAM_FAULT_INJECTION
// The test build's fault controls (docs/faults.md, "Over HTTP"): the chaos toolkit's clock-skew
// and I/O-error injectors act on a running server through them. A release build has no such
// route (its OpenAPI document lists none).
constexpr double kMaxSkew = 365.0 * 86400.0;  // Clock::set_skew's range

std::string faults_schema() {
  JsonWriter w;
  w.begin_object().field("additionalProperties", false).key("properties").begin_object();
  w.key("plan").begin_object().key("anyOf").begin_array();
  w.begin_object().field("maxLength", 4096).field("type", "string").end_object();
  w.begin_object().field("type", "null").end_object().end_array();
  w.key("default").null().field("title", "Plan").end_object();
  w.key("clock_skew_s").raw(optional_number("Clock Skew S", -kMaxSkew, kMaxSkew));
  w.end_object().field("title", "Faults").field("type", "object").end_object();
  return w.take();
}

Response faults_response(const RequestContext& ctx) {
  JsonWriter w = ctx.writer();
  w.begin_object().field("build", build_info().flavour).field("plan", faults::plan_text());
  w.field("clock_skew_s", ctx.engine().clock().skew()).key("rules").begin_array();
  for (const faults::RuleStats& r : faults::stats()) {
    w.begin_object().field("rule", r.rule).field("hits", r.hits).field("fired", r.fired).end_object();
  }
  w.end_array().field("leaked_bytes", faults::leaked_bytes()).end_object();
  return Response::json(w.take());
}

Response get_faults(RequestContext& ctx) { return faults_response(ctx); }

Response set_faults(RequestContext& ctx) {
  auto o = ctx.json();
  const auto plan = o.opt_string("plan", 0, 4096);
  const auto skew = o.opt_number("clock_skew_s", -kMaxSkew, kMaxSkew);
  o.finish();
  if (plan) faults::set_plan(*plan);  // InvalidInputError (400) names the bad clause
  if (skew) ctx.engine().clock().set_skew(*skew);
  ctx.state.log.warning(
      "faults_changed",
      {{"plan", faults::plan_text()}, {"clock_skew_s", ctx.engine().clock().skew()}, {"key", ctx.principal->key_id}});
  return faults_response(ctx);
}
#endif

}  // namespace

void register_admin_routes(RouteTable& t) {
  const std::string P = "/api/v1";
  const std::vector<std::string> consolidation{"consolidation"};
  const std::vector<std::string> admin{"admin"};
  t.add({.method = "GET",
         .path = P + "/consolidation",
         .role = Role::Admin,
         .summary = "Background consolidation status",
         .tags = consolidation,
         .operation_id = "consolidation_status",
         .handler = consolidation_status});
  t.add({.method = "POST",
         .path = P + "/consolidation/start",
         .role = Role::Admin,
         .summary = "Start (or restart) background consolidation of every space",
         .tags = consolidation,
         .operation_id = "start",
         .handler = start,
         .body = BodySchema{"StartConsolidation", start_consolidation_schema()},
         .exec = Exec::Worker,  // joins a running consolidator
         .engine_wide = true});
  t.add({.method = "POST",
         .path = P + "/consolidation/stop",
         .role = Role::Admin,
         .summary = "Stop background consolidation",
         .tags = consolidation,
         .operation_id = "stop",
         .handler = stop,
         .exec = Exec::Worker,  // joins the consolidator thread
         .engine_wide = true});
  t.add({.method = "POST",
         .path = P + "/consolidation/pause",
         .role = Role::Admin,
         .summary = "Pause background consolidation",
         .tags = consolidation,
         .operation_id = "pause",
         .handler = pause,
         .exec = Exec::Worker,  // may wait for a concurrent start/stop
         .engine_wide = true});
  t.add({.method = "POST",
         .path = P + "/consolidation/resume",
         .role = Role::Admin,
         .summary = "Resume background consolidation",
         .tags = consolidation,
         .operation_id = "resume",
         .handler = resume,
         .exec = Exec::Worker,
         .engine_wide = true});
  t.add({.method = "GET",
         .path = P + "/stats",
         .role = Role::Admin,
         .summary = "Engine-wide counters and latency histograms",
         .tags = admin,
         .operation_id = "stats",
         .handler = stats,
         .exec = Exec::Worker});  // reads every space's stats
  t.add({.method = "GET",
         .path = P + "/admin/features",
         .role = Role::Admin,
         .summary = "Feature flags",
         .tags = admin,
         .operation_id = "get_features",
         .handler = get_features});
  t.add({.method = "PUT",
         .path = P + "/admin/features",
         .role = Role::Admin,
         .summary = "Switch feature flags",
         .tags = admin,
         .operation_id = "set_features",
         .handler = set_features,
         .body = BodySchema{"Features", features_schema()},
         .exec = Exec::Worker,  // a durable WAL record
         .engine_wide = true});
#ifdef ENGRAM_FAULT_INJECTION
  t.add({.method = "GET",
         .path = P + "/admin/faults",
         .role = Role::Admin,
         .summary = "The fault plan and clock skew (test build only)",
         .tags = admin,
         .operation_id = "get_faults",
         .handler = get_faults,
         .engine_wide = true});
  t.add({.method = "PUT",
         .path = P + "/admin/faults",
         .role = Role::Admin,
         .summary = "Replace the fault plan and/or set the clock skew (test build only)",
         .tags = admin,
         .operation_id = "set_faults",
         .handler = set_faults,
         .body = BodySchema{"Faults", faults_schema()},
         .engine_wide = true});
#endif
}

}  // namespace engram::server
