// Every configuration number is validated (issue 13, defect 12): engine and space settings,
// store options, the WAL's timers and the clock refuse NaN, infinities and out-of-range values
// with InvalidInputError naming the field, the value and the range.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "store_test_util.hpp"

namespace engram {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

void expect_refused(const std::function<void()>& f, const std::string& field, const std::string& value) {
  try {
    f();
    ADD_FAILURE() << field << " = " << value << " was accepted";
  } catch (const InvalidInputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(field), std::string::npos) << m;
    EXPECT_NE(m.find(value), std::string::npos) << m;
    EXPECT_NE(m.find("between"), std::string::npos) << m;  // the valid range is stated
  }
}

TEST(ConfigValidation, EngineAndSpaceSettings) {
  const auto engine_with = [](const std::function<void(EngineConfig&)>& set) {
    return [set] {
      EngineConfig c;
      set(c);
      Engine e(c);
    };
  };
  expect_refused(engine_with([](EngineConfig& c) { c.space.dim = 0; }), "dim", "0");
  expect_refused(engine_with([](EngineConfig& c) { c.space.hnsw.M = 1000; }), "M", "1000");
  expect_refused(engine_with([](EngineConfig& c) { c.space.hnsw.ef_search = 0; }), "ef_search", "0");
  expect_refused(engine_with([](EngineConfig& c) { c.space.max_memories = 0; }), "max_memories", "0");
  // Beyond 2^40 - 1 a local id would spill into the space ordinal's bits.
  expect_refused(engine_with([](EngineConfig& c) { c.space.max_memories = std::size_t{1} << 41; }), "max_memories",
                 std::to_string(std::size_t{1} << 41));
  expect_refused(engine_with([](EngineConfig& c) { c.space.max_k = 0; }), "max_k", "0");
  expect_refused(engine_with([](EngineConfig& c) { c.space.max_content_bytes = std::size_t{1} << 40; }),
                 "max_content_bytes", std::to_string(std::size_t{1} << 40));
  expect_refused(engine_with([](EngineConfig& c) { c.max_spaces = 0; }), "max_spaces", "0");
  expect_refused(engine_with([](EngineConfig& c) { c.idempotency_capacity = 0; }), "idempotency_capacity", "0");
  // A per-space config passed to create_space is checked too.
  Engine eng(EngineConfig{});
  SpaceConfig sc = test::small_config(4);
  sc.max_k = 0;
  expect_refused([&] { eng.create_space("a", sc); }, "max_k", "0");
  EXPECT_TRUE(eng.space_names().empty());
}

TEST(ConfigValidation, StoreOptionsAndWalTimers) {
  test::ScratchDir dir("cfg");
  const auto open_with = [&](const std::function<void(StoreOptions&)>& set) {
    return [&, set] {
      EngineConfig c;
      c.space = test::small_config(4);
      Engine e(c);
      StoreOptions o = test::store_options(dir.path() + "/s");
      set(o);
      e.open_store(o);
    };
  };
  for (const double bad : {kNaN, -1.0, 0.0, kInf, 1e9}) {
    expect_refused(open_with([bad](StoreOptions& o) { o.flush_interval_s = bad; }), "flush_interval_s",
                   bad == 1e9        ? "1e+09"
                   : std::isnan(bad) ? "nan"
                   : bad == kInf     ? "inf"
                   : bad < 0         ? "-1"
                                     : "0");
  }
  for (const double bad : {kNaN, -5.0, kInf, 0.001}) {
    expect_refused(open_with([bad](StoreOptions& o) { o.checkpoint_interval_s = bad; }), "checkpoint_interval_s",
                   std::isnan(bad) ? "nan"
                   : bad == kInf   ? "inf"
                   : bad < 0       ? "-5"
                                   : "0.001");
  }
  expect_refused(open_with([](StoreOptions& o) { o.segment_bytes = 100; }), "segment_bytes", "100");
  // Nothing was created by the refused opens; valid settings open.
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/s"));
  open_with([](StoreOptions& o) { o.checkpoint_interval_s = 0; })();
  WalOptions w;
  w.flush_interval_s = kNaN;
  expect_refused([&] { Wal wal(Env::posix(), dir.path() + "/w", w, 1); }, "flush_interval_s", "nan");
  w.flush_interval_s = 0.05;
  w.group_window_s = -1;
  expect_refused([&] { Wal wal(Env::posix(), dir.path() + "/w", w, 1); }, "group_window_s", "-1");
}

TEST(ConfigValidation, ClockRefusesNonFiniteTimes) {
  Clock c;
  EXPECT_THROW(c.set(kNaN), InvalidInputError);
  EXPECT_THROW(c.set(kInf), InvalidInputError);
  EXPECT_FALSE(c.is_manual());  // a refused set changes nothing
  c.set(100.0);
  EXPECT_THROW(c.advance(kNaN), InvalidInputError);
  EXPECT_THROW(c.advance(-kInf), InvalidInputError);
  EXPECT_DOUBLE_EQ(c.now(), 100.0);
  c.advance(5.0);
  EXPECT_DOUBLE_EQ(c.now(), 105.0);
}

}  // namespace
}  // namespace engram
