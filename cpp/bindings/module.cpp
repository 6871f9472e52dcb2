// pybind11 bindings: engram._core. Converts Python values to engine types, releases the GIL
// around every engine call that can take time, and translates engine errors into the classes
// of engram.errors. The engine headers know nothing of Python.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <sstream>
#include <string>

#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/simd.hpp"
#include "engram/validation.hpp"

namespace py = pybind11;
using namespace engram;

namespace engram {
void register_load_executor(py::module_& m);
void register_graph(py::module_& m);       // bindings/graph.cpp: adds to the Space class
void register_recall(py::module_& m);      // bindings/recall.cpp: concepts, recall, completion, consolidator
void register_durability(py::module_& m);  // bindings/durability.cpp: stores, WAL, checkpoints
void register_faults(py::module_& m);      // bindings/register_faults.cpp: build_info, test-build faults
}  // namespace engram

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

[[noreturn]] void raise_py(const char* cls, const char* what) {
  py::object type = py::module_::import("engram.errors").attr(cls);
  PyErr_SetString(type.ptr(), what);
  throw py::error_already_set();
}

std::string shape_str(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << a.shape(i) << (a.ndim() == 1 ? "," : (i + 1 < a.ndim() ? ", " : ""));
  s << ")";
  return s.str();
}

// Counts an operation whose arguments were rejected here, before the engine saw it, as an error
// in that operation's metrics (the engine counts everything after). Dismissed once the call is
// handed to the engine. Recording is thread-safe (atomics), hence the const_cast on a const Space.
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

FloatArray as_vector(const py::handle& obj, std::size_t dim, const char* what) {
  if (obj.is_none()) throw InvalidInputError(std::string(what) + " is missing; expected a float32 vector");
  FloatArray arr = FloatArray::ensure(obj);
  if (!arr) {
    PyErr_Clear();
    throw InvalidInputError(std::string(what) + " must be a sequence of numbers; got " +
                            std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
  if (arr.ndim() != 1 || static_cast<std::size_t>(arr.shape(0)) != dim) {
    throw DimensionError("expected " + dimensional(dim) + " float32 " + what + ", got shape " + shape_str(arr));
  }
  return arr;
}

std::string as_text(const py::handle& obj, const char* what) {
  if (obj.is_none()) return {};
  if (PyUnicode_Check(obj.ptr())) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(obj.ptr(), &size);
    if (data == nullptr) {
      PyErr_Clear();
      throw InvalidInputError(std::string(what) + " is not valid UTF-8 (it contains lone surrogates); expected text");
    }
    return std::string(data, static_cast<std::size_t>(size));
  }
  if (PyBytes_Check(obj.ptr())) return std::string(py::bytes(py::reinterpret_borrow<py::bytes>(obj)));
  throw InvalidInputError(std::string(what) + " must be str or UTF-8 bytes; got " +
                          std::string(py::str(py::type::of(obj).attr("__name__"))));
}

Metadata as_metadata(const py::handle& obj) {
  Metadata md;
  if (obj.is_none()) return md;
  if (!py::isinstance<py::dict>(obj)) throw InvalidInputError("metadata must be a dict of str to str");
  for (const auto& [k, v] : py::reinterpret_borrow<py::dict>(obj)) {
    if (!PyUnicode_Check(k.ptr()) || !PyUnicode_Check(v.ptr())) {
      throw InvalidInputError("metadata keys and values must be str; got " +
                              std::string(py::str(py::type::of(k).attr("__name__"))) + " -> " +
                              std::string(py::str(py::type::of(v).attr("__name__"))));
    }
    md.emplace_back(as_text(k, "metadata key"), as_text(v, "metadata value"));
  }
  return md;
}

double as_number(const py::handle& obj, const char* what) {
  try {
    return obj.cast<double>();
  } catch (const py::cast_error&) {
    throw InvalidInputError(std::string(what) + " must be a number; got " +
                            std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
}

py::dict histogram_dict(const HistogramSnapshot& h) {
  py::list bounds, buckets;
  for (const double b : kLatencyBounds) bounds.append(b);
  for (const auto c : h.buckets) buckets.append(c);
  py::dict d;
  d["bounds_seconds"] = bounds;
  d["buckets"] = buckets;
  d["count"] = h.count;
  d["sum_seconds"] = h.sum_seconds;
  return d;
}

py::dict stats_dict(const SpaceStats& s, const Space& sp) {
  py::dict bytes;
  bytes["vectors"] = s.vector_bytes;
  bytes["index_links"] = s.index_link_bytes;
  bytes["index_nodes"] = s.index_node_bytes;
  bytes["records"] = s.record_bytes;
  bytes["content"] = s.content_bytes;
  bytes["metadata"] = s.metadata_bytes;
  bytes["concepts"] = s.concept_bytes;
  bytes["edges"] = s.edge_bytes;
  bytes["total"] = s.total_bytes();
  py::dict index;
  index["M"] = sp.config().hnsw.M;
  index["ef_construction"] = sp.config().hnsw.ef_construction;
  index["ef_search"] = sp.config().hnsw.ef_search;
  index["top_level"] = s.index_top_level;
  py::dict d;
  d["space"] = sp.name();
  d["dim"] = sp.dim();
  d["episodes"] = s.episodes;
  d["concepts"] = s.concepts;
  d["forgotten"] = s.forgotten;
  d["memory_bytes"] = bytes;
  d["index"] = index;
  return d;
}

py::dict integrity_dict(const IntegrityReport& r) {
  py::dict d;
  d["ok"] = r.ok();
  d["nodes"] = r.index.nodes;
  d["deleted"] = r.index.deleted;
  d["broken_links"] = r.index.broken_links;
  d["layer_violations"] = r.index.layer_violations;
  d["dangling_ids"] = r.index.dangling_ids;
  d["unreachable"] = r.index.unreachable;
  d["records"] = r.records;
  d["record_index_mismatches"] = r.record_index_mismatches;
  d["concepts"] = r.concepts;
  d["orphaned_concepts"] = r.orphaned_concepts;
  d["one_sided_bindings"] = r.one_sided_bindings;
  d["edges_to_missing"] = r.edges_to_missing;
  return d;
}

SpaceConfig make_space_config(const SpaceConfig& base, std::optional<std::size_t> dim, std::optional<std::uint32_t> M,
                              std::optional<std::uint32_t> efc, std::optional<std::uint32_t> efs,
                              std::optional<std::size_t> max_memories) {
  SpaceConfig c = base;
  if (dim) c.dim = *dim;
  if (M) c.hnsw.M = *M;
  if (efc) c.hnsw.ef_construction = *efc;
  if (efs) c.hnsw.ef_search = *efs;
  if (max_memories) c.max_memories = *max_memories;
  return c;
}

py::tuple hits_tuple(const std::vector<SearchHit>& hits) {
  py::array_t<std::int64_t> ids(static_cast<py::ssize_t>(hits.size()));
  py::array_t<float> scores(static_cast<py::ssize_t>(hits.size()));
  auto id = ids.mutable_unchecked<1>();
  auto sc = scores.mutable_unchecked<1>();
  for (std::size_t i = 0; i < hits.size(); ++i) {
    id(static_cast<py::ssize_t>(i)) = hits[i].id;
    sc(static_cast<py::ssize_t>(i)) = hits[i].similarity;
  }
  return py::make_tuple(ids, scores);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "Engram's C++ engine. Use the engram package rather than this module directly.";

  if (!simd::environment_error().empty()) {
    throw py::import_error(simd::environment_error());
  }

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const DimensionError& e) {
      raise_py("DimensionError", e.what());
    } catch (const InvalidInputError& e) {
      raise_py("InvalidInputError", e.what());
    } catch (const SpaceNotFound& e) {
      raise_py("SpaceNotFound", e.what());
    } catch (const SpaceExists& e) {
      raise_py("SpaceExists", e.what());
    } catch (const MemoryNotFound& e) {
      raise_py("MemoryNotFound", e.what());
    } catch (const CapacityError& e) {
      raise_py("CapacityError", e.what());
    } catch (const CorruptionError& e) {
      raise_py("CorruptionError", e.what());
    } catch (const StorageError& e) {
      raise_py("StorageError", e.what());
    } catch (const ClosedError& e) {
      raise_py("ClosedError", e.what());
    } catch (const EngramError& e) {
      raise_py("EngramError", e.what());
    }
  });

  engram::register_load_executor(m);
  engram::register_faults(m);

  // --- SIMD -----------------------------------------------------------------------------
  m.def("simd_level", [] { return std::string(simd::level_name(simd::active_level())); });
  m.def("simd_best", [] { return std::string(simd::level_name(simd::best_supported())); });
  m.def("simd_supported", [](const std::string& name) {
    const auto l = simd::parse_level(name);
    return l.has_value() && simd::supported(*l);
  });
  m.def("set_simd_level", [](const std::string& name) {
    const auto l = simd::parse_level(name);
    if (!l) throw InvalidInputError("unknown SIMD level '" + name + "'; expected scalar, avx2 or avx512");
    simd::set_level(*l);
  });
  m.def(
      "dot",
      [](FloatArray a, FloatArray b, std::optional<std::string> level) {
        if (a.ndim() != 1 || b.ndim() != 1 || a.shape(0) != b.shape(0)) {
          throw DimensionError("dot needs two 1-D arrays of equal length, got " + shape_str(a) + " and " +
                               shape_str(b));
        }
        const simd::Kernels* k = &simd::active();
        if (level) {
          const auto l = simd::parse_level(*level);
          if (!l) throw InvalidInputError("unknown SIMD level '" + *level + "'");
          k = &simd::kernels_for(*l);
        }
        return k->dot(a.data(), b.data(), static_cast<std::size_t>(a.shape(0)));
      },
      py::arg("a"), py::arg("b"), py::arg("level") = py::none());

  // --- Space ----------------------------------------------------------------------------
  py::class_<Space, std::shared_ptr<Space>>(m, "Space")
      .def_property_readonly("name", &Space::name)
      .def_property_readonly("dim", &Space::dim)
      .def_property_readonly("ordinal", &Space::ordinal)
      .def(
          "remember",
          [](Space& sp, const py::handle& embedding, const py::handle& content, const py::handle& confidence,
             const py::handle& timestamp, const py::handle& metadata) {
            ArgumentErrorCounter arg_errors(sp, Op::Remember);
            FloatArray arr = as_vector(embedding, sp.dim(), "embedding");
            EpisodeInput e;
            e.embedding = arr.data();
            e.embedding_size = static_cast<std::size_t>(arr.shape(0));
            e.content = as_text(content, "content");
            e.confidence = as_number(confidence, "confidence");
            if (!timestamp.is_none()) {
              e.timestamp = as_number(timestamp, "timestamp");
              e.has_timestamp = true;
            }
            e.metadata = as_metadata(metadata);
            arg_errors.dismiss();
            py::gil_scoped_release release;
            return sp.remember(std::move(e));
          },
          py::arg("embedding"), py::arg("content") = "", py::arg("confidence") = 1.0, py::arg("timestamp") = py::none(),
          py::arg("metadata") = py::none())
      .def(
          "remember_batch",
          [](Space& sp, const py::handle& embeddings, const py::handle& contents, const py::handle& confidences,
             const py::handle& timestamps, const py::handle& metadatas) {
            ArgumentErrorCounter arg_errors(sp, Op::RememberBatch);
            if (embeddings.is_none()) throw InvalidInputError("embeddings are missing; expected an (n, dim) array");
            FloatArray arr = FloatArray::ensure(embeddings);
            if (!arr) {
              PyErr_Clear();
              throw InvalidInputError("embeddings must be a 2-D array of numbers");
            }
            if (arr.ndim() != 2 || static_cast<std::size_t>(arr.shape(1)) != sp.dim()) {
              throw DimensionError("expected an (n, " + std::to_string(sp.dim()) + ") float32 array, got shape " +
                                   shape_str(arr));
            }
            const auto n = static_cast<std::size_t>(arr.shape(0));
            const auto check_len = [n](const py::handle& h, const char* what) {
              // A lone string is a sequence of characters, never one item per embedding.
              if (PyUnicode_Check(h.ptr()) || PyBytes_Check(h.ptr())) {
                throw InvalidInputError(std::string(what) + " must be a sequence with one item per embedding (" +
                                        std::to_string(n) + "); got a single " +
                                        std::string(py::str(py::type::of(h).attr("__name__"))));
              }
              if (!h.is_none() && !PySequence_Check(h.ptr())) {
                throw InvalidInputError(std::string(what) + " must be a sequence with one item per embedding; got " +
                                        std::string(py::str(py::type::of(h).attr("__name__"))));
              }
              if (!h.is_none() && py::len(h) != n) {
                throw InvalidInputError(std::string(what) + " has " + std::to_string(py::len(h)) +
                                        " items; expected one per embedding (" + std::to_string(n) + ")");
              }
            };
            check_len(contents, "contents");
            check_len(confidences, "confidences");
            check_len(timestamps, "timestamps");
            check_len(metadatas, "metadatas");
            std::vector<EpisodeInput> batch(n);
            const py::sequence cs =
                contents.is_none() ? py::sequence(py::list()) : py::reinterpret_borrow<py::sequence>(contents);
            const py::sequence fs =
                confidences.is_none() ? py::sequence(py::list()) : py::reinterpret_borrow<py::sequence>(confidences);
            const py::sequence ts =
                timestamps.is_none() ? py::sequence(py::list()) : py::reinterpret_borrow<py::sequence>(timestamps);
            const py::sequence ms =
                metadatas.is_none() ? py::sequence(py::list()) : py::reinterpret_borrow<py::sequence>(metadatas);
            for (std::size_t i = 0; i < n; ++i) {
              EpisodeInput& e = batch[i];
              e.embedding = arr.data() + i * sp.dim();
              e.embedding_size = sp.dim();
              if (!contents.is_none()) e.content = as_text(cs[i], "content");
              if (!confidences.is_none()) e.confidence = as_number(fs[i], "confidence");
              if (!timestamps.is_none() && !py::object(ts[i]).is_none()) {
                e.timestamp = as_number(ts[i], "timestamp");
                e.has_timestamp = true;
              }
              if (!metadatas.is_none()) e.metadata = as_metadata(ms[i]);
            }
            std::vector<std::int64_t> ids;
            arg_errors.dismiss();
            {
              py::gil_scoped_release release;
              ids = sp.remember_batch(std::move(batch));
            }
            py::array_t<std::int64_t> out(static_cast<py::ssize_t>(ids.size()));
            std::copy(ids.begin(), ids.end(), out.mutable_data());
            return out;
          },
          py::arg("embeddings"), py::arg("contents") = py::none(), py::arg("confidences") = py::none(),
          py::arg("timestamps") = py::none(), py::arg("metadatas") = py::none())
      .def("get",
           [](const Space& sp, std::int64_t id) {
             MemoryView v;
             {
               py::gil_scoped_release release;
               v = sp.get(id);
             }
             py::array_t<float> emb(static_cast<py::ssize_t>(v.embedding.size()));
             std::copy(v.embedding.begin(), v.embedding.end(), emb.mutable_data());
             py::dict md;
             for (const auto& [k, val] : v.metadata) md[py::str(k)] = py::str(val);
             return py::make_tuple(v.id, kind_name(v.kind), emb, py::str(v.content), v.confidence, v.timestamp, md);
           })
      .def("contains", &Space::contains, py::call_guard<py::gil_scoped_release>())
      .def("forget", &Space::forget, py::call_guard<py::gil_scoped_release>())
      .def(
          "search",
          [](const Space& sp, const py::handle& query, std::int64_t k, std::optional<std::int64_t> ef) {
            ArgumentErrorCounter arg_errors(sp, Op::Search);
            FloatArray q = as_vector(query, sp.dim(), "query");
            if (k < 1) throw InvalidInputError("k must be at least 1, got " + std::to_string(k));
            if (ef && *ef < 1) throw InvalidInputError("ef must be at least 1, got " + std::to_string(*ef));
            std::vector<SearchHit> hits;
            arg_errors.dismiss();
            {
              py::gil_scoped_release release;
              hits = sp.search({q.data(), sp.dim()}, static_cast<std::size_t>(k),
                               ef ? std::optional<std::size_t>(static_cast<std::size_t>(*ef)) : std::nullopt);
            }
            return hits_tuple(hits);
          },
          py::arg("query"), py::arg("k") = 10, py::arg("ef") = py::none())
      .def(
          "exact_search",
          [](const Space& sp, const py::handle& query, std::int64_t k) {
            FloatArray q = as_vector(query, sp.dim(), "query");
            if (k < 1) throw InvalidInputError("k must be at least 1, got " + std::to_string(k));
            std::vector<SearchHit> hits;
            {
              py::gil_scoped_release release;
              hits = sp.exact_search({q.data(), sp.dim()}, static_cast<std::size_t>(k));
            }
            return hits_tuple(hits);
          },
          py::arg("query"), py::arg("k") = 10)
      .def("size", &Space::size)
      .def("stats",
           [](const Space& sp) {
             SpaceStats s;
             {
               py::gil_scoped_release release;
               s = sp.stats();
             }
             return stats_dict(s, sp);
           })
      .def("validate", [](const Space& sp) {
        IntegrityReport r;
        {
          py::gil_scoped_release release;
          r = sp.validate();
        }
        return integrity_dict(r);
      });

  // --- Engine ---------------------------------------------------------------------------
  py::class_<Engine, std::shared_ptr<Engine>>(m, "Engine")
      .def(py::init([](std::size_t dim, std::uint32_t M, std::uint32_t efc, std::uint32_t efs, std::uint64_t seed,
                       std::size_t max_memories, std::size_t max_content_bytes, std::size_t max_spaces) {
             EngineConfig c;
             c.space.dim = dim;
             c.space.hnsw.M = M;
             c.space.hnsw.ef_construction = efc;
             c.space.hnsw.ef_search = efs;
             c.space.hnsw.seed = seed;
             c.space.max_memories = max_memories;
             c.space.max_content_bytes = max_content_bytes;
             c.max_spaces = max_spaces;
             return std::make_shared<Engine>(c);
           }),
           py::arg("dim") = 768, py::arg("M") = 16, py::arg("ef_construction") = 200, py::arg("ef_search") = 64,
           py::arg("seed") = 42, py::arg("max_memories") = std::size_t{1} << 32,
           py::arg("max_content_bytes") = std::size_t{1} << 20, py::arg("max_spaces") = 4096)
      .def_property_readonly("dim", [](const Engine& e) { return e.config().space.dim; })
      .def(
          "create_space",
          [](Engine& e, const std::string& name, std::optional<std::size_t> dim, std::optional<std::uint32_t> M,
             std::optional<std::uint32_t> efc, std::optional<std::uint32_t> efs,
             std::optional<std::size_t> max_memories) {
            return e.create_space(name, make_space_config(e.config().space, dim, M, efc, efs, max_memories));
          },
          py::arg("name"), py::arg("dim") = py::none(), py::arg("M") = py::none(),
          py::arg("ef_construction") = py::none(), py::arg("ef_search") = py::none(),
          py::arg("max_memories") = py::none())
      .def("space", &Engine::space)
      .def("space_names", &Engine::space_names)
      .def("drop_space", &Engine::drop_space, py::call_guard<py::gil_scoped_release>())
      .def("close", &Engine::close, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("closed", &Engine::closed)
      .def("prometheus", &Engine::prometheus, py::call_guard<py::gil_scoped_release>())
      .def("metrics",
           [](const Engine& e) {
             py::dict spaces;
             for (const auto& sp : e.spaces()) {
               py::dict ops;
               for (std::size_t o = 0; o < kOpCount; ++o) {
                 const OpSnapshot s = sp->metrics().snapshot(static_cast<Op>(o));
                 py::dict od;
                 od["total"] = s.total;
                 od["errors"] = s.errors;
                 od["latency"] = histogram_dict(s.latency);
                 ops[op_name(static_cast<Op>(o))] = od;
               }
               py::dict sd;
               sd["ops"] = ops;
               try {
                 const SpaceStats st = sp->stats();
                 py::dict mem;
                 mem["episode"] = st.episodes;
                 mem["concept"] = st.concepts;
                 sd["memories"] = mem;
                 sd["memory_bytes"] = st.total_bytes();
               } catch (const SpaceNotFound&) {
                 continue;
               }
               spaces[py::str(sp->name())] = sd;
             }
             py::dict d;
             d["spaces"] = spaces;
             d["simd"] = simd::level_name(simd::active_level());
             return d;
           })
      .def("clock_now", [](Engine& e) { return e.clock().now(); })
      .def("clock_set", [](Engine& e, double t) { e.clock().set(t); })
      .def("clock_advance", [](Engine& e, double dt) { e.clock().advance(dt); })
      .def("clock_use_system", [](Engine& e) { e.clock().use_system(); })
      .def("clock_is_manual", [](Engine& e) { return e.clock().is_manual(); });

  engram::register_graph(m);
  engram::register_recall(m);
  engram::register_durability(m);
}
