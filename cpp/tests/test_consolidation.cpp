// Consolidation, concepts, recall and completion at the C++ level, including the concurrency
// stress of the background consolidator with writers (run under TSan in CI).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <stop_token>
#include <thread>

#include "engram/completion.hpp"
#include "engram/consolidation.hpp"
#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/recall.hpp"
#include "test_util.hpp"

namespace engram {
namespace {

using test::clustered;
using test::episode;
using test::make_space;

ConsolidationParams uncapped() {
  ConsolidationParams p;
  p.max_concepts_per_run = 1000;
  p.max_formations_per_hour = 0;
  return p;
}

// Every concept's member list equals its binding in-edges, each also in the episode's out-list.
void expect_two_sided(const Space& sp) {
  for (const ConceptView& c : sp.concept_store().all()) {
    std::vector<std::int64_t> bound;
    for (const Edge& e : sp.graph().in_edges(c.id)) {
      if (e.kind == EdgeKind::Binding) bound.push_back(e.other);
    }
    EXPECT_EQ(bound, c.members);
    for (const std::int64_t m : c.members) {
      const auto e = sp.graph().edge(m, c.id);
      ASSERT_TRUE(e.has_value());
      EXPECT_EQ(e->kind, EdgeKind::Binding);
    }
  }
  const IntegrityReport r = sp.validate();
  EXPECT_TRUE(r.ok()) << "orphans " << r.orphaned_concepts << " one-sided " << r.one_sided_bindings << " missing "
                      << r.edges_to_missing << " mismatches " << r.record_index_mismatches;
}

TEST(Consolidation, FormsOneConceptPerCluster) {
  auto sp = make_space(24);
  const auto pts = clustered(24, 4, 10, 0.2f, 5);
  for (const auto& p : pts) sp->remember(episode(p));
  const ConsolidationReport r = consolidate(*sp, uncapped());
  EXPECT_EQ(r.concepts_formed, 4u);
  EXPECT_EQ(r.episodes_bound, 40u);
  EXPECT_EQ(sp->stats().concepts, 4u);
  EXPECT_EQ(sp->size(), 40u);  // size() counts episodes
  for (const ConceptView& c : sp->concept_store().all()) {
    EXPECT_EQ(c.members.size(), 10u);
    EXPECT_GE(c.coherence, 0.65f);
    EXPECT_EQ(sp->get(c.id).kind, MemoryKind::Concept);
  }
  expect_two_sided(*sp);
  const ConsolidationReport again = consolidate(*sp, uncapped());
  EXPECT_EQ(again.concepts_formed + again.concepts_updated + again.episodes_bound, 0u);
}

// A requested stop ends a run before anything half-done is kept; the next run does it all.
// exact_below 8 sends the 120 episodes through the candidate-pair path (components()).
TEST(Consolidation, AStoppedRunCommitsNothingHalfDoneAndTheNextRunCompletesIt) {
  const auto pts = clustered(24, 6, 20, 0.2f, 11);
  ConsolidationParams p = uncapped();
  p.exact_below = 8;
  auto reference = make_space(24);
  for (const auto& v : pts) reference->remember(episode(v));
  const ConsolidationReport full = consolidate(*reference, p);
  ASSERT_EQ(full.concepts_formed, 6u);
  EXPECT_FALSE(full.stopped);

  auto sp = make_space(24);
  for (const auto& v : pts) sp->remember(episode(v));
  std::stop_source stop;
  stop.request_stop();
  ConsolidationParams stopped = p;
  stopped.stop = stop.get_token();
  const ConsolidationReport cut = consolidate(*sp, stopped);
  EXPECT_TRUE(cut.stopped);
  EXPECT_EQ(cut.concepts_formed + cut.episodes_bound, 0u);
  EXPECT_EQ(sp->stats().concepts, 0u);
  expect_two_sided(*sp);

  const ConsolidationReport next = consolidate(*sp, p);
  EXPECT_FALSE(next.stopped);
  EXPECT_EQ(next.concepts_formed, full.concepts_formed);
  EXPECT_EQ(next.episodes_bound, full.episodes_bound);
  EXPECT_EQ(sp->stats().concepts, 6u);
  expect_two_sided(*sp);
}

// A stop from another thread at any moment of a run leaves a whole state: what the run
// committed is two-sided, and a later run forms every remaining concept.
TEST(Consolidation, AStopAtAnyMomentLeavesAWholeState) {
  const auto pts = clustered(24, 12, 20, 0.2f, 17);
  ConsolidationParams p = uncapped();
  p.exact_below = 8;
  p.max_concepts_per_run = 2;  // several rounds, so a stop can fall between them
  for (const int delay_us : {0, 50, 200, 1000, 5000}) {
    auto sp = make_space(24);
    for (const auto& v : pts) sp->remember(episode(v));
    std::stop_source stop;
    ConsolidationParams q = p;
    q.stop = stop.get_token();
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
      stop.request_stop();
    });
    const ConsolidationReport cut = consolidate(*sp, q);
    stopper.join();
    EXPECT_EQ(sp->stats().concepts, cut.concepts_formed) << "delay " << delay_us;
    expect_two_sided(*sp);
    ConsolidationParams rest = uncapped();
    rest.exact_below = 8;
    consolidate(*sp, rest);
    EXPECT_EQ(sp->stats().concepts, 12u) << "delay " << delay_us;
    expect_two_sided(*sp);
  }
}

TEST(Consolidation, BothSimilarityKernelsFormTheSameConcepts) {
  const auto pts = clustered(24, 6, 30, 0.35f, 41);
  std::vector<std::vector<std::vector<std::int64_t>>> concepts;
  for (const SimilarityKernel k : {SimilarityKernel::Gemm, SimilarityKernel::Pairwise}) {
    for (const std::size_t exact_below : {512u, 16u}) {  // one block, and graph components
      auto sp = make_space(24);
      for (const auto& p : pts) sp->remember(episode(p));
      ConsolidationParams p = uncapped();
      p.kernel = k;
      p.exact_below = exact_below;
      consolidate(*sp, p);
      std::vector<std::vector<std::int64_t>> members;
      for (const ConceptView& c : sp->concept_store().all()) members.push_back(c.members);
      std::sort(members.begin(), members.end());
      concepts.push_back(std::move(members));
    }
  }
  EXPECT_EQ(concepts[0].size(), 6u);
  EXPECT_EQ(concepts[0], concepts[2]);  // one block: Gemm vs Pairwise
  EXPECT_EQ(concepts[1], concepts[3]);  // components: Gemm vs Pairwise
}

TEST(Consolidation, ForgettingAConceptRemovesItsBindings) {
  auto sp = make_space(16);
  for (const auto& p : clustered(16, 1, 6, 0.2f, 9)) sp->remember(episode(p));
  consolidate(*sp, uncapped());
  const auto ids = sp->concept_store().ids();
  ASSERT_EQ(ids.size(), 1u);
  sp->forget(ids[0]);
  EXPECT_EQ(sp->stats().concepts, 0u);
  EXPECT_EQ(sp->size(), 6u);
  EXPECT_EQ(sp->graph().edge_count(), 0u);
  EXPECT_TRUE(sp->validate().ok());
}

TEST(Consolidation, ConceptQueriesCheckTheKindOfTheId) {
  auto sp = make_space(16);
  for (const auto& p : clustered(16, 1, 6, 0.2f, 9)) sp->remember(episode(p));
  consolidate(*sp, uncapped());
  const std::vector<ConceptView> concepts = sp->concepts();
  ASSERT_EQ(concepts.size(), 1u);
  const ConceptView& c = concepts[0];
  EXPECT_EQ(sp->concept_members(c.id), c.members);
  ASSERT_EQ(c.members.size(), 6u);
  EXPECT_EQ(sp->episode_concepts(c.members[0]), std::vector<std::int64_t>{c.id});
  EXPECT_THROW(sp->concept_members(c.members[0]), InvalidInputError);  // an episode, not a concept
  EXPECT_THROW(sp->episode_concepts(c.id), MemoryNotFound);            // a concept, not an episode
  EXPECT_THROW(sp->concept_members(c.id + 1000), MemoryNotFound);
  EXPECT_THROW(sp->episode_concepts(-1), MemoryNotFound);
  sp->forget(c.id);
  EXPECT_TRUE(sp->concepts().empty());
  EXPECT_THROW(sp->concept_members(c.id), MemoryNotFound);
}

TEST(Recall, BlendedReturnsConceptsAndFallsBack) {
  auto sp = make_space(24);
  const auto pts = clustered(24, 3, 12, 0.2f, 21);
  for (const auto& p : pts) sp->remember(episode(p));
  RecallParams rp;
  rp.k = 10;
  for (const Recollection& r : recall(*sp, pts[0], rp)) EXPECT_EQ(r.provenance, Provenance::Episodic);
  consolidate(*sp, uncapped());
  bool concept_seen = false, blended_seen = false;
  for (const Recollection& r : recall(*sp, pts[0], rp)) {
    concept_seen = concept_seen || r.kind == MemoryKind::Concept;
    blended_seen = blended_seen || r.provenance == Provenance::Blended;
    EXPECT_GT(r.score, 0.0f);
    EXPECT_LE(r.score, 1.0f);
    EXPECT_LE(r.confidence, 1.0f);
  }
  EXPECT_TRUE(concept_seen);
  EXPECT_TRUE(blended_seen);
}

TEST(Completion, FillsUnknownDimensionsFromTheCluster) {
  auto sp = make_space(32);
  const auto pts = clustered(32, 4, 20, 0.3f, 33);
  for (std::size_t i = 1; i < pts.size(); ++i) sp->remember(episode(pts[i]));
  std::vector<std::uint8_t> mask(32, 0);
  for (std::size_t i = 0; i < 32; i += 2) mask[i] = 1;
  const Completion c = complete(*sp, pts[0], mask);
  ASSERT_EQ(c.alternatives.size(), 3u);
  // The reconstruction of the held-out point is closer to it than a random other point.
  double err = 0, base = 0;
  for (std::size_t i = 1; i < 32; i += 2) {
    err += (c.vector[i] - pts[0][i]) * (c.vector[i] - pts[0][i]);
    base += pts[0][i] * pts[0][i];
  }
  EXPECT_LT(err, 0.2 * base);
  EXPECT_GT(c.confidence, 0.5f);
}

// Writers (remember + forget), readers (recall) and a fast background consolidator on the
// same space: nothing throws, and afterwards every binding is two-sided and every concept is
// consistent with its records.
TEST(ConcurrencyConsolidation, BackgroundConsolidatorWithWritersAndReaders) {
  EngineConfig cfg;
  cfg.space = test::small_config(16);
  Engine eng(cfg);
  auto sp = eng.create_space("stress");
  ConsolidationParams p = uncapped();
  eng.start_consolidation(0.002, p);
  const auto centres = clustered(16, 5, 1, 0.0f, 77);
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < 3; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(w + 1);
      std::normal_distribution<float> noise(0.0f, 0.2f);
      try {
        for (int i = 0; i < 400; ++i) {
          std::vector<float> v = centres[rng() % centres.size()];
          for (float& x : v) x += noise(rng);
          const std::int64_t id = sp->remember(episode(v));
          if (i % 40 == 3) sp->forget(id);
        }
      } catch (...) {
        failed = true;
      }
    });
  }
  threads.emplace_back([&] {
    RecallParams rp;
    try {
      for (int i = 0; i < 300; ++i) {
        recall(*sp, centres[i % centres.size()], rp);
        std::vector<std::uint8_t> mask(16, 1);
        mask[0] = 0;
        complete(*sp, centres[i % centres.size()], mask);
      }
    } catch (...) {
      failed = true;
    }
  });
  threads.emplace_back([&] {  // introspection and pause/resume while everything runs
    try {
      for (int i = 0; i < 100; ++i) {
        for (const std::int64_t c : sp->concept_store().ids()) sp->concept_store().members(c);
        if (i % 10 == 0) eng.pause_consolidation();
        if (i % 10 == 5) eng.resume_consolidation();
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      eng.resume_consolidation();
    } catch (...) {
      failed = true;
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_FALSE(failed.load());
  // The workers may finish before the thread completes a cycle on a loaded machine (it was
  // paused half the time): give it up to 30 s, resumed, to show it runs at all.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (eng.consolidation_status().cycles == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(eng.consolidation_status().cycles, 0u);
  eng.stop_consolidation();
  EXPECT_EQ(eng.consolidation_status().state, ConsolidatorState::Stopped);
  consolidate(*sp, p);
  expect_two_sided(*sp);
  EXPECT_GE(sp->stats().concepts, 1u);
  // Every member is a live episode and belongs to exactly one concept.
  std::set<std::int64_t> seen;
  for (const ConceptView& c : sp->concept_store().all()) {
    for (const std::int64_t m : c.members) {
      EXPECT_EQ(sp->live_kind(m), MemoryKind::Episode);
      EXPECT_TRUE(seen.insert(m).second);
    }
  }
}

TEST(ConcurrencyConsolidation, CloseWhileConsolidating) {
  EngineConfig cfg;
  cfg.space = test::small_config(16);
  auto eng = std::make_unique<Engine>(cfg);
  auto sp = eng->create_space("s");
  for (const auto& p : clustered(16, 10, 60, 0.2f, 3)) sp->remember(episode(p));
  eng->start_consolidation(0.001, uncapped());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  eng->close();  // stops and joins the consolidator before dropping spaces
  EXPECT_THROW(sp->stats(), SpaceNotFound);
  eng.reset();
}

// close() stops a background run inside the space, at its next block, rather than waiting for
// the whole run (the 1-hour latency-budget run found a close waiting 10 minutes on one).
TEST(ConcurrencyConsolidation, CloseDoesNotWaitForAWholeRun) {
  const auto pts = clustered(64, 1000, 12, 0.2f, 5);
  ConsolidationParams p = uncapped();
  p.exact_below = 8;
  p.parallel = false;
  double whole_s = 0.0;
  {
    auto sp = make_space(64);
    for (const auto& v : pts) sp->remember(episode(v));
    whole_s = consolidate(*sp, p).duration_s;
  }
  EngineConfig cfg;
  cfg.space = test::small_config(64);
  auto eng = std::make_unique<Engine>(cfg);
  auto sp = eng->create_space("s");
  for (const auto& v : pts) sp->remember(episode(v));
  eng->start_consolidation(0.001, p);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the first run is under way
  const auto t0 = std::chrono::steady_clock::now();
  eng->close();
  const double close_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(close_s, 0.5 * whole_s) << "a whole run takes " << whole_s << " s";
}

}  // namespace
}  // namespace engram
