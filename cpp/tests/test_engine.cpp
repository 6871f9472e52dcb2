// Engine: the registry of spaces, its errors, and close().
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "test_util.hpp"

namespace engram {
namespace {

using test::episode;

constexpr std::size_t kDim = 8;

EngineConfig config(std::size_t max_spaces = 4096) { return EngineConfig{test::small_config(kDim), max_spaces}; }

TEST(Engine, CreateListDrop) {
  Engine engine(config());
  EXPECT_TRUE(engine.space_names().empty());
  auto b = engine.create_space("beta");
  auto a = engine.create_space("alpha");
  EXPECT_EQ(engine.space_names(), (std::vector<std::string>{"alpha", "beta"}));  // sorted
  EXPECT_EQ(engine.spaces().size(), 2u);
  EXPECT_EQ(engine.space("alpha"), a);  // the same object, not a copy
  EXPECT_EQ(a->name(), "alpha");
  EXPECT_EQ(a->dim(), kDim);
  EXPECT_NE(a->ordinal(), b->ordinal());
  engine.drop_space("beta");
  EXPECT_EQ(engine.space_names(), (std::vector<std::string>{"alpha"}));
  EXPECT_TRUE(b->dropped());
  EXPECT_FALSE(a->dropped());
}

TEST(Engine, SpaceExists) {
  Engine engine(config());
  auto first = engine.create_space("dup");
  const auto v = test::keyed_vector(kDim, 1);
  const std::int64_t id = first->remember(episode(v));
  EXPECT_THROW(engine.create_space("dup"), SpaceExists);
  // The failed create left the original untouched.
  EXPECT_EQ(engine.space("dup"), first);
  EXPECT_TRUE(first->contains(id));
}

TEST(Engine, SpaceNotFound) {
  Engine engine(config());
  EXPECT_THROW(engine.space("nope"), SpaceNotFound);
  EXPECT_THROW(engine.drop_space("nope"), SpaceNotFound);
  engine.create_space("once");
  engine.drop_space("once");
  EXPECT_THROW(engine.space("once"), SpaceNotFound);
  EXPECT_THROW(engine.drop_space("once"), SpaceNotFound);
  try {
    engine.space("missing-space");
    FAIL();
  } catch (const SpaceNotFound& e) {
    EXPECT_NE(std::string(e.what()).find("missing-space"), std::string::npos) << e.what();
  }
}

TEST(Engine, HandleOfDroppedSpaceRaises) {
  Engine engine(config());
  auto sp = engine.create_space("gone");
  const auto v = test::keyed_vector(kDim, 1);
  const std::int64_t id = sp->remember(episode(v));
  engine.drop_space("gone");
  EXPECT_THROW(sp->remember(episode(v)), SpaceNotFound);
  EXPECT_THROW(sp->get(id), SpaceNotFound);
  EXPECT_THROW(sp->search(v, 1, std::nullopt), SpaceNotFound);
  EXPECT_THROW(sp->forget(id), SpaceNotFound);
  EXPECT_THROW(sp->stats(), SpaceNotFound);
  // A new space of the same name is a different space: the old handle stays dead.
  auto again = engine.create_space("gone");
  EXPECT_NE(again, sp);
  EXPECT_TRUE(again->search(v, 1, std::nullopt).empty());
  EXPECT_THROW(sp->get(id), SpaceNotFound);
  EXPECT_FALSE(again->contains(id));
}

TEST(Engine, InvalidNamesRejected) {
  Engine engine(config());
  for (const std::string bad : {std::string(), std::string(65, 'n'), std::string("has space"),
                                std::string("slash/name"), std::string("quote\"")}) {
    EXPECT_THROW(engine.create_space(bad), InvalidInputError) << bad;
  }
  EXPECT_NO_THROW(engine.create_space(std::string(64, 'n')));
  EXPECT_EQ(engine.space_names().size(), 1u);
}

TEST(Engine, SpaceLimit) {
  Engine engine(config(3));
  engine.create_space("s1");
  engine.create_space("s2");
  engine.create_space("s3");
  EXPECT_THROW(engine.create_space("s4"), CapacityError);
  engine.drop_space("s1");
  EXPECT_NO_THROW(engine.create_space("s4"));  // a drop frees a place
}

TEST(Engine, PerSpaceConfigOverridesDefaults) {
  Engine engine(config());
  SpaceConfig wide = test::small_config(24);
  auto sp = engine.create_space("wide", wide);
  EXPECT_EQ(sp->dim(), 24u);
  EXPECT_EQ(engine.create_space("default")->dim(), kDim);
  const auto v = test::keyed_vector(kDim, 3);
  EXPECT_THROW(sp->remember(episode(v)), DimensionError);
  SpaceConfig bad = test::small_config(0);
  EXPECT_THROW(engine.create_space("bad", bad), InvalidInputError);
  EXPECT_THROW(engine.space("bad"), SpaceNotFound);  // a failed create registers nothing
}

TEST(Engine, InvalidEngineConfig) {
  EngineConfig c = config();
  c.space.dim = 0;
  EXPECT_THROW(Engine{c}, InvalidInputError);
}

TEST(Engine, SharedClockStampsMemories) {
  Engine engine(config());
  engine.clock().set(1234.0);
  auto sp = engine.create_space("clocked");
  const auto v = test::keyed_vector(kDim, 1);
  EXPECT_DOUBLE_EQ(sp->get(sp->remember(episode(v))).timestamp, 1234.0);
  engine.clock().advance(10.0);
  EXPECT_DOUBLE_EQ(sp->get(sp->remember(episode(v))).timestamp, 1244.0);
}

TEST(Engine, Close) {
  auto engine = std::make_unique<Engine>(config());
  auto sp = engine->create_space("open");
  const auto v = test::keyed_vector(kDim, 1);
  const std::int64_t id = sp->remember(episode(v));
  EXPECT_FALSE(engine->closed());
  engine->close();
  EXPECT_TRUE(engine->closed());
  EXPECT_THROW(engine->create_space("later"), ClosedError);
  EXPECT_THROW(engine->space("open"), ClosedError);
  EXPECT_THROW(engine->space_names(), ClosedError);
  EXPECT_THROW(engine->drop_space("open"), ClosedError);
  EXPECT_TRUE(engine->spaces().empty());
  // Handles taken before close are dead.
  EXPECT_TRUE(sp->dropped());
  EXPECT_THROW(sp->get(id), SpaceNotFound);
  EXPECT_NO_THROW(engine->close());          // idempotent
  engine.reset();                            // the destructor closes again, harmlessly
  EXPECT_THROW(sp->get(id), SpaceNotFound);  // the handle outlives its engine safely
}

TEST(Engine, DestructorDropsSpaces) {
  std::shared_ptr<Space> sp;
  {
    Engine engine(config());
    sp = engine.create_space("scoped");
  }
  EXPECT_TRUE(sp->dropped());
}

}  // namespace
}  // namespace engram
