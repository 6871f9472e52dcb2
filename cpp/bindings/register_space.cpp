// The Space class: memories, search, statistics, integrity and per-operation metrics, with
// the value types they return. engram/engine.py wraps it. Every engine call releases the GIL.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "convert.hpp"
#include "engram/errors.hpp"
#include "engram/metrics.hpp"
#include "engram/space.hpp"
#include "engram/validation.hpp"
#include "register.hpp"

namespace engram::bind {

namespace {

// Counts an operation whose arguments were refused here, before the engine saw it, as an
// error of that operation (the engine counts everything after). Dismissed once the call is
// handed to the engine. Recording is thread-safe (atomics), hence the const_cast.
class ArgumentErrorCounter {
 public:
  ArgumentErrorCounter(const Space& sp, Op op) noexcept
      : metrics_(const_cast<SpaceMetrics&>(sp.metrics())), op_(op), exceptions_(std::uncaught_exceptions()) {}
  ~ArgumentErrorCounter() {
    if (armed_ && std::uncaught_exceptions() > exceptions_) metrics_.record(op_, 0, false);
  }
  ArgumentErrorCounter(const ArgumentErrorCounter&) = delete;
  ArgumentErrorCounter& operator=(const ArgumentErrorCounter&) = delete;
  void dismiss() noexcept { armed_ = false; }

 private:
  SpaceMetrics& metrics_;
  Op op_;
  int exceptions_;
  bool armed_ = true;
};

// (ids, similarities) as two NumPy arrays: the public search API.
using Hits = py::typing::Tuple<py::array_t<std::int64_t>, py::array_t<float>>;

Hits hits_tuple(const std::vector<SearchHit>& hits) {
  py::array_t<std::int64_t> ids(static_cast<py::ssize_t>(hits.size()));
  py::array_t<float> scores(static_cast<py::ssize_t>(hits.size()));
  auto id = ids.mutable_unchecked<1>();
  auto sc = scores.mutable_unchecked<1>();
  for (std::size_t i = 0; i < hits.size(); ++i) {
    id(static_cast<py::ssize_t>(i)) = hits[i].id;
    sc(static_cast<py::ssize_t>(i)) = hits[i].similarity;
  }
  return Hits(py::make_tuple(ids, scores));
}

// One operation's counters, with its name (metrics.hpp's OpSnapshot carries none).
struct OperationMetrics {
  std::string op;
  OpSnapshot snapshot;
};

void register_values(py::module_& m) {
  py::class_<MemoryView>(m, "MemoryView", "One memory copied out of the engine (Space.get).")
      .def_readonly("id", &MemoryView::id)
      .def_property_readonly(
          "kind", [](const MemoryView& v) { return std::string(kind_name(v.kind)); }, "'episode' or 'concept'.")
      .def_property_readonly(
          "embedding", [](const MemoryView& v) { return to_numpy(v.embedding); },
          "The stored float32 embedding (a new array on each read).")
      .def_property_readonly(
          "content", [](const MemoryView& v) { return py::str(v.content); }, "The content as text.")
      .def_readonly("confidence", &MemoryView::confidence)
      .def_readonly("timestamp", &MemoryView::timestamp, "Seconds since the Unix epoch.")
      .def_property_readonly(
          "metadata", [](const MemoryView& v) { return metadata_dict(v.metadata); },
          "The metadata as a new dict on each read.");

  py::class_<SpaceConfig>(m, "SpaceConfig", "A space's configuration (fixed at creation).")
      .def_readonly("dim", &SpaceConfig::dim)
      .def_property_readonly(
          "M", [](const SpaceConfig& c) { return c.hnsw.M; }, "HNSW links per node on upper layers.")
      .def_property_readonly(
          "ef_construction", [](const SpaceConfig& c) { return c.hnsw.ef_construction; },
          "HNSW candidate list size while inserting.")
      .def_property_readonly(
          "ef_search", [](const SpaceConfig& c) { return c.hnsw.ef_search; },
          "Default HNSW candidate list size while searching.")
      .def_property_readonly(
          "seed", [](const SpaceConfig& c) { return c.hnsw.seed; }, "Seed of the HNSW level generator.")
      .def_readonly("max_memories", &SpaceConfig::max_memories)
      .def_readonly("max_content_bytes", &SpaceConfig::max_content_bytes)
      .def_readonly("max_metadata_entries", &SpaceConfig::max_metadata_entries)
      .def_readonly("max_k", &SpaceConfig::max_k);

  py::class_<SpaceStats>(m, "SpaceStats", "Counts and memory use of a space, in bytes by component.")
      .def_readonly("episodes", &SpaceStats::episodes)
      .def_readonly("concepts", &SpaceStats::concepts)
      .def_readonly("forgotten", &SpaceStats::forgotten)
      .def_readonly("vector_bytes", &SpaceStats::vector_bytes)
      .def_readonly("index_link_bytes", &SpaceStats::index_link_bytes)
      .def_readonly("index_node_bytes", &SpaceStats::index_node_bytes)
      .def_readonly("record_bytes", &SpaceStats::record_bytes)
      .def_readonly("content_bytes", &SpaceStats::content_bytes)
      .def_readonly("metadata_bytes", &SpaceStats::metadata_bytes)
      .def_readonly("concept_bytes", &SpaceStats::concept_bytes)
      .def_readonly("edge_bytes", &SpaceStats::edge_bytes)
      .def_property_readonly("total_bytes", &SpaceStats::total_bytes, "The sum of the components.")
      .def_readonly("index_top_level", &SpaceStats::index_top_level, "-1 while the index is empty.");

  py::class_<HnswIntegrity>(m, "IndexIntegrity", "Integrity counts of the vector index (see hnsw.hpp).")
      .def_readonly("nodes", &HnswIntegrity::nodes)
      .def_readonly("deleted", &HnswIntegrity::deleted)
      .def_readonly("broken_links", &HnswIntegrity::broken_links)
      .def_readonly("layer_violations", &HnswIntegrity::layer_violations)
      .def_readonly("dangling_ids", &HnswIntegrity::dangling_ids)
      .def_readonly("unreachable", &HnswIntegrity::unreachable, "Not a fault: pruned in-links (see hnsw.hpp).")
      .def_property_readonly("ok", &HnswIntegrity::ok);

  py::class_<IntegrityReport>(m, "IntegrityReport", "What Space.validate found; every problem count is 0 when ok.")
      .def_property_readonly("ok", &IntegrityReport::ok)
      .def_readonly("index", &IntegrityReport::index)
      .def_readonly("records", &IntegrityReport::records)
      .def_readonly("record_index_mismatches", &IntegrityReport::record_index_mismatches)
      .def_readonly("concepts", &IntegrityReport::concepts)
      .def_readonly("orphaned_concepts", &IntegrityReport::orphaned_concepts)
      .def_readonly("one_sided_bindings", &IntegrityReport::one_sided_bindings)
      .def_readonly("edges_to_missing", &IntegrityReport::edges_to_missing);

  py::class_<HistogramSnapshot>(m, "LatencyHistogram", "Latency buckets of one operation (not cumulative).")
      .def_property_readonly(
          "bounds_seconds",
          [](const HistogramSnapshot&) { return std::vector<double>(kLatencyBounds.begin(), kLatencyBounds.end()); },
          "Upper bounds of the buckets in seconds (the same for every histogram); the last bucket is +Inf.")
      .def_property_readonly(
          "buckets",
          [](const HistogramSnapshot& h) { return std::vector<std::uint64_t>(h.buckets.begin(), h.buckets.end()); })
      .def_readonly("count", &HistogramSnapshot::count)
      .def_readonly("sum_seconds", &HistogramSnapshot::sum_seconds);

  py::class_<OperationMetrics>(m, "OperationMetrics", "Counters of one operation of one space.")
      .def_readonly("op", &OperationMetrics::op, "The operation's name (remember, search, ...).")
      .def_property_readonly("total", [](const OperationMetrics& o) { return o.snapshot.total; })
      .def_property_readonly("errors", [](const OperationMetrics& o) { return o.snapshot.errors; })
      .def_property_readonly(
          "latency", [](const OperationMetrics& o) { return o.snapshot.latency; }, "Latency histogram.");
}

using Contents = Column<"collections.abc.Sequence[str | bytes] | None">;
using Confidences = Column<"numpy.typing.ArrayLike | None">;
using Timestamps = Column<"collections.abc.Sequence[float | None] | numpy.typing.ArrayLike | None">;
using Metadatas = Column<"collections.abc.Sequence[collections.abc.Mapping[str, str] | None] | None">;
using KeyColumn = Column<"collections.abc.Sequence[str | None]">;
using FingerprintColumn = Column<"collections.abc.Sequence[str | bytes] | None">;
struct FingerprintArg : Deferred {
  static constexpr auto py_name = py::detail::const_name("str | bytes | None");
};

// One episode's arguments; `arr` keeps the embedding alive while the episode borrows it.
EpisodeInput read_episode(const Space& sp, const Array& embedding, const Content& content,
                          const Real<"confidence">& confidence, const std::optional<Real<"timestamp">>& timestamp,
                          const MetadataArg& metadata, FloatArray& arr) {
  arr = to_vector(embedding.obj, sp.dim(), "embedding");
  EpisodeInput e;
  e.embedding = arr.data();
  e.embedding_size = static_cast<std::size_t>(arr.shape(0));
  e.content = to_text(content.obj, "content", true);
  e.confidence = confidence.get();
  if (timestamp) {
    e.timestamp = timestamp->get();
    e.has_timestamp = true;
  }
  e.metadata = to_metadata(metadata.obj);
  return e;
}

// A batch's columns; `arr` keeps the embeddings alive while the episodes borrow them.
std::vector<EpisodeInput> read_batch(const Space& sp, const Array& embeddings, const Contents& contents,
                                     const Confidences& confidences, const Timestamps& timestamps,
                                     const Metadatas& metadatas, FloatArray& arr) {
  arr = to_matrix(embeddings.obj, sp.dim(), "embeddings");
  const auto n = static_cast<std::size_t>(arr.shape(0));
  check_column(contents.obj, n, "contents");
  check_column(confidences.obj, n, "confidences");
  check_column(timestamps.obj, n, "timestamps");
  check_column(metadatas.obj, n, "metadatas");
  const auto column = [](const Deferred& c) {  // None: no items to read
    return c.obj.is_none() ? py::sequence(py::list()) : py::reinterpret_borrow<py::sequence>(c.obj);
  };
  const py::sequence cs = column(contents), fs = column(confidences), ts = column(timestamps), ms = column(metadatas);
  std::vector<EpisodeInput> batch(n);
  for (std::size_t i = 0; i < n; ++i) {
    EpisodeInput& e = batch[i];
    e.embedding = arr.data() + i * sp.dim();
    e.embedding_size = sp.dim();
    if (!contents.obj.is_none()) e.content = to_text(cs[i], "content", true);
    if (!confidences.obj.is_none()) e.confidence = to_double(fs[i], "confidence");
    if (!timestamps.obj.is_none() && !py::object(ts[i]).is_none()) {
      e.timestamp = to_double(ts[i], "timestamp");
      e.has_timestamp = true;
    }
    if (!metadatas.obj.is_none()) e.metadata = to_metadata(ms[i]);
  }
  return batch;
}

// An idempotency key (str) with its request fingerprint (str or bytes; None: empty).
IdempotencyKey read_key(py::handle key, py::handle fingerprint) {
  IdempotencyKey k;
  if (!PyUnicode_Check(key.ptr())) refuse_type(key, "idempotency_key", "str");
  k.key = to_text(key, "idempotency_key");
  if (!fingerprint.is_none()) {
    k.fingerprint = PyBytes_Check(fingerprint.ptr()) || PyByteArray_Check(fingerprint.ptr())
                        ? to_bytes(fingerprint, "fingerprint")
                        : to_text(fingerprint, "fingerprint");
  }
  return k;
}

// A key and its fingerprint as passed (remember_keyed's arguments); nullopt for the unkeyed calls.
using KeyArgs = std::optional<std::pair<py::handle, py::handle>>;

// remember and remember_keyed: one implementation; with a key, stored once per key.
Remembered remember_one(Space& sp, const Array& embedding, const Content& content, const Real<"confidence">& confidence,
                        const std::optional<Real<"timestamp">>& timestamp, const MetadataArg& metadata,
                        const KeyArgs& key) {
  ArgumentErrorCounter arg_errors(sp, Op::Remember);
  FloatArray arr;
  EpisodeInput e = read_episode(sp, embedding, content, confidence, timestamp, metadata, arr);
  std::optional<IdempotencyKey> k;
  if (key) k = read_key(key->first, key->second);
  arg_errors.dismiss();
  py::gil_scoped_release release;
  if (k) return sp.remember(std::move(e), *k);
  return Remembered{sp.remember(std::move(e)), false};
}

// remember_batch and remember_batch_keyed: one implementation; with a key, one for the batch.
RememberedBatch remember_many(Space& sp, const Array& embeddings, const Contents& contents,
                              const Confidences& confidences, const Timestamps& timestamps, const Metadatas& metadatas,
                              const KeyArgs& key) {
  ArgumentErrorCounter arg_errors(sp, Op::RememberBatch);
  FloatArray arr;
  std::vector<EpisodeInput> batch = read_batch(sp, embeddings, contents, confidences, timestamps, metadatas, arr);
  std::optional<IdempotencyKey> k;
  if (key) k = read_key(key->first, key->second);
  arg_errors.dismiss();
  py::gil_scoped_release release;
  if (k) return sp.remember_batch(std::move(batch), *k);
  return RememberedBatch{sp.remember_batch(std::move(batch)), false};
}

void register_keyed(py::class_<Space, std::shared_ptr<Space>>& space) {
  space
      .def(
          "remember_keyed",
          [](Space& sp, const Array& embedding, const Content& content, const Real<"confidence">& confidence,
             const std::optional<Real<"timestamp">>& timestamp, const MetadataArg& metadata, const Text<"key">& key,
             const FingerprintArg& fingerprint) {
            const Remembered r =
                remember_one(sp, embedding, content, confidence, timestamp, metadata, {{key.obj, fingerprint.obj}});
            return std::make_pair(r.id, r.replayed);
          },
          py::arg("embedding"), py::arg("content") = "", py::arg("confidence") = 1.0, py::arg("timestamp") = py::none(),
          py::arg("metadata") = py::none(), py::kw_only(), py::arg("key"), py::arg("fingerprint") = py::none(),
          "Store one episode once per idempotency key: (id, replayed). The same key with the same fingerprint "
          "returns the stored id with replayed True; another fingerprint raises IdempotencyConflict.")
      .def(
          "remember_batch_keyed",
          [](Space& sp, const Array& embeddings, const Contents& contents, const Confidences& confidences,
             const Timestamps& timestamps, const Metadatas& metadatas, const Text<"key">& key,
             const FingerprintArg& fingerprint) {
            const RememberedBatch r = remember_many(sp, embeddings, contents, confidences, timestamps, metadatas,
                                                    {{key.obj, fingerprint.obj}});
            return std::make_pair(to_numpy(r.ids), r.replayed);
          },
          py::arg("embeddings"), py::arg("contents") = py::none(), py::arg("confidences") = py::none(),
          py::arg("timestamps") = py::none(), py::arg("metadatas") = py::none(), py::kw_only(), py::arg("key"),
          py::arg("fingerprint") = py::none(),
          "remember_batch once per idempotency key (one key for the whole batch): (ids, replayed).")
      .def(
          "remember_each",
          [](Space& sp, const Array& embeddings, const Contents& contents, const Confidences& confidences,
             const Timestamps& timestamps, const Metadatas& metadatas, const KeyColumn& keys,
             const FingerprintColumn& fingerprints) {
            ArgumentErrorCounter arg_errors(sp, Op::RememberBatch);
            FloatArray arr;
            std::vector<EpisodeInput> batch =
                read_batch(sp, embeddings, contents, confidences, timestamps, metadatas, arr);
            const std::size_t n = batch.size();
            if (keys.obj.is_none()) refuse_type(keys.obj, "keys", "a sequence of str or None, one per embedding");
            check_column(keys.obj, n, "keys");
            check_column(fingerprints.obj, n, "fingerprints");
            const auto ks = py::reinterpret_borrow<py::sequence>(keys.obj);
            std::vector<std::optional<IdempotencyKey>> kv(n);
            for (std::size_t i = 0; i < n; ++i) {
              const py::object k = ks[i];
              if (k.is_none()) continue;
              const py::object fp = fingerprints.obj.is_none()
                                        ? py::object(py::none())
                                        : py::object(py::reinterpret_borrow<py::sequence>(fingerprints.obj)[i]);
              kv[i] = read_key(k, fp);
            }
            arg_errors.dismiss();
            std::vector<Remembered> r;
            {
              py::gil_scoped_release release;
              r = sp.remember_each(std::move(batch), kv);
            }
            py::array_t<std::int64_t> ids(static_cast<py::ssize_t>(n));
            py::array_t<bool> replayed(static_cast<py::ssize_t>(n));
            for (std::size_t i = 0; i < n; ++i) {
              ids.mutable_at(static_cast<py::ssize_t>(i)) = r[i].id;
              replayed.mutable_at(static_cast<py::ssize_t>(i)) = r[i].replayed;
            }
            return std::make_pair(ids, replayed);
          },
          py::arg("embeddings"), py::arg("contents") = py::none(), py::arg("confidences") = py::none(),
          py::arg("timestamps") = py::none(), py::arg("metadatas") = py::none(), py::kw_only(), py::arg("keys"),
          py::arg("fingerprints") = py::none(),
          "Store episodes with one idempotency key each (None: no key), for streams: (ids, replayed flags). "
          "Those not replayed are stored all or nothing; a key repeated in the call replays its first use.")
      .def_property_readonly("idempotency_keys", &Space::idempotency_keys,
                             "Idempotency keys this space retains (at most the engine's idempotency_capacity).");
}

void register_memories(py::class_<Space, std::shared_ptr<Space>>& space) {
  register_keyed(space);
  space
      .def(
          "remember",
          [](Space& sp, const Array& embedding, const Content& content, const Real<"confidence">& confidence,
             const std::optional<Real<"timestamp">>& timestamp, const MetadataArg& metadata) {
            return remember_one(sp, embedding, content, confidence, timestamp, metadata, std::nullopt).id;
          },
          py::arg("embedding"), py::arg("content") = "", py::arg("confidence") = 1.0, py::arg("timestamp") = py::none(),
          py::arg("metadata") = py::none(),
          "Store one episode and return its id. timestamp None: the engine clock's now.")
      .def(
          "remember_batch",
          [](Space& sp, const Array& embeddings, const Contents& contents, const Confidences& confidences,
             const Timestamps& timestamps, const Metadatas& metadatas) {
            return to_numpy(
                remember_many(sp, embeddings, contents, confidences, timestamps, metadatas, std::nullopt).ids);
          },
          py::arg("embeddings"), py::arg("contents") = py::none(), py::arg("confidences") = py::none(),
          py::arg("timestamps") = py::none(), py::arg("metadatas") = py::none(),
          "Store n episodes at once (all or nothing); returns their ids in order.")
      .def(
          "get",
          [](const Space& sp, const Id& id) {
            const std::int64_t mid = id.get(sp.name());
            py::gil_scoped_release release;
            return sp.get(mid);
          },
          py::arg("id"), "The memory with this id; MemoryNotFound otherwise.")
      .def(
          "contains",
          [](const Space& sp, const py::object& id) {
            const auto mid = to_id_or_none(id);
            if (!mid) return false;
            py::gil_scoped_release release;
            return sp.contains(*mid);
          },
          py::arg("id"), "Whether id is a live memory of this space (False for anything that is not an id).")
      .def(
          "forget",
          [](Space& sp, const Id& id) {
            const std::int64_t mid = id.get(sp.name());
            py::gil_scoped_release release;
            sp.forget(mid);
          },
          py::arg("id"), "Tombstone a memory; MemoryNotFound when it is not live.")
      .def(
          "search",
          [](const Space& sp, const Array& query, const Int<"k", std::size_t>& k,
             const std::optional<Int<"ef", std::size_t>>& ef) {
            ArgumentErrorCounter arg_errors(sp, Op::Search);
            const FloatArray q = to_vector(query.obj, sp.dim(), "query");
            const std::size_t kk = k.get();
            const std::optional<std::size_t> e = get(ef);
            std::vector<SearchHit> hits;
            arg_errors.dismiss();
            {
              py::gil_scoped_release release;
              hits = sp.search({q.data(), sp.dim()}, kk, e);
            }
            return hits_tuple(hits);
          },
          py::arg("query"), py::arg("k") = 10, py::arg("ef") = py::none(),
          "Approximate nearest neighbours by cosine similarity: (ids, similarities), best first.")
      .def(
          "exact_search",
          [](const Space& sp, const Array& query, const Int<"k", std::size_t>& k) {
            const FloatArray q = to_vector(query.obj, sp.dim(), "query");
            const std::size_t kk = k.get();
            std::vector<SearchHit> hits;
            {
              py::gil_scoped_release release;
              hits = sp.exact_search({q.data(), sp.dim()}, kk);
            }
            return hits_tuple(hits);
          },
          py::arg("query"), py::arg("k") = 10, "Exact nearest neighbours by a full scan: (ids, similarities).");
}

}  // namespace

void register_space(py::module_& m) {
  register_values(m);
  // The one rule for space names (validation.hpp), for the server's schemas and clients.
  m.attr("SPACE_NAME_PATTERN") = std::string(kSpaceNamePattern);
  m.attr("SPACE_NAME_MAX") = kSpaceNameMax;
  m.attr("SPACE_NAME_RULE") = std::string(kSpaceNameRule);
  m.def(
      "is_valid_space_name", [](const Text<"name">& name) { return is_valid_space_name(name.get()); }, py::arg("name"),
      "Whether the engine accepts this space name (SPACE_NAME_RULE).");
  py::class_<Space, std::shared_ptr<Space>> space(m, "Space", "One memory space (tenant) of an Engine.");
  space.def_property_readonly("name", &Space::name)
      .def_property_readonly("dim", &Space::dim)
      .def_property_readonly("ordinal", &Space::ordinal, "The space's number within its engine (the id prefix).")
      .def_property_readonly("config", &Space::config, "The space's configuration.")
      .def("size", &Space::size, "Live memories (episodes).");
  register_memories(space);
  space
      .def(
          "stats",
          [](const Space& sp) {
            py::gil_scoped_release release;
            return sp.stats();
          },
          "Counts and memory use by component.")
      .def(
          "validate",
          [](const Space& sp) {
            py::gil_scoped_release release;
            return sp.validate();
          },
          "Integrity counts of the index, records, concepts and edges (takes the structure lock exclusively).")
      .def(
          "operation_metrics",
          [](const Space& sp) {
            std::vector<OperationMetrics> out;
            for (std::size_t o = 0; o < kOpCount; ++o) {
              out.push_back({op_name(static_cast<Op>(o)), sp.metrics().snapshot(static_cast<Op>(o))});
            }
            return out;
          },
          "Counters and latency histogram of every operation, in a fixed order.");
}

}  // namespace engram::bind
