// Metrics: histogram placement, monotonic counters, error accounting, Prometheus exposition.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/metrics.hpp"
#include "test_util.hpp"

namespace engram {
namespace {

using test::episode;

constexpr std::size_t kDim = 8;

TEST(Metrics, OpNamesAreDistinctPrometheusIdentifiers) {
  const std::regex ident("[a-z_]+");
  std::set<std::string> names;
  for (std::size_t o = 0; o < kOpCount; ++o) {
    const std::string n = op_name(static_cast<Op>(o));
    EXPECT_TRUE(std::regex_match(n, ident)) << n;
    EXPECT_NE(n, "unknown");
    names.insert(n);
  }
  EXPECT_EQ(names.size(), kOpCount);
}

TEST(Metrics, HistogramBucketsUseUpperInclusiveBounds) {
  LatencyHistogram h;
  h.record(500);             // 0.5 us: first bucket
  h.record(1000);            // exactly 1 us: still the first bucket (le is inclusive)
  h.record(1001);            // just above: second bucket
  h.record(3'000'000);       // 3 ms: the 5 ms bucket
  h.record(20'000'000'000);  // 20 s: beyond every bound, +Inf only
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.buckets[0], 2u);
  EXPECT_EQ(s.buckets[1], 1u);
  const auto idx_5ms =
      static_cast<std::size_t>(std::find(kLatencyBounds.begin(), kLatencyBounds.end(), 5e-3) - kLatencyBounds.begin());
  EXPECT_EQ(s.buckets[idx_5ms], 1u);
  EXPECT_EQ(s.buckets.back(), 1u);
  EXPECT_NEAR(s.sum_seconds, (500 + 1000 + 1001 + 3'000'000 + 20'000'000'000.0) * 1e-9, 1e-12);
  std::uint64_t total = 0;
  for (const auto b : s.buckets) total += b;
  EXPECT_EQ(total, s.count);
  EXPECT_TRUE(std::is_sorted(kLatencyBounds.begin(), kLatencyBounds.end()));
}

TEST(Metrics, DurationExactlyOnEveryBoundLandsInThatBucket) {
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
    LatencyHistogram h;
    h.record(static_cast<std::uint64_t>(std::llround(kLatencyBounds[i] * 1e9)));
    EXPECT_EQ(h.snapshot().buckets[i], 1u) << "bound " << kLatencyBounds[i];
  }
}

TEST(Metrics, OpTimerCountsExceptionsAsErrors) {
  SpaceMetrics m;
  { OpTimer t(m, Op::Link); }
  try {
    OpTimer t(m, Op::Link);
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  // A timer started while another exception unwinds (in a destructor) is not that failure's.
  struct TimesDuringUnwind {
    SpaceMetrics& m;
    ~TimesDuringUnwind() { OpTimer t(m, Op::Unlink); }
  };
  try {
    TimesDuringUnwind guard{m};
    throw std::runtime_error("outer");
  } catch (const std::runtime_error&) {
  }
  const OpSnapshot link = m.snapshot(Op::Link);
  EXPECT_EQ(link.total, 2u);
  EXPECT_EQ(link.errors, 1u);
  EXPECT_EQ(link.latency.count, 2u);
  EXPECT_EQ(m.snapshot(Op::Unlink).total, 1u);
  EXPECT_EQ(m.snapshot(Op::Unlink).errors, 0u);
  EXPECT_EQ(m.snapshot(Op::Search).total, 0u);
}

TEST(Metrics, SpaceCountersMonotonicAndErrorsCounted) {
  Engine engine(EngineConfig{test::small_config(kDim)});
  auto sp = engine.create_space("m");
  const auto v = test::keyed_vector(kDim, 1);
  std::vector<OpSnapshot> last(kOpCount);
  const auto check_monotonic = [&] {
    for (std::size_t o = 0; o < kOpCount; ++o) {
      const OpSnapshot now = sp->metrics().snapshot(static_cast<Op>(o));
      EXPECT_GE(now.total, last[o].total) << op_name(static_cast<Op>(o));
      EXPECT_GE(now.errors, last[o].errors) << op_name(static_cast<Op>(o));
      EXPECT_GE(now.latency.count, last[o].latency.count);
      EXPECT_LE(now.errors, now.total);
      last[o] = now;
    }
  };
  std::vector<std::int64_t> ids;
  for (int round = 0; round < 5; ++round) {
    ids.push_back(sp->remember(episode(v)));
    (void)sp->search(v, 3, std::nullopt);
    (void)sp->get(ids.back());
    check_monotonic();
  }
  EXPECT_EQ(sp->metrics().snapshot(Op::Remember).total, 5u);
  EXPECT_EQ(sp->metrics().snapshot(Op::Remember).errors, 0u);
  EXPECT_EQ(sp->metrics().snapshot(Op::Search).total, 5u);
  EXPECT_EQ(sp->metrics().snapshot(Op::Get).total, 5u);

  // Failures count in both total and errors, for the operation that failed.
  const std::vector<float> wrong(kDim + 1, 1.0f);
  EXPECT_THROW(sp->remember(episode(wrong)), DimensionError);
  EXPECT_THROW(sp->get(ids.back() + 100), MemoryNotFound);
  EXPECT_THROW(sp->search(v, 0, std::nullopt), InvalidInputError);
  EXPECT_THROW(sp->forget(0), MemoryNotFound);
  std::vector<EpisodeInput> bad_batch = {episode(v), episode(wrong)};
  EXPECT_THROW(sp->remember_batch(bad_batch), DimensionError);
  check_monotonic();
  for (const Op op : {Op::Remember, Op::Get, Op::Search, Op::Forget, Op::RememberBatch}) {
    EXPECT_EQ(sp->metrics().snapshot(op).errors, 1u) << op_name(op);
  }
  EXPECT_EQ(sp->metrics().snapshot(Op::Remember).total, 6u);
  sp->forget(ids[0]);
  check_monotonic();
  EXPECT_EQ(sp->metrics().snapshot(Op::Forget).total, 2u);
  EXPECT_EQ(sp->metrics().snapshot(Op::Forget).errors, 1u);
}

TEST(Metrics, PrometheusEscape) {
  EXPECT_EQ(prometheus_escape("plain"), "plain");
  EXPECT_EQ(prometheus_escape("a\"b"), "a\\\"b");
  EXPECT_EQ(prometheus_escape("a\\b"), "a\\\\b");
  EXPECT_EQ(prometheus_escape("a\nb"), "a\\nb");
}

// A sample of the text exposition format.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses `name{k="v",...} value` strictly; throws on anything else.
Sample parse_sample(const std::string& line) {
  static const std::regex name_re("^([a-zA-Z_:][a-zA-Z0-9_:]*)");
  std::smatch m;
  if (!std::regex_search(line, m, name_re)) throw std::runtime_error("no metric name");
  Sample s;
  s.name = m[1];
  std::size_t i = s.name.size();
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      const std::size_t eq = line.find('=', i);
      if (eq == std::string::npos) throw std::runtime_error("label without '='");
      const std::string key = line.substr(i, eq - i);
      if (!std::regex_match(key, std::regex("[a-zA-Z_][a-zA-Z0-9_]*"))) throw std::runtime_error("bad label " + key);
      i = eq + 1;
      if (i >= line.size() || line[i] != '"') throw std::runtime_error("unquoted label value");
      ++i;
      std::string value;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') {
          ++i;
          if (i >= line.size()) throw std::runtime_error("dangling escape");
          value += line[i] == 'n' ? '\n' : line[i];
        } else {
          value += line[i];
        }
        ++i;
      }
      if (i >= line.size()) throw std::runtime_error("unterminated label value");
      ++i;
      if (!s.labels.emplace(key, value).second) throw std::runtime_error("duplicate label " + key);
      if (i < line.size() && line[i] == ',') ++i;
    }
  }
  if (i >= line.size() || line[i] != ' ') throw std::runtime_error("no space before value");
  const std::string num = line.substr(i + 1);
  std::size_t used = 0;
  if (num == "+Inf" || num == "-Inf" || num == "NaN") {
    s.value = num == "NaN" ? std::numeric_limits<double>::quiet_NaN()
                           : (num[0] == '+' ? 1 : -1) * std::numeric_limits<double>::infinity();
  } else {
    s.value = std::stod(num, &used);
    if (used != num.size()) throw std::runtime_error("trailing characters after value");
  }
  return s;
}

double parse_le(const std::string& le) {
  if (le == "+Inf") return std::numeric_limits<double>::infinity();
  std::size_t used = 0;
  const double v = std::stod(le, &used);
  if (used != le.size()) throw std::runtime_error("bad le " + le);
  return v;
}

std::string labels_without_le(const Sample& s) {
  std::string key;
  for (const auto& [k, v] : s.labels) {
    if (k != "le") key += k + "=" + v + ";";
  }
  return key;
}

TEST(Metrics, PrometheusTextParses) {
  Engine engine(EngineConfig{test::small_config(kDim)});
  auto a = engine.create_space("alpha");
  auto b = engine.create_space("beta.2");
  const auto v = test::keyed_vector(kDim, 1);
  for (int i = 0; i < 20; ++i) a->remember(episode(v, "x"));
  for (int i = 0; i < 7; ++i) (void)a->search(v, 5, std::nullopt);
  EXPECT_THROW(b->get(1), MemoryNotFound);

  const std::string text = engine.prometheus();
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::istringstream in(text);
  std::string line;
  std::map<std::string, std::string> types;  // family -> type, from # TYPE lines
  std::vector<Sample> samples;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    ASSERT_FALSE(line.empty()) << "blank line " << lineno;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string family, type;
      t >> family >> type;
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      EXPECT_TRUE(types.emplace(family, type).second) << "family typed twice: " << family;
      continue;
    }
    ASSERT_NE(line[0], '#') << "unknown comment line " << lineno << ": " << line;
    Sample s;
    try {
      s = parse_sample(line);
    } catch (const std::exception& e) {
      FAIL() << "line " << lineno << " '" << line << "': " << e.what();
    }
    // Every sample belongs to a family declared before it.
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string suf = suffix;
      if (!types.count(family) && family.size() > suf.size() &&
          family.compare(family.size() - suf.size(), suf.size(), suf) == 0) {
        family = family.substr(0, family.size() - suf.size());
      }
    }
    ASSERT_TRUE(types.count(family)) << "sample before its # TYPE: " << line;
    EXPECT_FALSE(std::isnan(s.value)) << line;
    if (types[family] == "counter") EXPECT_GE(s.value, 0.0) << line;
    samples.push_back(std::move(s));
  }

  // Histograms: per label set, le strictly increasing, counts cumulative, +Inf == _count.
  std::map<std::string, std::vector<std::pair<double, double>>> buckets;
  std::map<std::string, double> counts;
  std::map<std::string, double> ops;
  for (const Sample& s : samples) {
    if (s.name == "engram_operation_duration_seconds_bucket") {
      ASSERT_TRUE(s.labels.count("le")) << "bucket without le";
      buckets[labels_without_le(s)].emplace_back(parse_le(s.labels.at("le")), s.value);
    } else if (s.name == "engram_operation_duration_seconds_count") {
      counts[labels_without_le(s)] = s.value;
    } else if (s.name == "engram_operations_total") {
      ops[labels_without_le(s)] = s.value;
    }
  }
  ASSERT_EQ(buckets.size(), 2 * kOpCount);
  for (const auto& [key, list] : buckets) {
    ASSERT_EQ(list.size(), kLatencyBounds.size() + 1) << key;
    for (std::size_t i = 1; i < list.size(); ++i) {
      EXPECT_LT(list[i - 1].first, list[i].first) << key;
      EXPECT_LE(list[i - 1].second, list[i].second) << key << " bucket " << i << " not cumulative";
    }
    EXPECT_TRUE(std::isinf(list.back().first)) << key;
    ASSERT_TRUE(counts.count(key)) << key;
    EXPECT_EQ(list.back().second, counts[key]) << key;
    // With nothing running, the histogram saw exactly the operations counted.
    EXPECT_EQ(counts[key], ops[key]) << key;
  }
  // The figures are the ones recorded.
  EXPECT_EQ(ops["op=remember;space=alpha;"], 20.0);
  EXPECT_EQ(ops["op=search;space=alpha;"], 7.0);
  EXPECT_EQ(ops["op=get;space=beta.2;"], 1.0);
  bool saw_errors = false, saw_memories = false, saw_spaces = false;
  for (const Sample& s : samples) {
    if (s.name == "engram_operation_errors_total" && s.labels.at("space") == "beta.2" && s.labels.at("op") == "get") {
      saw_errors = true;
      EXPECT_EQ(s.value, 1.0);
    }
    if (s.name == "engram_memories_total" && s.labels.at("space") == "alpha" && s.labels.at("kind") == "episode") {
      saw_memories = true;
      EXPECT_EQ(s.value, 20.0);
    }
    if (s.name == "engram_spaces") {
      saw_spaces = true;
      EXPECT_EQ(s.value, 2.0);
    }
  }
  EXPECT_TRUE(saw_errors && saw_memories && saw_spaces);

  // Counters never go backwards between scrapes.
  for (int i = 0; i < 3; ++i) a->remember(episode(v));
  const std::string later = engine.prometheus();
  std::istringstream in2(later);
  while (std::getline(in2, line)) {
    if (line[0] == '#') continue;
    const Sample s = parse_sample(line);
    if (s.name == "engram_operations_total") EXPECT_GE(s.value, ops[labels_without_le(s)]) << line;
    if (s.name == "engram_operations_total" && labels_without_le(s) == "op=remember;space=alpha;") {
      EXPECT_EQ(s.value, 23.0);
    }
  }
}

}  // namespace
}  // namespace engram
